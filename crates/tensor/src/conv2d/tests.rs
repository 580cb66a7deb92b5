//! Convolution tests: hand-computed answers for TensorFlow's asymmetric `same` padding, every
//! algorithm against the f64 reference (`crate::reference`) for forward and backward, and im2col
//! against direct on random shapes.

use proptest::prelude::*;

use super::*;

/// Uniform values in [-1, 1) from a seed, so failures replay exactly.
fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = crate::rng::Rng::new(seed);
    (0..len).map(|_| rng.uniform_range(-1.0, 1.0)).collect()
}

fn tensor(shape: &[usize], seed: u64) -> Tensor {
    Tensor::new(shape, random(shape.iter().product(), seed)).unwrap()
}

/// The definition: the public f64 reference kernels (`crate::reference`) on the same values.
struct Reference {
    y: Vec<f64>,
    dx: Vec<f64>,
    dw: Vec<f64>,
    db: Vec<f64>,
}

fn reference(g: &Conv2dGeometry, x: &[f32], w: &[f32], b: &[f32], dy: &[f32]) -> Reference {
    let wide = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<f64>>();
    let (x, w, b, dy) = (wide(x), wide(w), wide(b), wide(dy));
    Reference {
        y: crate::reference::conv2d_forward(g, &x, &w, Some(&b)),
        dx: crate::reference::conv2d_backward_x(g, &w, &dy),
        dw: crate::reference::conv2d_backward_w(g, &x, &dy),
        db: crate::reference::conv2d_backward_b(g, &dy),
    }
}

/// Asserts max |got - want| <= 1e-4 * max(max |want|, 1). The floor of 1: a sum of a few
/// hundred values in [-1, 1] can cancel to ~0.01 while its f32 rounding error stays ~1e-6 (a
/// bias gradient did, in a random case), and a real bug is off by far more than 1e-4.
fn assert_close(what: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1.0);
    let worst = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).abs())
        .fold(0.0f64, f64::max);
    assert!(
        worst <= 1e-4 * scale,
        "{what}: max abs difference {worst:e} exceeds 1e-4 x {scale:e}"
    );
}

/// Every algorithm against the reference, forward and backward, for one geometry (Winograd on a
/// shape it does not apply to runs im2col).
fn check_against_reference(g: &Conv2dGeometry, seed: u64) {
    let x = tensor(&g.x_shape(), seed);
    let w = tensor(&g.w_shape(), seed + 1);
    let b = tensor(&[g.co], seed + 2);
    let dy = tensor(&g.y_shape(), seed + 3);
    let r = reference(g, x.data(), w.data(), b.data(), dy.data());
    for algorithm in [
        ConvAlgorithm::Im2col,
        ConvAlgorithm::Direct,
        ConvAlgorithm::Winograd,
        ConvAlgorithm::Auto,
        ConvAlgorithm::Reference,
    ] {
        let y = conv2d_forward(g, &x, &w, Some(&b), algorithm);
        assert_eq!(y.shape(), g.y_shape());
        assert_close(&format!("{algorithm:?} y {g:?}"), y.data(), &r.y);
        let grads = conv2d_backward(g, &x, &w, &dy, algorithm, true);
        let dx = grads.dx.expect("asked for dx");
        assert_close(&format!("{algorithm:?} dx {g:?}"), dx.data(), &r.dx);
        let without = conv2d_backward(g, &x, &w, &dy, algorithm, false);
        assert!(without.dx.is_none());
        if algorithm == ConvAlgorithm::Auto {
            // Auto may give a first layer (no dx) another kernel: close, not the same bits.
            assert_close(
                &format!("Auto dw without dx {g:?}"),
                without.dw.data(),
                &r.dw,
            );
            assert_close(
                &format!("Auto db without dx {g:?}"),
                without.db.data(),
                &r.db,
            );
        } else {
            assert_eq!(
                without.dw.data(),
                grads.dw.data(),
                "dw must not depend on need_dx"
            );
        }
        assert_close(&format!("{algorithm:?} dw {g:?}"), grads.dw.data(), &r.dw);
        assert_close(&format!("{algorithm:?} db {g:?}"), grads.db.data(), &r.db);
    }
}

