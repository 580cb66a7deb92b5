//! Layer (b) of the checks: every fast kernel, and every fused op training runs, against the
//! reference on the same inputs, forward and every gradient, compared directly (no finite
//! differences: the reference is the definition).
//!
//! How close is close enough: a sum of K terms computed in f32 is off by at most about
//! `K · u · Σ|terms|` (u = 2⁻²⁴, the unit roundoff; Higham, "Accuracy and Stability of Numerical
//! Algorithms", §3.1), whatever order it is summed in. So every output element gets its own bound
//! from the magnitude of its sum, which the reference computes by running on |x| and |w|, and the
//! check reports the worst error as a multiple of that bound (`worst_ratio`). Plain sums (im2col,
//! direct) stay far below 1. Winograd's transforms add and subtract input values of the whole
//! 4x4 tile before its products and the products' sums after them, so one output's error
//! follows the tile's magnitudes, not its own sum's: Winograd is held to a norm-wise bound (each
//! element against the largest magnitude of its tensor), a known property of fast convolution
//! algorithms (Lavin and Gray, 2016), with a larger multiple (`WINOGRAD_LIMIT`).
//!
//! ReLU and max pooling are not sums: their output is exact given their input. Their gradients
//! route each dy by a mask or a winner, which the fast op computed from its own (rounded)
//! values; the reference backward is given the fast op's routing, so the check measures the
//! arithmetic and not a tie broken by a rounding difference. The routing itself is compared
//! separately: the fast argmax must equal the reference's on inputs without near-ties.

use super::report::{CheckResult, Layer};
use super::{
    conv2d_backward_b, conv2d_backward_w, conv2d_backward_x, conv2d_forward, max_pool2d_backward,
    max_pool2d_forward, relu_forward,
};
use crate::conv2d::{
    conv2d_backward, conv2d_forward as fast_forward, conv2d_relu_backward, conv2d_relu_forward,
    Conv2dGeometry, Conv2dGrads, ConvAlgorithm,
};
use crate::conv_relu_pool::{conv2d_relu_max_pool2d_backward, conv2d_relu_max_pool2d_forward};
use crate::pool2d::{self, Pool2dGeometry};
use crate::Tensor;

/// f32's unit roundoff, 2⁻²⁴.
pub const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;
/// The bound for plain sums: the classical worst case itself.
pub const SUM_LIMIT: f64 = 1.0;
/// The norm-wise bound for Winograd F(2x2, 3x3): sixteen transform terms on each side of the
/// products.
pub const WINOGRAD_LIMIT: f64 = 16.0;

/// How the bound of one element is formed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// `terms · u · magnitude[i]` for element i, and the worst ratio must stay at most `limit`.
    Elementwise { limit: f64 },
    /// `terms · u · max(magnitude)`: every element against its tensor's largest sum.
    Normwise { limit: f64 },
}

/// Compares `fast` with `reference` element by element against `bound`.
pub fn agreement(
    check: String,
    shapes: &str,
    fast: &[f32],
    reference: &[f64],
    magnitude: &[f64],
    terms: usize,
    bound: Bound,
) -> CheckResult {
    assert!(
        fast.len() == reference.len() && reference.len() == magnitude.len(),
        "agreement {check}: {} fast, {} reference, {} magnitude values",
        fast.len(),
        reference.len(),
        magnitude.len()
    );
    let (limit, largest) = match bound {
        Bound::Elementwise { limit } => (limit, None),
        Bound::Normwise { limit } => (limit, Some(magnitude.iter().copied().fold(0.0, f64::max))),
    };
    let (mut max_abs, mut max_rel, mut worst) = (0.0f64, 0.0f64, 0.0f64);
    for ((&f, &r), &m) in fast.iter().zip(reference).zip(magnitude) {
        let err = (f as f64 - r).abs();
        max_abs = max_abs.max(err);
        max_rel = max_rel.max(err / r.abs().max(1e-30));
        // The smallest normal f32 keeps an exact zero sum (all terms zero) from dividing by 0.
        let scale = terms.max(1) as f64 * UNIT_ROUNDOFF * largest.unwrap_or(m);
        let ratio = err / (scale + f32::MIN_POSITIVE as f64);
        worst = if err.is_nan() {
            f64::INFINITY
        } else {
            worst.max(ratio)
        };
    }
    CheckResult {
        check,
        layer: Layer::FastKernel,
        dtype: "f32",
        shapes: shapes.to_string(),
        elements: fast.len(),
        skipped: 0,
        max_abs_err: max_abs,
        max_rel_err: max_rel,
        worst_ratio: Some(worst),
        limit: Some(limit),
        passed: worst <= limit,
    }
}

