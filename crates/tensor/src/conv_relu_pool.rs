//! Convolution, ReLU and max pooling as one op: the chapter's `Conv2D(activation="relu")`
//! followed by `MaxPooling2D`.
//!
//! ```text
//! y = max_pool2d(relu(conv2d(x, w) + b))
//! ```
//! Shapes: x (N, H, W, C), w (KH, KW, C, CO), b (CO), as in `conv2d`; the convolution's output
//! (N, HO, WO, CO) is the pooling's input, and y (N, PO, QO, CO) with its argmax are exactly
//! `max_pool2d_forward`'s (`pool2d`: window, strides and padding by the same rules).
//!
//! Run as two ops, the pair keeps the convolution's full-size output y for the backward, where
//! the pooling writes a dy of y's size (three quarters zeros) that the convolution then reads
//! back beside y for ReLU's mask. For conv1 at batch 32 y is 3.2 MB, more than a core's L2.
//!
//! Here the batch is cut into chunks of a few images, one rayon task each, and a chunk's y is
//! made, pooled and dropped while it is still in cache; only the pooled output (a quarter of y
//! for 2x2 pooling) and the argmax leave the chunk. The backward needs no y: ReLU's mask at a
//! window's winner is whether the pooled value (the winner's y) is positive. It rebuilds a chunk's
//! dy of y's size in cache from the pooled gradient and the argmax and runs the convolution's
//! backward on the chunk. Every step is the two ops' own kernels on a chunk, so the values are
//! the same; dw and db are summed chunk by chunk in chunk order, so they agree with the two ops'
//! to float rounding and do not depend on the number of threads.
//!
//! (docs/PERFORMANCE.md has what it saved per epoch, and the commands that measured it.)
//!
//! A Winograd convolution is not cut into chunks: each call transforms the kernel again and sums
//! its own partial products, and conv2's backward was a third slower in chunks than on the whole
//! batch. When its 2x2 output tiles are the pooling's windows
//! (2x2 at stride 2 over an even output, the chapter's conv2), the pooling happens inside the
//! Winograd kernels instead, on the whole batch (`conv2d/winograd/pooled.rs`). Otherwise
//! (`fusion_pays_off` is false) the op still computes it, in chunks, but the tape runs such a
//! layer as the two ops.

use rayon::prelude::*;

use crate::conv2d::{
    conv2d_backward, conv2d_relu_forward, sum_partials, winograd_relu_max_pool_backward,
    winograd_relu_max_pool_forward, Conv2dGeometry, Conv2dGrads, ConvAlgorithm,
};
use crate::elementwise::relu_grad_value;
use crate::plan;
use crate::pool2d::{max_pool_images, unpool_images, MaxPoolOutput};
use crate::{recycle, Pool2dGeometry, Tensor};

/// Target size of a chunk's convolution output (the dy rebuilt in the backward): 256K values
/// (1 MB), so that it and what the kernels keep beside it stay in one core's L2 (2 MB).
const CHUNK_VALUES: usize = 1 << 18;
/// At least this many chunks (when the batch has that many images), so both threads have work.
const MIN_CHUNKS: usize = 8;

/// Images per chunk (depends on the shapes only, never on the thread count, so the gradient sums
/// do not either).
fn images_per_chunk(conv: &Conv2dGeometry) -> usize {
    let per_image = conv.ho * conv.wo * conv.co;
    (CHUNK_VALUES / per_image.max(1))
        .clamp(1, conv.n.max(1))
        .min(conv.n.div_ceil(MIN_CHUNKS).max(1))
}

/// Whether the whole batch goes through Winograd with the pooling in its output tiles
/// (`winograd::pooled`) rather than in chunks: `plan::conv_relu_pool` decides.
fn by_winograd_tiles(
    conv: &Conv2dGeometry,
    pool: &Pool2dGeometry,
    algorithm: ConvAlgorithm,
) -> bool {
    // Whether the backward needs dx changes which non-Winograd kernel runs, never this.
    plan::conv_relu_pool(conv, pool, algorithm, true) == Some(plan::ConvReluPool::WinogradTiles)
}

