//! The direct convolution's kernels on every ISA this CPU has (portable, AVX2, AVX-512), each
//! against the f64 reference (`crate::reference`) on random shapes: channel counts that fill
//! whole blocks and ones that leave a tail (1, 17, 33, 50, 70: on AVX-512 50 is four vectors
//! with a partial last one), kernels up to 5x5 and larger than
//! the input, strides 1-3, both paddings.

use proptest::prelude::*;

use super::*;
use crate::conv2d::Padding;

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = crate::rng::Rng::new(seed);
    (0..len).map(|_| rng.uniform_range(-1.0, 1.0)).collect()
}

fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&v| v as f64).collect()
}

/// max |got - want| <= 1e-5 * Σ-scale: each sum has at most a few thousand terms in [-1, 1].
fn assert_close(what: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= 2e-5 * scale,
            "{what}: element {i}: {g} against the reference's {w}"
        );
    }
}

/// The ISAs to test: the portable loops always, and each vector level the CPU has.
fn isas() -> Vec<Isa> {
    [Isa::Baseline, Isa::Avx2, Isa::Avx512]
        .into_iter()
        .filter(|&isa| isa <= crate::isa::detected())
        .collect()
}

fn check(g: &Conv2dGeometry, seed: u64) {
    let x = random(g.n * g.h * g.w * g.c, seed);
    let w = random(g.kh * g.kw * g.c * g.co, seed ^ 1);
    let b = random(g.co, seed ^ 2);
    let dy = random(g.n * g.ho * g.wo * g.co, seed ^ 3);
    let y_ref = crate::reference::conv2d_forward(g, &wide(&x), &wide(&w), Some(&wide(&b)));
    let relu_ref: Vec<f64> = y_ref.iter().map(|&v| v.max(0.0)).collect();
    let dx_ref = crate::reference::conv2d_backward_x(g, &wide(&w), &wide(&dy));
    let dw_ref = crate::reference::conv2d_backward_w(g, &wide(&x), &wide(&dy));
    for isa in isas() {
        let what = |part: &str| format!("{} {part} {g:?}", isa.name());
        let y = forward_on(isa, g, &x, &w, Some(&b), false);
        assert_close(&what("y"), &y, &y_ref);
        let y_relu = forward_on(isa, g, &x, &w, Some(&b), true);
        assert_close(&what("relu(y)"), &y_relu, &relu_ref);
        let relu_after: Vec<f32> = y.iter().map(|&v| elementwise::relu_value(v)).collect();
        assert_eq!(y_relu, relu_after, "{}: fused ReLU changed bits", what("y"));
        let no_bias = forward_on(isa, g, &x, &w, None, false);
        assert_eq!(no_bias.len(), y.len());
        assert_close(&what("dx"), &input_grad_on(isa, g, &w, &dy), &dx_ref);
        assert_close(&what("dw"), &kernel_grad_on(isa, g, &x, &dy), &dw_ref);
    }
}

fn geometries() -> impl Strategy<Value = Conv2dGeometry> {
    (
        1usize..=3,
        1usize..=11,
        1usize..=11,
        prop::sample::select(vec![1usize, 2, 3, 8, 17, 33, 64]),
        prop::sample::select(vec![1usize, 5, 8, 16, 17, 33, 50, 64, 70]),
        1usize..=5,
        1usize..=5,
        1usize..=3,
        1usize..=3,
        any::<bool>(),
    )
        .prop_filter_map(
            "a valid window must fit the input",
            |(n, h, w, c, co, kh, kw, sh, sw, same)| {
                let padding = if same { Padding::Same } else { Padding::Valid };
                Conv2dGeometry::new(&[n, h, w, c], &[kh, kw, c, co], (sh, sw), padding).ok()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_isa_matches_the_reference(g in geometries(), seed in any::<u64>()) {
        check(&g, seed);
    }
}

#[test]
fn the_chapters_layers_match_the_reference() {
    for (x, w, padding) in [
        ([4, 28, 28, 1], [3, 3, 1, 32], Padding::Valid),
        ([4, 13, 13, 32], [3, 3, 32, 64], Padding::Valid),
        ([3, 14, 14, 32], [3, 3, 32, 64], Padding::Same),
        ([2, 15, 15, 3], [5, 5, 3, 16], Padding::Same),
    ] {
        let g = Conv2dGeometry::new(&x, &w, (1, 1), padding).unwrap();
        check(&g, 7);
    }
    let strided = Conv2dGeometry::new(&[2, 16, 16, 16], &[3, 3, 16, 32], (2, 2), Padding::Same);
    check(&strided.unwrap(), 8);
}

/// Whole numbers: every product and partial sum is exact, so the portable loops and every
/// vector kernel must give the same bits, and so must one thread and many.
#[test]
fn whole_numbers_give_the_same_bits_everywhere() {
    let g = Conv2dGeometry::new(&[3, 9, 10, 19], &[3, 3, 19, 37], (2, 1), Padding::Same).unwrap();
    let whole = |len: usize, seed: u64| -> Vec<f32> {
        random(len, seed)
            .iter()
            .map(|v| (v * 4.0).round())
            .collect()
    };
    let x = whole(g.n * g.h * g.w * g.c, 1);
    let w = whole(g.kh * g.kw * g.c * g.co, 2);
    let dy = whole(g.n * g.ho * g.wo * g.co, 3);
    let want = (
        portable::forward(&g, &x, &w, None),
        portable::input_grad(&g, &w, &dy),
        portable::kernel_grad(&g, &x, &dy),
    );
    for isa in isas() {
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| {
                (
                    forward_on(isa, &g, &x, &w, None, false),
                    input_grad_on(isa, &g, &w, &dy),
                    kernel_grad_on(isa, &g, &x, &dy),
                )
            });
            assert!(got == want, "{} on {threads} threads", isa.name());
        }
    }
}

/// Random values (where summation order shows): the same bits on 1 thread and on 3, and for
/// the first images of a batch alone as within the whole batch (the fused conv + ReLU + pool
/// runs a batch in chunks and promises the bits of the whole).
#[test]
fn order_of_sums_depends_on_neither_threads_nor_batch() {
    let g = Conv2dGeometry::new(&[6, 9, 7, 5], &[3, 3, 5, 21], (1, 1), Padding::Same).unwrap();
    let x = random(g.n * g.h * g.w * g.c, 11);
    let w = random(g.kh * g.kw * g.c * g.co, 12);
    let dy = random(g.n * g.ho * g.wo * g.co, 13);
    let first_two = Conv2dGeometry { n: 2, ..g };
    for isa in isas() {
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                (
                    forward_on(isa, &g, &x, &w, None, true),
                    input_grad_on(isa, &g, &w, &dy),
                    kernel_grad_on(isa, &g, &x, &dy),
                )
            })
        };
        let (one, three) = (on(1), on(3));
        assert!(one == three, "{}: threads changed bits", isa.name());
        let part = forward_on(isa, &first_two, &x[..2 * 9 * 7 * 5], &w, None, true);
        assert_eq!(
            part[..],
            one.0[..part.len()],
            "{}: a chunk changed bits",
            isa.name()
        );
    }
}