/// The fast op's winners against the reference's, exactly (ties broken the same way).
fn argmax_agreement(check: String, shapes: &str, fast: &[u32], reference: &[usize]) -> CheckResult {
    let differing = fast
        .iter()
        .zip(reference)
        .filter(|(&a, &b)| a as usize != b)
        .count();
    CheckResult {
        check,
        layer: Layer::FastKernel,
        dtype: "u32",
        shapes: shapes.to_string(),
        elements: reference.len(),
        skipped: 0,
        max_abs_err: differing as f64,
        max_rel_err: differing as f64 / reference.len().max(1) as f64,
        worst_ratio: None,
        limit: None,
        passed: differing == 0,
    }
}

fn wide(t: &Tensor) -> Vec<f64> {
    t.data().iter().map(|&v| v as f64).collect()
}

fn abs(v: &[f64]) -> Vec<f64> {
    v.iter().map(|v| v.abs()).collect()
}

/// The inputs of one convolution check, in f32 as the fast kernels take them and in f64.
pub struct ConvCase<'a> {
    pub g: &'a Conv2dGeometry,
    pub x: &'a Tensor,
    pub w: &'a Tensor,
    pub b: &'a Tensor,
    /// The upstream gradient, shaped like the op's output (the convolution's, or the pooling's).
    pub dy: &'a Tensor,
}

/// `[2, 5, 5, 3] * [3, 3, 3, 4] s(1, 1) Same`.
pub fn conv_shapes(g: &Conv2dGeometry) -> String {
    format!(
        "{:?} * {:?} s({}, {})",
        g.x_shape(),
        g.w_shape(),
        g.sh,
        g.sw
    )
}

/// dy where the fast forward's output is positive, 0 elsewhere: ReLU's mask as the fast op saw it.
fn relu_routed(y: &Tensor, dy: &Tensor) -> Vec<f64> {
    y.data()
        .iter()
        .zip(dy.data())
        .map(|(&y, &d)| if y > 0.0 { d as f64 } else { 0.0 })
        .collect()
}

/// The fast op's dx, dw and db against the reference convolution's gradients for `dy` (already
/// through any ReLU mask and unpooling), each against the rounding bound of its own sums.
fn gradient_agreement(
    op: &str,
    shapes: &str,
    g: &Conv2dGeometry,
    (x, w, dy): (&[f64], &[f64], &[f64]),
    fast: Conv2dGrads,
    bound: Bound,
) -> Vec<CheckResult> {
    let (ax, aw, ady) = (abs(x), abs(w), abs(dy));
    let positions = g.n * g.ho * g.wo;
    let dx = fast.dx.expect("dx was asked for");
    [
        (
            "dx",
            dx,
            conv2d_backward_x(g, w, dy),
            conv2d_backward_x(g, &aw, &ady),
            g.kh * g.kw * g.co,
        ),
        (
            "dw",
            fast.dw,
            conv2d_backward_w(g, x, dy),
            conv2d_backward_w(g, &ax, &ady),
            positions,
        ),
        (
            "db",
            fast.db,
            conv2d_backward_b(g, dy),
            conv2d_backward_b(g, &ady),
            positions,
        ),
    ]
    .into_iter()
    .map(|(what, got, want, mag, terms)| {
        agreement(
            format!("{op} {what}"),
            shapes,
            got.data(),
            &want,
            &mag,
            terms,
            bound,
        )
    })
    .collect()
}

fn limit_for(algorithm: ConvAlgorithm) -> Bound {
    if algorithm == ConvAlgorithm::Winograd {
        Bound::Normwise {
            limit: WINOGRAD_LIMIT,
        }
    } else {
        Bound::Elementwise { limit: SUM_LIMIT }
    }
}