/// Whether the fused op is faster than the two ops (`plan::conv_relu_pool` has a plan for it):
/// yes, but for a Winograd convolution whose tiles are not the pooling's windows (see the module
/// docs), which callers should run as two ops.
pub fn fusion_pays_off(
    conv: &Conv2dGeometry,
    pool: &Pool2dGeometry,
    algorithm: ConvAlgorithm,
) -> bool {
    plan::conv_relu_pool(conv, pool, algorithm, true).is_some()
}

/// Panics, naming every shape, unless the pooling takes the convolution's output and the
/// tensors fit the geometries.
fn check(op: &str, conv: &Conv2dGeometry, pool: &Pool2dGeometry, x: &Tensor, w: &Tensor) {
    assert!(
        pool.x_shape() == conv.y_shape(),
        "{op}: the pooling's input {:?} is not the convolution's output {:?}",
        pool.x_shape(),
        conv.y_shape()
    );
    conv.assert_shapes(op, &[("x", x, conv.x_shape()), ("w", w, conv.w_shape())]);
}

/// The geometries of a chunk of `images` images.
fn chunk_geometries(
    conv: &Conv2dGeometry,
    pool: &Pool2dGeometry,
    images: usize,
) -> (Conv2dGeometry, Pool2dGeometry) {
    (
        Conv2dGeometry { n: images, ..*conv },
        Pool2dGeometry { n: images, ..*pool },
    )
}

/// A chunk of x as a tensor of its own (a copy through recycled storage: a few images).
fn chunk_tensor(op: &str, shape: &[usize], values: &[f32]) -> Tensor {
    let mut data = recycle::take(values.len());
    data.copy_from_slice(values);
    Tensor::from_vec(op, shape, data)
}

/// max_pool2d(relu(conv2d(x, w) + b)): the pooled values and, if `keep_argmax`, the argmax that
/// `max_pool2d_forward` would give (empty otherwise, for inference). The same values as
/// `conv2d_relu_forward` followed by `max_pool2d_forward`.
pub fn conv2d_relu_max_pool2d_forward(
    conv: &Conv2dGeometry,
    pool: &Pool2dGeometry,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    algorithm: ConvAlgorithm,
    keep_argmax: bool,
) -> MaxPoolOutput {
    const OP: &str = "conv2d+relu+max_pool2d forward";
    check(OP, conv, pool, x, w);
    if by_winograd_tiles(conv, pool, algorithm) {
        return winograd_relu_max_pool_forward(conv, pool, x, w, b, keep_argmax);
    }
    let images = images_per_chunk(conv);
    let (x_image, out_image) = (conv.h * conv.w * conv.c, pool.ho * pool.wo * pool.c);
    // Every pooled value is written, so recycled storage needs no zeroing.
    let mut y = recycle::take(pool.n * out_image);
    let mut argmax = vec![0u32; if keep_argmax { y.len() } else { 0 }];
    let run = |x_chunk: &[f32], y_chunk: &mut [f32], arg_chunk: &mut [u32]| {
        let (gc, gp) = chunk_geometries(conv, pool, x_chunk.len() / x_image);
        let xc = chunk_tensor(OP, &gc.x_shape(), x_chunk);
        let yc = conv2d_relu_forward(&gc, &xc, w, b, algorithm);
        max_pool_images(&gp, yc.data(), y_chunk, arg_chunk);
    };
    let chunks = y
        .par_chunks_mut(images * out_image)
        .zip(x.data().par_chunks(images * x_image));
    if keep_argmax {
        chunks
            .zip(argmax.par_chunks_mut(images * out_image))
            .for_each(|((y_chunk, x_chunk), arg_chunk)| run(x_chunk, y_chunk, arg_chunk));
    } else {
        chunks.for_each(|(y_chunk, x_chunk)| run(x_chunk, y_chunk, &mut []));
    }
    MaxPoolOutput {
        y: Tensor::from_vec(OP, &pool.y_shape(), y),
        argmax,
    }
}