/// Input x[i, j] = i * W + j + 1 (one image, one channel) and an all-ones 3x3 kernel, so each
/// output is the sum of the input cells its window covers. Returns y as rows.
fn ones_kernel_sums(h: usize, w: usize, stride: usize) -> Vec<Vec<f32>> {
    let x = Tensor::new(&[1, h, w, 1], (1..=h * w).map(|v| v as f32).collect()).unwrap();
    let k = Tensor::full(&[3, 3, 1, 1], 1.0);
    let g = Conv2dGeometry::new(x.shape(), k.shape(), (stride, stride), Padding::Same).unwrap();
    let y = conv2d_forward(&g, &x, &k, None, ConvAlgorithm::Im2col);
    let direct = conv2d_forward(&g, &x, &k, None, ConvAlgorithm::Direct);
    assert_eq!(y.data(), direct.data(), "im2col and direct differ");
    y.data().chunks(g.wo).map(|r| r.to_vec()).collect()
}

#[test]
fn same_stride2_even_input_pads_only_bottom_right() {
    // 4x4, k 3, s 2: out 2, total padding (2-1)*2+3-4 = 1 -> 0 on top/left, 1 on bottom/right.
    //  1  2  3  4
    //  5  6  7  8
    //  9 10 11 12
    // 13 14 15 16
    // y[0,0] = rows 0-2 x cols 0-2 = 54; y[0,1] = rows 0-2 x cols 2-3 = 45;
    // y[1,0] = rows 2-3 x cols 0-2 = 72; y[1,1] = rows 2-3 x cols 2-3 = 54.
    // (Symmetric padding, as PyTorch's padding=1 does, would give y[0,0] = 1+2+5+6 = 14.)
    assert_eq!(
        ones_kernel_sums(4, 4, 2),
        vec![vec![54.0, 45.0], vec![72.0, 54.0]]
    );
}

#[test]
fn same_stride2_odd_input_pads_both_sides() {
    // 5x5, k 3, s 2: out 3, total padding (3-1)*2+3-5 = 2 -> 1 on each side.
    // y[0,0] = 1+2+6+7 = 16, y[0,1] = 2+3+4+7+8+9 = 33, y[0,2] = 4+5+9+10 = 28,
    // y[1,1] = 7+8+9+12+13+14+17+18+19 = 117, y[2,2] = 19+20+24+25 = 88.
    let y = ones_kernel_sums(5, 5, 2);
    assert_eq!(y[0], vec![16.0, 33.0, 28.0]);
    assert_eq!(y[1][1], 117.0);
    assert_eq!(y[2][2], 88.0);
}

#[test]
fn same_stride1_keeps_size() {
    let g = Conv2dGeometry::new(&[2, 28, 28, 1], &[3, 3, 1, 32], (1, 1), Padding::Same).unwrap();
    assert_eq!((g.ho, g.wo, g.pad_top, g.pad_left), (28, 28, 1, 1));
    let g = Conv2dGeometry::new(&[2, 7, 6, 1], &[4, 4, 1, 1], (1, 1), Padding::Same).unwrap();
    // Even kernel: total padding 3 -> 1 on top, 2 at the bottom.
    assert_eq!((g.ho, g.wo, g.pad_top), (7, 6, 1));
}

#[test]
fn chapter_layers_agree_with_reference_at_batch_2() {
    for (x, w) in [
        ([2, 28, 28, 1], [3, 3, 1, 32]),
        ([2, 14, 14, 32], [3, 3, 32, 64]),
    ] {
        let g = Conv2dGeometry::new(&x, &w, (1, 1), Padding::Same).unwrap();
        check_against_reference(&g, 11);
    }
}