/// What runs each pass of `algorithm` on `g` (the two may differ under `Auto`): the names the
/// checks carry and the bounds they are held to.
struct Passes {
    forward: &'static str,
    backward: &'static str,
    forward_limit: Bound,
    backward_limit: Bound,
}

fn passes(algorithm: ConvAlgorithm, g: &Conv2dGeometry) -> Passes {
    let (forward, backward) = (
        algorithm.resolve_forward(g),
        algorithm.resolve_backward(g, true),
    );
    Passes {
        forward: forward.name(),
        backward: backward.name(),
        forward_limit: limit_for(forward),
        backward_limit: limit_for(backward),
    }
}

/// The convolution by `algorithm` against the reference: y, dx, dw, db.
pub fn conv2d_agreement(case: &ConvCase, algorithm: ConvAlgorithm) -> Vec<CheckResult> {
    let ConvCase { g, x, w, b, dy } = *case;
    let shapes = conv_shapes(g);
    let run = passes(algorithm, g);
    let (x64, w64, b64, dy64) = (wide(x), wide(w), wide(b), wide(dy));
    let y = fast_forward(g, x, w, Some(b), algorithm);
    let y_ref = conv2d_forward(g, &x64, &w64, Some(&b64));
    let y_mag = conv2d_forward(g, &abs(&x64), &abs(&w64), Some(&abs(&b64)));
    let terms = g.kh * g.kw * g.c + 1;
    let mut results = vec![agreement(
        format!("{} conv2d y", run.forward),
        &shapes,
        y.data(),
        &y_ref,
        &y_mag,
        terms,
        run.forward_limit,
    )];
    let grads = conv2d_backward(g, x, w, dy, algorithm, true);
    results.extend(gradient_agreement(
        &format!("{} conv2d", run.backward),
        &shapes,
        g,
        (&x64, &w64, &dy64),
        grads,
        run.backward_limit,
    ));
    results
}

/// Conv2D with ReLU fused (`conv2d_relu_forward` / `_backward`) against the reference.
pub fn conv2d_relu_agreement(case: &ConvCase, algorithm: ConvAlgorithm) -> Vec<CheckResult> {
    let ConvCase { g, x, w, b, dy } = *case;
    let shapes = conv_shapes(g);
    let run = passes(algorithm, g);
    let (x64, w64, b64) = (wide(x), wide(w), wide(b));
    let y = conv2d_relu_forward(g, x, w, Some(b), algorithm);
    let y_ref = relu_forward(&conv2d_forward(g, &x64, &w64, Some(&b64)));
    let y_mag = conv2d_forward(g, &abs(&x64), &abs(&w64), Some(&abs(&b64)));
    let terms = g.kh * g.kw * g.c + 1;
    let mut results = vec![agreement(
        format!("{} conv2d+relu y", run.forward),
        &shapes,
        y.data(),
        &y_ref,
        &y_mag,
        terms,
        run.forward_limit,
    )];
    // ReLU's mask as the fast forward saw it.
    let masked = relu_routed(&y, dy);
    let grads = conv2d_relu_backward(g, x, w, &y, dy, algorithm, true);
    results.extend(gradient_agreement(
        &format!("{} conv2d+relu", run.backward),
        &shapes,
        g,
        (&x64, &w64, &masked),
        grads,
        run.backward_limit,
    ));
    results
}

