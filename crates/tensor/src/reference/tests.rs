//! Gradient checks of every reference op (layer (a) of `convlab gradcheck`): central differences
//! in f64, element by element, PyTorch's tolerances, nothing skipped, on random shapes (odd
//! sizes, strides 1-3, both paddings, windows larger than their stride). A last test plants a bug
//! in a backward and shows the check catches it.

use proptest::prelude::*;

use super::checks::{self, random};
use super::numerical::{check_gradient, project, Tolerance};
use super::report::CheckResult;
use super::*;
use crate::conv2d::{Conv2dGeometry, Padding};
use crate::pool2d::Pool2dGeometry;

#[track_caller]
fn assert_all_pass(results: &[CheckResult]) {
    for r in results {
        assert!(
            r.passed && r.skipped == 0,
            "{} {}: {r:?}",
            r.check,
            r.shapes
        );
    }
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
        assert_all_pass(&checks::conv2d(&g.unwrap(), seed));
    }

    #[test]
    fn pooling_gradients_match_central_differences(
        n in 1usize..3, h in 1usize..8, w in 1usize..8, c in 1usize..4, ph in 1usize..4,
        pw in 1usize..4, sh in 1usize..4, sw in 1usize..4, pad in padding(), seed in 0u64..1000,
    ) {
        let g = Pool2dGeometry::new(&[n, h, w, c], (ph, pw), (sh, sw), pad);
        prop_assume!(g.is_ok());
        assert_all_pass(&checks::pool2d(&g.unwrap(), seed));
    }

    #[test]
    fn dense_gradients_match_central_differences(
        n in 1usize..5, k in 1usize..7, m in 1usize..6, seed in 0u64..1000,
    ) {
        assert_all_pass(&checks::dense([n, k, m], seed));
    }

    #[test]
    fn activation_loss_and_dropout_gradients_match_central_differences(
        rows in 1usize..5, cols in 1usize..7, seed in 0u64..1000,
    ) {
        assert_all_pass(&checks::activations_and_loss(rows, cols, seed));
    }
}

#[test]
fn the_standard_set_passes() {
    let results = checks::standard(0);
    assert!(results.len() >= 20);
    assert_all_pass(&results);
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