#[test]
fn winograd_vector_path_with_channel_remainders() {
    // Winograd's transforms run 16 channels at a time, then one by one: C and CO of 17-33 take
    // both paths, on odd sizes and both paddings (the random geometries stop at 9 channels).
    for (x, w, padding) in [
        ([3, 7, 9, 20], [3, 3, 20, 17], Padding::Valid),
        ([2, 9, 8, 33], [3, 3, 33, 18], Padding::Same),
    ] {
        let g = Conv2dGeometry::new(&x, &w, (1, 1), padding).unwrap();
        check_against_reference(&g, 21);
    }
}

#[test]
fn algorithms_agree_at_batch_32_on_the_parallel_paths() {
    // Large enough that the GEMMs split between threads and every rayon path runs.
    let g = Conv2dGeometry::new(&[32, 14, 14, 32], &[3, 3, 32, 64], (1, 1), Padding::Same).unwrap();
    let x = tensor(&g.x_shape(), 5);
    let w = tensor(&g.w_shape(), 6);
    let dy = tensor(&g.y_shape(), 7);
    let a = im2col_forward(&g, &x, &w, None);
    let b = direct_forward(&g, &x, &w, None);
    let ga = im2col_backward(&g, &x, &w, &dy, true);
    let gb = direct_backward(&g, &x, &w, &dy, true);
    let as64 = |t: &Tensor| t.data().iter().map(|&v| v as f64).collect::<Vec<_>>();
    assert_close("y", a.data(), &as64(&b));
    assert_close("dx", ga.dx.unwrap().data(), &as64(&gb.dx.unwrap()));
    assert_close("dw", ga.dw.data(), &as64(&gb.dw));
    assert_close("db", ga.db.data(), &as64(&gb.db));
}

#[test]
fn im2col_gives_the_same_bits_on_one_thread_and_two() {
    // Blocks and the order their partial sums are added depend on the shapes only.
    let g = Conv2dGeometry::new(&[27, 14, 14, 32], &[3, 3, 32, 64], (1, 1), Padding::Same).unwrap();
    let (x, w, b, dy) = (
        tensor(&g.x_shape(), 1),
        tensor(&g.w_shape(), 2),
        tensor(&[g.co], 3),
        tensor(&g.y_shape(), 4),
    );
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let y = im2col_forward(&g, &x, &w, Some(&b));
            let grads = im2col_backward(&g, &x, &w, &dy, true);
            (y, grads.dx.unwrap(), grads.dw, grads.db)
        })
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.0.data(), two.0.data(), "y");
    assert_eq!(one.1.data(), two.1.data(), "dx");
    assert_eq!(one.2.data(), two.2.data(), "dw");
    assert_eq!(one.3.data(), two.3.data(), "db");
}

#[test]
fn bad_geometry_is_an_error_naming_the_problem() {
    let err =
        |x: &[usize], w: &[usize], s, p| Conv2dGeometry::new(x, w, s, p).unwrap_err().to_string();
    assert_eq!(
        err(&[1, 4, 4, 1], &[3, 3, 1, 1], (0, 1), Padding::Same),
        "conv2d: stride along height must be at least 1, got 0"
    );
    assert_eq!(
        err(&[1, 2, 4, 1], &[3, 3, 1, 1], (1, 1), Padding::Valid),
        "conv2d: window 3 is larger than the input 2 along height with valid padding"
    );
    assert_eq!(
        err(&[1, 4, 4, 3], &[3, 3, 2, 1], (1, 1), Padding::Same),
        "conv2d: input has 3 channels but the kernel expects 2"
    );
    assert_eq!(
        err(&[0, 4, 4, 1], &[3, 3, 1, 1], (1, 1), Padding::Same),
        "conv2d: batch is zero (shapes must have no zero-sized dimension)"
    );
    assert_eq!(
        err(&[1, 0, 4, 1], &[3, 3, 1, 1], (1, 1), Padding::Same),
        "conv2d: input height is zero (shapes must have no zero-sized dimension)"
    );
    assert_eq!(
        err(&[1, 4, 4], &[3, 3, 1, 1], (1, 1), Padding::Same),
        "conv2d: expected a 4-d shape, got [1, 4, 4]"
    );
    let huge = usize::MAX / 2;
    assert!(
        err(&[huge, 4, 4, 1], &[3, 3, 1, 1], (1, 1), Padding::Same).contains("overflows usize"),
        "product overflow must be reported"
    );
    assert!(
        err(&[1, 4, 4, 1], &[huge, 3, 1, 1], (3, 1), Padding::Same).contains("overflows usize"),
        "padding overflow must be reported"
    );
}

