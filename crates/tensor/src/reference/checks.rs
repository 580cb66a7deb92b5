//! Layer (a) of the checks: each reference op against central differences in f64, element by
//! element with PyTorch's tolerances (`numerical.rs`), nothing skipped. The proptests run these
//! on random shapes; `convlab gradcheck` runs `standard` on a fixed set.

use super::numerical::{check_gradient, project, Comparison, Tolerance};
use super::report::{CheckResult, Layer};
use super::*;
use crate::conv2d::{Conv2dGeometry, Padding};
use crate::pool2d::Pool2dGeometry;
use crate::rng::Rng;

/// Uniform values in [-1, 1) from a seed.
pub fn random(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.uniform() as f64 * 2.0 - 1.0).collect()
}

/// `len` values at least 0.01 apart in a random order: every max is far (>> eps) from a tie.
pub fn distinct(len: usize, seed: u64) -> Vec<f64> {
    let mut values: Vec<f64> = (0..len).map(|i| i as f64 * 0.01 - 1.0).collect();
    Rng::new(seed).shuffle(&mut values);
    values
}

fn result(check: &str, shapes: &str, c: Comparison) -> CheckResult {
    CheckResult {
        check: check.to_string(),
        layer: Layer::ReferenceOp,
        dtype: "f64",
        shapes: shapes.to_string(),
        elements: c.elements,
        skipped: 0,
        max_abs_err: c.max_abs_err,
        max_rel_err: c.max_rel_err,
        worst_ratio: None,
        limit: None,
        passed: c.passed(),
    }
}

/// conv2d's dx, dw and db for geometry `g`.
pub fn conv2d(g: &Conv2dGeometry, seed: u64) -> Vec<CheckResult> {
    let shapes = format!(
        "{:?} * {:?} s({}, {})",
        g.x_shape(),
        g.w_shape(),
        g.sh,
        g.sw
    );
    let x = random(g.x_shape().iter().product(), seed);
    let k = random(g.w_shape().iter().product(), seed + 1);
    let b = random(g.co, seed + 2);
    let r = random(g.y_shape().iter().product(), seed + 3);
    let tol = Tolerance::default();
    let by_x = |x: &[f64]| project(&r, &conv2d_forward(g, x, &k, Some(&b)));
    let by_w = |k: &[f64]| project(&r, &conv2d_forward(g, &x, k, Some(&b)));
    let by_b = |b: &[f64]| project(&r, &conv2d_forward(g, &x, &k, Some(b)));
    vec![
        result(
            "conv2d dx",
            &shapes,
            check_gradient(by_x, &x, &conv2d_backward_x(g, &k, &r), tol),
        ),
        result(
            "conv2d dw",
            &shapes,
            check_gradient(by_w, &k, &conv2d_backward_w(g, &x, &r), tol),
        ),
        result(
            "conv2d db",
            &shapes,
            check_gradient(by_b, &b, &conv2d_backward_b(g, &r), tol),
        ),
    ]
}

/// Max and average pooling's dx for geometry `g` (inputs far from ties).
pub fn pool2d(g: &Pool2dGeometry, seed: u64) -> Vec<CheckResult> {
    let shapes = format!(
        "{:?} pool {}x{} s({}, {})",
        g.x_shape(),
        g.ph,
        g.pw,
        g.sh,
        g.sw
    );
    let x = distinct(g.x_shape().iter().product(), seed);
    let r = random(g.y_shape().iter().product(), seed + 1);
    let tol = Tolerance::default();
    let (_, argmax) = max_pool2d_forward(g, &x);
    let by_max = |x: &[f64]| project(&r, &max_pool2d_forward(g, x).0);
    let by_avg = |x: &[f64]| project(&r, &avg_pool2d_forward(g, x));
    vec![
        result(
            "max_pool2d dx",
            &shapes,
            check_gradient(by_max, &x, &max_pool2d_backward(g, &argmax, &r), tol),
        ),
        result(
            "avg_pool2d dx",
            &shapes,
            check_gradient(by_avg, &x, &avg_pool2d_backward(g, &r), tol),
        ),
    ]
}

