//! Layer (b): every algorithm and fused op against the reference on random shapes, with channel
//! counts that reach the vector kernels' remainders (1, 3, 17, 33) and the chapter's layers.

use proptest::prelude::*;

use super::agreement::{
    conv2d_agreement, conv_checks, pool_checks, random_tensor as tensor, ConvCase,
};
use super::report::CheckResult;
use crate::conv2d::{Conv2dGeometry, ConvAlgorithm, Padding};
use crate::pool2d::Pool2dGeometry;

#[track_caller]
fn assert_all_pass(results: &[CheckResult]) {
    for r in results {
        assert!(r.passed, "{} {}: {r:?}", r.check, r.shapes);
    }
}

fn channels() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(3), Just(17), Just(33)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_algorithm_and_fused_op_agrees_with_the_reference(
        n in 1usize..3, h in 2usize..10, w in 2usize..10, c in channels(), k in 1usize..4,
        co in channels(), s in 1usize..4, same in any::<bool>(), seed in 0u64..1000,
    ) {
        let pad = if same { Padding::Same } else { Padding::Valid };
        let g = Conv2dGeometry::new(&[n, h, w, c], &[k, k, c, co], (s, s), pad);
        prop_assume!(g.is_ok());
        assert_all_pass(&conv_checks(&g.unwrap(), seed));
    }

    #[test]
    fn pooling_agrees_with_the_reference_ties_included(
        n in 1usize..3, h in 1usize..9, w in 1usize..9, c in channels(), ph in 1usize..4,
        pw in 1usize..4, sh in 1usize..4, sw in 1usize..4, same in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let pad = if same { Padding::Same } else { Padding::Valid };
        let g = Pool2dGeometry::new(&[n, h, w, c], (ph, pw), (sh, sw), pad);
        prop_assume!(g.is_ok());
        let g = g.unwrap();
        // Values in steps of 0.25: many windows hold ties, which both break the same way.
        assert_all_pass(&pool_checks(&g, seed));
    }
}

/// The chapter's two layers at batch 4, with their fused pooling; prints the worst ratios.
#[test]
fn the_standard_set_passes() {
    assert_all_pass(&super::agreement::standard(3));
}

#[test]
fn the_chapters_layers_agree_with_the_reference() {
    for (x, w) in [
        ([4, 28, 28, 1], [3, 3, 1, 32]),
        ([4, 14, 14, 32], [3, 3, 32, 64]),
    ] {
        let g = Conv2dGeometry::new(&x, &w, (1, 1), Padding::Same).unwrap();
        let results = conv_checks(&g, 5);
        for r in &results {
            println!(
                "{:<44} {:<34} worst {:.3} of {:?}",
                r.check,
                r.shapes,
                r.worst_ratio.unwrap_or(0.0),
                r.limit
            );
        }
        assert_all_pass(&results);
    }
}

/// A fast kernel with a dropped term fails: dw off in one element by one product's worth.
#[test]
fn a_dropped_term_in_a_fast_result_fails_the_check() {
    let g = Conv2dGeometry::new(&[2, 6, 6, 3], &[3, 3, 3, 4], (1, 1), Padding::Same).unwrap();
    let (x, w) = (tensor(&g.x_shape(), 1), tensor(&g.w_shape(), 2));
    let (b, dy) = (tensor(&[4], 3), tensor(&g.y_shape(), 4));
    let case = ConvCase {
        g: &g,
        x: &x,
        w: &w,
        b: &b,
        dy: &dy,
    };
    let good = conv2d_agreement(&case, ConvAlgorithm::Im2col);
    assert!(good.iter().all(|r| r.passed));
    // The same comparison with one product of dw[0] left out of the fast result.
    let grads = crate::conv2d::conv2d_backward(&g, &x, &w, &dy, ConvAlgorithm::Im2col, false);
    let mut dw = grads.dw.data().to_vec();
    dw[0] -= x.data()[0] * dy.data()[0] * 0.5;
    let x64: Vec<f64> = x.data().iter().map(|&v| v as f64).collect();
    let dy64: Vec<f64> = dy.data().iter().map(|&v| v as f64).collect();
    let want = super::conv2d_backward_w(&g, &x64, &dy64);
    let abs = |v: &[f64]| v.iter().map(|v| v.abs()).collect::<Vec<_>>();
    let mag = super::conv2d_backward_w(&g, &abs(&x64), &abs(&dy64));
    let bound = super::agreement::Bound::Elementwise { limit: 1.0 };
    let r = super::agreement::agreement("dw".into(), "", &dw, &want, &mag, 72, bound);
    assert!(!r.passed, "{r:?}");
}