#[test]
#[should_panic(expected = "conv2d im2col forward: w should have shape [3, 3, 1, 2]")]
fn mismatched_tensors_panic_with_op_and_shapes() {
    let g = Conv2dGeometry::new(&[1, 4, 4, 1], &[3, 3, 1, 2], (1, 1), Padding::Same).unwrap();
    im2col_forward(
        &g,
        &Tensor::zeros(&[1, 4, 4, 1]),
        &Tensor::zeros(&[3, 3, 1, 1]),
        None,
    );
}

/// Random geometries in the ranges. A valid-padding kernel larger than the input is not a
/// geometry (it is an error, tested above), so those cases switch to `same` padding.
fn geometries() -> impl Strategy<Value = Conv2dGeometry> {
    (
        // Batches up to 20: im2col cuts a batch into blocks of ceil(n / 8) images, so 9..=20
        // have blocks of 2 or 3 and a shorter last block.
        (1usize..=20, 1usize..=17, 1usize..=17, 1usize..=8),
        (1usize..=5, 1usize..=5, 1usize..=8),
        (1usize..=3, 1usize..=3, any::<bool>()),
    )
        .prop_map(|((n, h, w, c), (kh, kw, co), (sh, sw, same))| {
            let padding = if same || kh > h || kw > w {
                Padding::Same
            } else {
                Padding::Valid
            };
            Conv2dGeometry::new(&[n, h, w, c], &[kh, kw, c, co], (sh, sw), padding).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn im2col_and_direct_match_the_reference(g in geometries(), seed in any::<u64>()) {
        check_against_reference(&g, seed);
    }
}

/// The shapes Winograd F(2x2, 3x3) computes itself: 3x3 kernels at stride 1, odd and even
/// sizes (a tile reaching past the output's edge), both paddings, batches that make several
/// blocks.
fn winograd_geometries() -> impl Strategy<Value = Conv2dGeometry> {
    (
        1usize..=20,
        3usize..=15,
        3usize..=15,
        1usize..=9,
        1usize..=9,
        any::<bool>(),
    )
        .prop_map(|(n, h, w, c, co, same)| {
            let padding = if same { Padding::Same } else { Padding::Valid };
            Conv2dGeometry::new(&[n, h, w, c], &[3, 3, c, co], (1, 1), padding).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn winograd_matches_the_reference(g in winograd_geometries(), seed in any::<u64>()) {
        prop_assert!(winograd_applies(&g));
        check_against_reference(&g, seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// The fused conv + ReLU is exactly the two ops one after the other: same y, same gradients,
    /// bit for bit, for both algorithms.
    #[test]
    fn fused_relu_gives_the_bits_of_conv_then_relu(
        g in prop_oneof![geometries(), winograd_geometries()],
        seed in any::<u64>(),
    ) {
        let (x, w, b) = (tensor(&g.x_shape(), seed), tensor(&g.w_shape(), seed ^ 1), tensor(&[g.co], seed ^ 2));
        let dy = tensor(&g.y_shape(), seed ^ 3);
        for algorithm in [ConvAlgorithm::Im2col, ConvAlgorithm::Direct, ConvAlgorithm::Winograd] {
            let fused = conv2d_relu_forward(&g, &x, &w, Some(&b), algorithm);
            let y = elementwise::relu(&conv2d_forward(&g, &x, &w, Some(&b), algorithm));
            prop_assert_eq!(fused.data(), y.data());
            let got = conv2d_relu_backward(&g, &x, &w, &fused, &dy, algorithm, true);
            let want = conv2d_backward(&g, &x, &w, &elementwise::relu_backward(&y, &dy), algorithm, true);
            let (got_dx, want_dx) = (got.dx.unwrap(), want.dx.unwrap());
            prop_assert_eq!(got_dx.data(), want_dx.data());
            prop_assert_eq!(got.dw.data(), want.dw.data());
            prop_assert_eq!(got.db.data(), want.db.data());
        }
    }
}

/// The same for a dy too large for one chunk of the direct backward's db (512K values, two
/// chunks; vgg_cifar10's first layer has 1M at batch 32): the masked dy and db are made in
/// parallel chunks.
#[test]
fn fused_relu_direct_backward_gives_the_bits_of_relu_then_conv_on_a_large_batch() {
    let g = Conv2dGeometry::new(&[8, 32, 32, 3], &[3, 3, 3, 64], (1, 1), Padding::Same).unwrap();
    let (x, w, b) = (
        tensor(&g.x_shape(), 1),
        tensor(&g.w_shape(), 2),
        tensor(&[g.co], 3),
    );
    let dy = tensor(&g.y_shape(), 4);
    let y = conv2d_relu_forward(&g, &x, &w, Some(&b), ConvAlgorithm::Direct);
    let want = conv2d_backward(
        &g,
        &x,
        &w,
        &elementwise::relu_backward(&y, &dy),
        ConvAlgorithm::Direct,
        false,
    );
    let got = conv2d_relu_backward(&g, &x, &w, &y, &dy, ConvAlgorithm::Direct, false);
    assert!(got.dx.is_none());
    assert_eq!(got.dw.data(), want.dw.data());
    assert_eq!(got.db.data(), want.db.data());
}

/// Geometries whose outputs have 32 or 64 channels: where `window_gemm` runs (with AVX-512 or AVX2),
/// im2col's forward reads the patches straight from a padded frame instead of building them.
fn wide_geometries() -> impl Strategy<Value = Conv2dGeometry> {
    (
        (1usize..=4, 1usize..=13, 1usize..=13, 1usize..=3),
        (1usize..=4, 1usize..=4, prop_oneof![Just(32usize), Just(64)]),
        (1usize..=3, 1usize..=3, any::<bool>()),
    )
        .prop_map(|((n, h, w, c), (kh, kw, co), (sh, sw, same))| {
            let padding = if same || kh > h || kw > w {
                Padding::Same
            } else {
                Padding::Valid
            };
            Conv2dGeometry::new(&[n, h, w, c], &[kh, kw, c, co], (sh, sw), padding).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn im2col_with_wide_outputs_matches_the_reference(g in wide_geometries(), seed in any::<u64>()) {
        check_against_reference(&g, seed);
    }

    /// Reading the windows from the padded frame gives the bits of building the patch matrix,
    /// with and without the bias and the fused ReLU.
    #[test]
    fn windows_forward_gives_the_bits_of_patches_forward(
        g in wide_geometries(),
        seed in any::<u64>(),
        relu in any::<bool>(),
        bias in any::<bool>(),
    ) {
        if !crate::gemm::window_gemm_runs(g.co) {
            // A CPU (or build) without AVX2 has no window GEMM: the plan must not choose it.
            let kernel = crate::plan::forward_kernel(&g, ConvAlgorithm::Im2col);
            prop_assert_eq!(kernel, crate::plan::ConvKernel::Im2colPatches);
            return Ok(());
        }
        let (x, w, b) = (tensor(&g.x_shape(), seed), tensor(&g.w_shape(), seed ^ 1), tensor(&[g.co], seed ^ 2));
        let b = bias.then_some(&b);
        let mut from_windows = vec![f32::NAN; g.n * g.ho * g.wo * g.co];
        im2col::windows_forward(&g, &x, &w, b, relu, 0, &mut from_windows);
        let mut from_patches = vec![f32::NAN; from_windows.len()];
        im2col::patches_forward(&g, &x, &w, b, relu, 0, &mut from_patches);
        prop_assert_eq!(
            from_windows.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            from_patches.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}