/// The dense layer's dx, dw and db for `[n, k, m]`.
pub fn dense(dims: [usize; 3], seed: u64) -> Vec<CheckResult> {
    let [n, k, m] = dims;
    let shapes = format!("[{n}, {k}] * [{k}, {m}]");
    let (x, w, b) = (
        random(n * k, seed),
        random(k * m, seed + 1),
        random(m, seed + 2),
    );
    let r = random(n * m, seed + 3);
    let tol = Tolerance::default();
    let by_x = |x: &[f64]| project(&r, &dense_forward(x, &w, Some(&b), dims));
    let by_w = |w: &[f64]| project(&r, &dense_forward(&x, w, Some(&b), dims));
    let by_b = |b: &[f64]| project(&r, &dense_forward(&x, &w, Some(b), dims));
    vec![
        result(
            "dense dx",
            &shapes,
            check_gradient(by_x, &x, &dense_backward_x(&w, &r, dims), tol),
        ),
        result(
            "dense dw",
            &shapes,
            check_gradient(by_w, &w, &dense_backward_w(&x, &r, dims), tol),
        ),
        result(
            "dense db",
            &shapes,
            check_gradient(by_b, &b, &dense_backward_b(&r, dims), tol),
        ),
    ]
}

/// ReLU (away from its kink), softmax, the loss on probabilities, softmax with the loss, and
/// dropout with a mask, on `rows x cols`.
pub fn activations_and_loss(rows: usize, cols: usize, seed: u64) -> Vec<CheckResult> {
    let shapes = format!("[{rows}, {cols}]");
    let tol = Tolerance::default();
    let len = rows * cols;
    let r = random(len, seed + 1);
    let x: Vec<f64> = random(len, seed)
        .into_iter()
        .map(|v| if v.abs() < 1e-3 { 0.5 } else { v })
        .collect();
    let y = softmax_forward(&x, cols);
    let labels: Vec<usize> = (0..rows).map(|i| (i * 7 + seed as usize) % cols).collect();
    let keep = 1.0 / (1.0 - 0.4);
    let mask: Vec<f64> = random(len, seed + 2)
        .into_iter()
        .map(|v| if v < -0.2 { 0.0 } else { keep })
        .collect();
    let by_relu = |x: &[f64]| project(&r, &relu_forward(x));
    let by_softmax = |x: &[f64]| project(&r, &softmax_forward(x, cols));
    let by_loss = |p: &[f64]| sparse_categorical_crossentropy_forward(p, &labels, cols);
    let by_fused = |z: &[f64]| {
        sparse_categorical_crossentropy_forward(&softmax_forward(z, cols), &labels, cols)
    };
    let by_dropout = |x: &[f64]| project(&r, &dropout_forward(x, &mask));
    vec![
        result(
            "relu dx",
            &shapes,
            check_gradient(by_relu, &x, &relu_backward(&x, &r), tol),
        ),
        result(
            "softmax dx",
            &shapes,
            check_gradient(by_softmax, &x, &softmax_backward(&y, &r, cols), tol),
        ),
        result(
            "sparse_categorical_crossentropy dp",
            &shapes,
            check_gradient(
                by_loss,
                &y,
                &sparse_categorical_crossentropy_backward(&y, &labels, cols),
                tol,
            ),
        ),
        result(
            "softmax + sparse_categorical_crossentropy dz",
            &shapes,
            check_gradient(
                by_fused,
                &x,
                &softmax_cross_entropy_backward(&y, &labels, cols),
                tol,
            ),
        ),
        result(
            "dropout dx",
            &shapes,
            check_gradient(by_dropout, &x, &dropout_backward(&mask, &r), tol),
        ),
    ]
}

/// The fixed set `convlab gradcheck` runs: odd sizes, strides 1 to 3, both paddings, windows
/// larger than their stride.
pub fn standard(seed: u64) -> Vec<CheckResult> {
    let mut results = Vec::new();
    let convs = [
        ([2, 5, 7, 3], [3, 3, 3, 4], 1, Padding::Same),
        ([2, 6, 7, 3], [2, 3, 3, 2], 2, Padding::Valid),
        ([1, 7, 5, 2], [3, 3, 2, 3], 3, Padding::Same),
    ];
    for (x, w, s, pad) in convs {
        let g = Conv2dGeometry::new(&x, &w, (s, s), pad).expect("a valid standard geometry");
        results.extend(conv2d(&g, seed));
    }
    let pools = [
        ([2, 5, 5, 3], (2, 2), (2, 2), Padding::Same),
        ([2, 7, 6, 2], (3, 3), (2, 2), Padding::Valid),
        ([1, 6, 7, 2], (3, 2), (1, 3), Padding::Same),
    ];
    for (x, window, s, pad) in pools {
        let g = Pool2dGeometry::new(&x, window, s, pad).expect("a valid standard geometry");
        results.extend(pool2d(&g, seed));
    }
    results.extend(dense([3, 7, 5], seed));
    results.extend(activations_and_loss(4, 6, seed));
    results
}