/// Gradients of `conv2d_relu_max_pool2d_forward`, given its pooled output `y` and argmax: the
/// same as `max_pool2d_backward`, then ReLU's mask, then `conv2d_backward`, up to the order in
/// which dw and db are summed.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_relu_max_pool2d_backward(
    conv: &Conv2dGeometry,
    pool: &Pool2dGeometry,
    x: &Tensor,
    w: &Tensor,
    y: &Tensor,
    argmax: &[u32],
    dy: &Tensor,
    algorithm: ConvAlgorithm,
    need_dx: bool,
) -> Conv2dGrads {
    const OP: &str = "conv2d+relu+max_pool2d backward";
    check(OP, conv, pool, x, w);
    assert!(
        y.shape() == pool.y_shape() && dy.shape() == pool.y_shape() && argmax.len() == y.len(),
        "{OP}: y {:?}, dy {:?} and {} argmax entries should all be of shape {:?}",
        y.shape(),
        dy.shape(),
        argmax.len(),
        pool.y_shape()
    );
    if by_winograd_tiles(conv, pool, algorithm) {
        return winograd_relu_max_pool_backward(conv, pool, x, w, y, argmax, dy, need_dx);
    }
    let images = images_per_chunk(conv);
    let (x_image, out_image) = (conv.h * conv.w * conv.c, pool.ho * pool.wo * pool.c);
    let conv_out_image = conv.ho * conv.wo * conv.co;
    // Each chunk overwrites its images of dx.
    let mut dx = recycle::take(if need_dx { x.len() } else { 0 });
    let mut dx_chunks: Vec<Option<&mut [f32]>> = if need_dx {
        dx.chunks_mut(images * x_image).map(Some).collect()
    } else {
        (0..conv.n.div_ceil(images)).map(|_| None).collect()
    };
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx_chunks
        .par_iter_mut()
        .zip(x.data().par_chunks(images * x_image))
        .zip(dy.data().par_chunks(images * out_image))
        .zip(y.data().par_chunks(images * out_image))
        .zip(argmax.par_chunks(images * out_image))
        .map(|((((dx_chunk, x_chunk), dy_chunk), y_chunk), arg_chunk)| {
            let (gc, gp) = chunk_geometries(conv, pool, x_chunk.len() / x_image);
            // ReLU's mask on the pooled gradient (the pooled value is the winner's y), then the
            // gradient of the convolution's output: dy at each window's winner, 0 elsewhere.
            let masked: Vec<f32> = dy_chunk
                .iter()
                .zip(y_chunk)
                .map(|(&d, &y)| relu_grad_value(y, d))
                .collect();
            let mut conv_dy = recycle::take(gc.n * conv_out_image);
            unpool_images(&gp, arg_chunk, &masked, &mut conv_dy);
            let conv_dy = Tensor::from_vec(OP, &gc.y_shape(), conv_dy);
            let xc = chunk_tensor(OP, &gc.x_shape(), x_chunk);
            let grads = conv2d_backward(&gc, &xc, w, &conv_dy, algorithm, need_dx);
            if let (Some(dx_chunk), Some(dx_values)) = (dx_chunk, &grads.dx) {
                dx_chunk.copy_from_slice(dx_values.data());
            }
            (grads.dw.into_vec(), grads.db.into_vec())
        })
        .collect();
    let (dw, db) = sum_partials(&partials, w.len(), conv.co);
    Conv2dGrads {
        dx: need_dx.then(|| Tensor::from_vec(OP, &conv.x_shape(), dx)),
        dw: Tensor::from_vec(OP, &conv.w_shape(), dw),
        db: Tensor::from_vec(OP, &[conv.co], db),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::conv2d::conv2d_relu_backward;
    use crate::pool2d::{max_pool2d_backward, max_pool2d_forward};
    use crate::rng::Rng;
    use crate::Padding;

    fn close(what: &str, a: &Tensor, b: &Tensor) {
        assert_eq!(a.shape(), b.shape(), "{what}");
        let scale = b.max_abs().max(1.0);
        for (i, (&u, &v)) in a.data().iter().zip(b.data()).enumerate() {
            assert!(
                (u - v).abs() <= 1e-5 * scale,
                "{what}[{i}]: fused {u}, unfused {v}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// The fused op against the three unfused ops, on shapes that make one chunk or many,
        /// a last chunk shorter than the others, pools that overlap or leave inputs out, and
        /// every algorithm.
        #[test]
        fn agrees_with_conv_relu_then_pool(
            n in 1usize..20,
            (h, w) in (3usize..11, 3usize..11),
            (c, co) in (1usize..5, 1usize..6),
            (pool, stride) in (1usize..4, 1usize..3),
            same in any::<bool>(),
            algorithm in prop_oneof![
                Just(ConvAlgorithm::Im2col),
                Just(ConvAlgorithm::Direct),
                Just(ConvAlgorithm::Winograd),
            ],
            seed in any::<u64>(),
        ) {
            let mut rng = Rng::new(seed);
            let x = rng.tensor(&[n, h, w, c]);
            let k = rng.tensor(&[3, 3, c, co]);
            let b = rng.tensor(&[co]);
            let padding = if same { Padding::Same } else { Padding::Valid };
            let conv = Conv2dGeometry::new(x.shape(), k.shape(), (1, 1), padding).unwrap();
            let Ok(pool) = Pool2dGeometry::new(&conv.y_shape(), (pool, pool), (stride, stride), Padding::Valid) else {
                return Ok(()); // the pool does not fit this output
            };
            let y_conv = conv2d_relu_forward(&conv, &x, &k, Some(&b), algorithm);
            let unfused = max_pool2d_forward(&pool, &y_conv);
            let fused = conv2d_relu_max_pool2d_forward(&conv, &pool, &x, &k, Some(&b), algorithm, true);
            prop_assert_eq!(fused.y.data(), unfused.y.data());
            prop_assert_eq!(&fused.argmax, &unfused.argmax);
            let values = conv2d_relu_max_pool2d_forward(&conv, &pool, &x, &k, Some(&b), algorithm, false);
            prop_assert_eq!(values.y.data(), unfused.y.data());
            prop_assert!(values.argmax.is_empty());

            let dy = rng.tensor(&pool.y_shape());
            let dy_conv = max_pool2d_backward(&pool, &unfused.argmax, &dy);
            let want = conv2d_relu_backward(&conv, &x, &k, &y_conv, &dy_conv, algorithm, true);
            for need_dx in [true, false] {
                let got = conv2d_relu_max_pool2d_backward(
                    &conv, &pool, &x, &k, &fused.y, &fused.argmax, &dy, algorithm, need_dx,
                );
                close("dw", &got.dw, &want.dw);
                close("db", &got.db, &want.db);
                prop_assert_eq!(got.dx.is_some(), need_dx);
                if let Some(dx) = &got.dx {
                    close("dx", dx, want.dx.as_ref().unwrap());
                }
            }
        }
    }

    #[test]
    fn gradients_do_not_depend_on_the_thread_count() {
        let mut rng = Rng::new(3);
        let x = rng.tensor(&[19, 12, 12, 8]);
        let k = rng.tensor(&[3, 3, 8, 16]);
        let conv = Conv2dGeometry::new(x.shape(), k.shape(), (1, 1), Padding::Same).unwrap();
        let pool = Pool2dGeometry::new(&conv.y_shape(), (2, 2), (2, 2), Padding::Valid).unwrap();
        let dy = rng.tensor(&pool.y_shape());
        let run = |threads: usize| {
            let pool_threads = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool_threads.install(|| {
                let out = conv2d_relu_max_pool2d_forward(
                    &conv,
                    &pool,
                    &x,
                    &k,
                    None,
                    ConvAlgorithm::Auto,
                    true,
                );
                let grads = conv2d_relu_max_pool2d_backward(
                    &conv,
                    &pool,
                    &x,
                    &k,
                    &out.y,
                    &out.argmax,
                    &dy,
                    ConvAlgorithm::Auto,
                    true,
                );
                (out.y, grads)
            })
        };
        let (y1, g1) = run(1);
        let (y3, g3) = run(3);
        assert_eq!(y1.data(), y3.data());
        assert_eq!(g1.dw.data(), g3.dw.data());
        assert_eq!(g1.db.data(), g3.db.data());
        assert_eq!(g1.dx.unwrap().data(), g3.dx.unwrap().data());
    }
}