/// Conv2D + ReLU + MaxPooling2D as the one op training runs (in chunks, or pooled inside the
/// Winograd tiles) against the reference: the pooled y, the argmax, dx, dw, db.
pub fn conv2d_relu_max_pool2d_agreement(
    case: &ConvCase,
    pool: &Pool2dGeometry,
    algorithm: ConvAlgorithm,
) -> Vec<CheckResult> {
    let ConvCase { g, x, w, b, dy } = *case;
    let shapes = format!(
        "{} pool {}x{} s{}",
        conv_shapes(g),
        pool.ph,
        pool.pw,
        pool.sh
    );
    let run = passes(algorithm, g);
    let (x64, w64, b64) = (wide(x), wide(w), wide(b));
    let out = conv2d_relu_max_pool2d_forward(g, pool, x, w, Some(b), algorithm, true);
    let z = relu_forward(&conv2d_forward(g, &x64, &w64, Some(&b64)));
    let (y_ref, argmax_ref) = max_pool2d_forward(pool, &z);
    // The winner's sum has a magnitude no larger than its window's largest.
    let z_mag = conv2d_forward(g, &abs(&x64), &abs(&w64), Some(&abs(&b64)));
    let (y_mag, _) = max_pool2d_forward(pool, &z_mag);
    let terms = g.kh * g.kw * g.c + 1;
    let mut results = vec![agreement(
        format!("{} conv2d+relu+max_pool2d y", run.forward),
        &shapes,
        out.y.data(),
        &y_ref,
        &y_mag,
        terms,
        run.forward_limit,
    )];
    results.push(argmax_agreement(
        format!("{} conv2d+relu+max_pool2d argmax", run.forward),
        &shapes,
        &out.argmax,
        &argmax_ref,
    ));
    // The reference backward, routed by the fast op's argmax and mask: unpool, then ReLU.
    let argmax: Vec<usize> = out.argmax.iter().map(|&a| a as usize).collect();
    let routed = relu_routed(&out.y, dy);
    let dz = max_pool2d_backward(pool, &argmax, &routed);
    let grads =
        conv2d_relu_max_pool2d_backward(g, pool, x, w, &out.y, &out.argmax, dy, algorithm, true);
    results.extend(gradient_agreement(
        &format!("{} conv2d+relu+max_pool2d", run.backward),
        &shapes,
        g,
        (&x64, &w64, &dz),
        grads,
        run.backward_limit,
    ));
    results
}

/// Max and average pooling against the reference: values, argmax (ties included: both take
/// the first maximum in window order) and dx.
pub fn pool2d_agreement(g: &Pool2dGeometry, x: &Tensor, dy: &Tensor) -> Vec<CheckResult> {
    let shapes = format!(
        "{:?} pool {}x{} s({}, {})",
        g.x_shape(),
        g.ph,
        g.pw,
        g.sh,
        g.sw
    );
    let (x64, dy64) = (wide(x), wide(dy));
    let window = g.ph * g.pw;
    let out = pool2d::max_pool2d_forward(g, x);
    let (y_ref, argmax_ref) = max_pool2d_forward(g, &x64);
    let exact = vec![0.0; y_ref.len()];
    let mut results = vec![agreement(
        "max_pool2d y".into(),
        &shapes,
        out.y.data(),
        &y_ref,
        &exact,
        1,
        Bound::Elementwise { limit: SUM_LIMIT },
    )];
    results.push(argmax_agreement(
        "max_pool2d argmax".into(),
        &shapes,
        &out.argmax,
        &argmax_ref,
    ));
    let dx = pool2d::max_pool2d_backward(g, &out.argmax, dy);
    let dx_ref = max_pool2d_backward(g, &argmax_ref, &dy64);
    let dx_mag = max_pool2d_backward(g, &argmax_ref, &abs(&dy64));
    // Overlapping windows add several gradients into one input.
    let overlap = g.ph.div_ceil(g.sh) * g.pw.div_ceil(g.sw);
    results.push(agreement(
        "max_pool2d dx".into(),
        &shapes,
        dx.data(),
        &dx_ref,
        &dx_mag,
        overlap,
        Bound::Elementwise { limit: SUM_LIMIT },
    ));
    let y = pool2d::avg_pool2d_forward(g, x);
    let y_ref = super::avg_pool2d_forward(g, &x64);
    let y_mag = super::avg_pool2d_forward(g, &abs(&x64));
    results.push(agreement(
        "avg_pool2d y".into(),
        &shapes,
        y.data(),
        &y_ref,
        &y_mag,
        window + 1,
        Bound::Elementwise { limit: SUM_LIMIT },
    ));
    let dx = pool2d::avg_pool2d_backward(g, dy);
    let dx_ref = super::avg_pool2d_backward(g, &dy64);
    let dx_mag = super::avg_pool2d_backward(g, &abs(&dy64));
    results.push(agreement(
        "avg_pool2d dx".into(),
        &shapes,
        dx.data(),
        &dx_ref,
        &dx_mag,
        overlap + 1,
        Bound::Elementwise { limit: SUM_LIMIT },
    ));
    results
}

