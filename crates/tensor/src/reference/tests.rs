//! Gradient checks of every reference op (layer (a) of `convlab gradcheck`): central differences
//! in f64, element by element, PyTorch's tolerances, nothing skipped, on random shapes (odd
//! sizes, strides 1-3, both paddings, windows larger than their stride). A last test plants a bug
//! in a backward and shows the check catches it.

use proptest::prelude::*;

use super::numerical::{check_gradient, project, Comparison, Tolerance};
use super::*;
use crate::conv2d::{Conv2dGeometry, Padding};
use crate::pool2d::Pool2dGeometry;
use crate::rng::Rng;

/// Uniform values in [-1, 1) from a seed.
fn random(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.uniform() as f64 * 2.0 - 1.0).collect()
}

/// `len` values at least 0.01 apart in a random order: every max is far (>> eps) from a tie.
fn distinct(len: usize, seed: u64) -> Vec<f64> {
    let mut values: Vec<f64> = (0..len).map(|i| i as f64 * 0.01 - 1.0).collect();
    Rng::new(seed).shuffle(&mut values);
    values
}

#[track_caller]
fn assert_passes(what: &str, c: &Comparison) {
    assert!(c.passed(), "{what}: {c:?}");
}

fn padding() -> impl Strategy<Value = Padding> {
    prop_oneof![Just(Padding::Valid), Just(Padding::Same)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn conv2d_gradients_match_central_differences(
        n in 1usize..3, h in 1usize..8, w in 1usize..8, c in 1usize..4, kh in 1usize..4,
        kw in 1usize..4, co in 1usize..4, sh in 1usize..4, sw in 1usize..4, pad in padding(),
        seed in 0u64..1000,
    ) {
        let g = Conv2dGeometry::new(&[n, h, w, c], &[kh, kw, c, co], (sh, sw), pad);
        prop_assume!(g.is_ok());
        let g = g.unwrap();
        let x = random(n * h * w * c, seed);
        let k = random(kh * kw * c * co, seed + 1);
        let b = random(co, seed + 2);
        let r = random(n * g.ho * g.wo * co, seed + 3);
        let tol = Tolerance::default();
        let dx = conv2d_backward_x(&g, &k, &r);
        let by_x = |x: &[f64]| project(&r, &conv2d_forward(&g, x, &k, Some(&b)));
        assert_passes("dx", &check_gradient(by_x, &x, &dx, tol));
        let dw = conv2d_backward_w(&g, &x, &r);
        let by_w = |k: &[f64]| project(&r, &conv2d_forward(&g, &x, k, Some(&b)));
        assert_passes("dw", &check_gradient(by_w, &k, &dw, tol));
        let db = conv2d_backward_b(&g, &r);
        let by_b = |b: &[f64]| project(&r, &conv2d_forward(&g, &x, &k, Some(b)));
        assert_passes("db", &check_gradient(by_b, &b, &db, tol));
    }

    #[test]
    fn pooling_gradients_match_central_differences(
        n in 1usize..3, h in 1usize..8, w in 1usize..8, c in 1usize..4, ph in 1usize..4,
        pw in 1usize..4, sh in 1usize..4, sw in 1usize..4, pad in padding(), seed in 0u64..1000,
    ) {
        let g = Pool2dGeometry::new(&[n, h, w, c], (ph, pw), (sh, sw), pad);
        prop_assume!(g.is_ok());
        let g = g.unwrap();
        let x = distinct(n * h * w * c, seed);
        let r = random(n * g.ho * g.wo * c, seed + 1);
        let tol = Tolerance::default();
        let (_, argmax) = max_pool2d_forward(&g, &x);
        let dx = max_pool2d_backward(&g, &argmax, &r);
        let by_x = |x: &[f64]| project(&r, &max_pool2d_forward(&g, x).0);
        assert_passes("max dx", &check_gradient(by_x, &x, &dx, tol));
        let dx = avg_pool2d_backward(&g, &r);
        let by_x = |x: &[f64]| project(&r, &avg_pool2d_forward(&g, x));
        assert_passes("avg dx", &check_gradient(by_x, &x, &dx, tol));
    }

    #[test]
    fn dense_gradients_match_central_differences(
        n in 1usize..5, k in 1usize..7, m in 1usize..6, seed in 0u64..1000,
    ) {
        let dims = [n, k, m];
        let (x, w, b) = (random(n * k, seed), random(k * m, seed + 1), random(m, seed + 2));
        let r = random(n * m, seed + 3);
        let tol = Tolerance::default();
        let by_x = |x: &[f64]| project(&r, &dense_forward(x, &w, Some(&b), dims));
        assert_passes("dx", &check_gradient(by_x, &x, &dense_backward_x(&w, &r, dims), tol));
        let by_w = |w: &[f64]| project(&r, &dense_forward(&x, w, Some(&b), dims));
        assert_passes("dw", &check_gradient(by_w, &w, &dense_backward_w(&x, &r, dims), tol));
        let by_b = |b: &[f64]| project(&r, &dense_forward(&x, &w, Some(b), dims));
        assert_passes("db", &check_gradient(by_b, &b, &dense_backward_b(&r, dims), tol));
    }

    #[test]
    fn activation_loss_and_dropout_gradients_match_central_differences(
        rows in 1usize..5, cols in 1usize..7, seed in 0u64..1000,
    ) {
        let tol = Tolerance::default();
        let len = rows * cols;
        let r = random(len, seed + 1);
        // ReLU away from its kink at 0.
        let x: Vec<f64> = random(len, seed)
            .into_iter()
            .map(|v| if v.abs() < 1e-3 { 0.5 } else { v })
            .collect();
        let by_x = |x: &[f64]| project(&r, &relu_forward(x));
        assert_passes("relu", &check_gradient(by_x, &x, &relu_backward(&x, &r), tol));

        let y = softmax_forward(&x, cols);
        let by_x = |x: &[f64]| project(&r, &softmax_forward(x, cols));
        let dx = softmax_backward(&y, &r, cols);
        assert_passes("softmax", &check_gradient(by_x, &x, &dx, tol));

        let labels: Vec<usize> = (0..rows).map(|i| (i * 7 + seed as usize) % cols).collect();
        let loss = |p: &[f64]| sparse_categorical_crossentropy_forward(p, &labels, cols);
        let dp = sparse_categorical_crossentropy_backward(&y, &labels, cols);
        assert_passes("scce", &check_gradient(loss, &y, &dp, tol));
        let fused = |z: &[f64]| {
            sparse_categorical_crossentropy_forward(&softmax_forward(z, cols), &labels, cols)
        };
        let dz = softmax_cross_entropy_backward(&y, &labels, cols);
        assert_passes("softmax + scce", &check_gradient(fused, &x, &dz, tol));

        let keep = 1.0 / (1.0 - 0.4);
        let mask: Vec<f64> = random(len, seed + 2)
            .into_iter()
            .map(|v| if v < -0.2 { 0.0 } else { keep })
            .collect();
        let by_x = |x: &[f64]| project(&r, &dropout_forward(x, &mask));
        let dx = dropout_backward(&mask, &r);
        assert_passes("dropout", &check_gradient(by_x, &x, &dx, tol));
    }
}

/// A hand-computed case: the chapter's 4x4 input, a 3x3 kernel and `same` padding keep 4x4.
#[test]
fn conv2d_forward_gives_the_hand_computed_map() {
    let g = Conv2dGeometry::new(&[1, 4, 4, 1], &[3, 3, 1, 1], (1, 1), Padding::Same).unwrap();
    let x: Vec<f64> = (1..=16).map(f64::from).collect();
    let w = vec![1.0; 9];
    // Each output is the sum of its 3x3 neighbourhood: the corner 1+2+5+6, the centre-left
    // 1+2+3+5+6+7+9+10+11.
    let y = conv2d_forward(&g, &x, &w, None);
    assert_eq!(y[0], 14.0);
    assert_eq!(y[5], 54.0);
    assert_eq!(y[15], 11.0 + 12.0 + 15.0 + 16.0);
}

/// The check is worth something only if it fails on a wrong backward: dx shifted by one
/// element, and a dw with one term dropped.
#[test]
fn a_planted_bug_in_a_reference_backward_fails_the_check() {
    let g = Conv2dGeometry::new(&[2, 5, 5, 2], &[3, 3, 2, 3], (2, 2), Padding::Same).unwrap();
    let x = random(2 * 5 * 5 * 2, 1);
    let k = random(3 * 3 * 2 * 3, 2);
    let r = random(2 * g.ho * g.wo * 3, 3);
    let tol = Tolerance::default();
    let mut shifted = conv2d_backward_x(&g, &k, &r);
    shifted.rotate_right(1);
    let by_x = |x: &[f64]| project(&r, &conv2d_forward(&g, x, &k, None));
    let c = check_gradient(by_x, &x, &shifted, tol);
    assert!(!c.passed() && c.failures > 10, "{c:?}");

    let mut dropped = conv2d_backward_w(&g, &x, &r);
    dropped[4] = 0.0;
    let by_w = |k: &[f64]| project(&r, &conv2d_forward(&g, &x, k, None));
    let c = check_gradient(by_w, &k, &dropped, tol);
    assert_eq!(c.failures, 1, "{c:?}");
    assert_eq!(c.worst.map(|w| w.0), Some(4));
}