/// The algorithms layer (b) checks.
pub const ALGORITHMS: [ConvAlgorithm; 5] = [
    ConvAlgorithm::Im2col,
    ConvAlgorithm::Direct,
    ConvAlgorithm::Winograd,
    ConvAlgorithm::Auto,
    ConvAlgorithm::Reference,
];

/// Uniform f32 values in [-1, 1) from a seed.
pub fn random_tensor(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = crate::rng::Rng::new(seed);
    let len = shape.iter().product();
    Tensor::from_vec(
        "agreement input",
        shape,
        (0..len).map(|_| rng.uniform_range(-1.0, 1.0)).collect(),
    )
}

/// Every check of one convolution geometry: each algorithm plain, with ReLU, and with ReLU and
/// a 2x2 max pooling (where one fits its output).
pub fn conv_checks(g: &Conv2dGeometry, seed: u64) -> Vec<CheckResult> {
    let (x, w) = (
        random_tensor(&g.x_shape(), seed),
        random_tensor(&g.w_shape(), seed + 1),
    );
    let (b, dy) = (
        random_tensor(&[g.co], seed + 2),
        random_tensor(&g.y_shape(), seed + 3),
    );
    let case = ConvCase {
        g,
        x: &x,
        w: &w,
        b: &b,
        dy: &dy,
    };
    let mut results = Vec::new();
    for algorithm in ALGORITHMS {
        results.extend(conv2d_agreement(&case, algorithm));
        results.extend(conv2d_relu_agreement(&case, algorithm));
        let pool = Pool2dGeometry::new(&g.y_shape(), (2, 2), (2, 2), crate::Padding::Valid);
        if let Ok(pool) = pool {
            let dy = random_tensor(&pool.y_shape(), seed + 4);
            let case = ConvCase { dy: &dy, ..case };
            results.extend(conv2d_relu_max_pool2d_agreement(&case, &pool, algorithm));
        }
    }
    results
}

/// Pooling with values in steps of 0.25, so that many windows hold ties.
pub fn pool_checks(g: &Pool2dGeometry, seed: u64) -> Vec<CheckResult> {
    let mut x = random_tensor(&g.x_shape(), seed);
    x.data_mut()
        .iter_mut()
        .for_each(|v| *v = (*v * 4.0).round() / 4.0);
    let dy = random_tensor(&g.y_shape(), seed + 1);
    pool2d_agreement(g, &x, &dy)
}

/// The fixed set `convlab gradcheck` runs: the chapter's two layers at batch 2 (as training
/// runs them, fused with their pooling), and shapes whose channel counts (1, 3, 17, 33) reach
/// the vector kernels' remainders, at strides 1 and 2 with both paddings.
pub fn standard(seed: u64) -> Vec<CheckResult> {
    use crate::Padding::{Same, Valid};
    let convs = [
        ([2, 28, 28, 1], [3, 3, 1, 32], 1, Same),
        ([2, 14, 14, 32], [3, 3, 32, 64], 1, Same),
        ([2, 9, 7, 3], [3, 3, 3, 17], 1, Same),
        ([2, 8, 9, 17], [3, 3, 17, 33], 1, Valid),
        ([1, 9, 9, 33], [3, 3, 33, 3], 2, Same),
        ([2, 7, 8, 3], [5, 5, 3, 1], 2, Valid),
    ];
    let mut results = Vec::new();
    for (x, w, s, pad) in convs {
        let g = Conv2dGeometry::new(&x, &w, (s, s), pad).expect("a valid standard geometry");
        results.extend(conv_checks(&g, seed));
    }
    for (x, window, s, pad) in [
        ([2, 28, 28, 32], (2, 2), (2, 2), Valid),
        ([2, 7, 7, 17], (3, 3), (2, 2), Same),
    ] {
        let g = Pool2dGeometry::new(&x, window, s, pad).expect("a valid standard geometry");
        results.extend(pool_checks(&g, seed));
    }
    results
}
