//! Winograd convolution, ReLU and 2x2 max pooling as one op (the chapter's conv2 and the pooling
//! after it):
//! ```text
//! y = max_pool2d(relu(conv2d(x, w) + b))     2x2 windows at stride 2, HO and WO even
//! ```
//! An F(2x2, 3x3) tile's 2x2 outputs start at even rows and columns, so when the output's sides
//! are even, every tile is exactly one pooling window. The forward pools each tile as its outputs
//! leave the registers: the convolution's output (four times the pooled one) is never stored,
//! and neither is read again for the pooling or for ReLU's mask. The backward builds each tile's
//! 2x2 dY from the pooled dy at the window's winner (`OutputGrad::Pooled`) instead of reading a
//! full-size dy that the pooling's backward would have written, three quarters of it zeros.
//!
//! The values are the same bits as `winograd::forward` with ReLU followed by
//! `max_pool2d_forward` (the same sums, the same comparisons in the same order, ties keeping the
//! first cell), and the gradients the same bits as `max_pool2d_backward` followed by
//! `winograd::backward` with ReLU: the three outputs that did not win add exact zeros.

use rayon::prelude::*;

use super::tiles::{self, lane_groups, Grid, LANES};
use super::{applies, backward_from, block_products, images_per_block, transform_kernel};
use super::{Conv2dGeometry, Conv2dGrads, OutputGrad};
use crate::elementwise::relu_value;
use crate::pool2d::MaxPoolOutput;
use crate::{elementwise, recycle, Pool2dGeometry, Tensor};

/// Whether the pooling's windows are the convolution's Winograd tiles: a 3x3 stride-1
/// convolution whose even-sized output is pooled by 2x2 windows at stride 2 without padding.
pub fn pools_by_tile(conv: &Conv2dGeometry, pool: &Pool2dGeometry) -> bool {
    applies(conv)
        && conv.ho.is_multiple_of(2)
        && conv.wo.is_multiple_of(2)
        && pool.x_shape() == conv.y_shape()
        && (pool.ph, pool.pw, pool.sh, pool.sw) == (2, 2, 2, 2)
        && (pool.pad_top, pool.pad_left) == (0, 0)
        && (pool.ho, pool.wo) == (conv.ho / 2, conv.wo / 2)
}

/// Panics, naming the geometries, unless `pools_by_tile` holds. (The caller,
/// `conv_relu_pool`, has checked the tensors against the geometries.)
fn check(op: &str, conv: &Conv2dGeometry, pool: &Pool2dGeometry) {
    assert!(
        pools_by_tile(conv, pool),
        "{op}: the pooling {pool:?} is not by the Winograd tiles of {conv:?}"
    );
}

/// max_pool2d(relu(conv2d(x, w) + b)) and, if `keep_argmax`, the argmax `max_pool2d_forward`
/// would give (empty otherwise). Needs `pools_by_tile(conv, pool)`; called by
/// `conv2d_relu_max_pool2d_forward`.
pub fn forward(
    conv: &Conv2dGeometry,
    pool: &Pool2dGeometry,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    keep_argmax: bool,
) -> MaxPoolOutput {
    const OP: &str = "conv2d+relu+max_pool2d winograd forward";
    check(OP, conv, pool);
    if let Some(b) = b {
        conv.assert_bias(OP, b);
    }
    let g = conv;
    let u = transform_kernel(g, w.data());
    let bias = b.map_or(vec![0.0; g.co], |b| b.data().to_vec());
    let grid = Grid::new(g);
    let images = images_per_block(g);
    let image_len = g.h * g.w * g.c;
    // One pooled value per tile and channel, every one written.
    let block_len = images * grid.tiles_per_image() * g.co;
    let mut y = recycle::take(g.n * grid.tiles_per_image() * g.co);
    let mut argmax: Vec<u32> = elementwise::zeros(if keep_argmax { y.len() } else { 0 });
    // Without argmax, every block gets an empty slice.
    let arg_blocks: Vec<&mut [u32]> = if keep_argmax {
        argmax.chunks_mut(block_len).collect()
    } else {
        (0..g.n.div_ceil(images)).map(|_| &mut [][..]).collect()
    };
    y.par_chunks_mut(block_len)
        .zip(arg_blocks)
        .zip(x.data().par_chunks(images * image_len))
        .for_each(|((y_block, arg_block), x_block)| {
            block_products(g, &grid, &u, x_block, |m, t_total| {
                let stride = t_total * g.co;
                for t in 0..t_total {
                    // Where the tile's top-left output is in its image (argmax's offsets).
                    let pos = t % grid.tiles_per_image();
                    let (oy, ox) = (2 * (pos / grid.tiles_across), 2 * (pos % grid.tiles_across));
                    let top_left = (oy * g.wo + ox) * g.co;
                    for (c0, full) in lane_groups(g.co, LANES) {
                        let m_t = &m[t * g.co + c0..];
                        let at = t * g.co + c0;
                        // Where channel c0 of the top-left output is, one output row, one pixel.
                        let offsets = (top_left + c0, g.wo * g.co, g.co);
                        let arg = if keep_argmax {
                            &mut arg_block[at..]
                        } else {
                            &mut []
                        };
                        if full {
                            let out = tiles::output_tile::<LANES>(m_t, stride);
                            pool_tile(out, &bias[c0..], offsets, &mut y_block[at..], arg);
                        } else {
                            let out = tiles::output_tile::<1>(m_t, stride);
                            pool_tile(out, &bias[c0..], offsets, &mut y_block[at..], arg);
                        }
                    }
                }
            });
        });
    recycle::give(u);
    MaxPoolOutput {
        y: Tensor::from_vec(OP, &pool.y_shape(), y),
        argmax,
    }
}

/// A tile's 2x2 outputs of N channels from c0, plus bias and ReLU (as `write_outputs` computes
/// them), pooled: the largest into `y[..N]` and, unless `argmax` is empty, its offset in the
/// image into `argmax[..N]` (`base`: the offset of the tile's top-left output at channel c0;
/// `row`, `px`: the steps to the next output row and pixel).
/// The cells are compared in row-major order and strictly greater wins, so ties keep the first,
/// as in `max_pool2d_forward`. Written channel by channel with selects, so each loop is a few
/// vector instructions.
#[inline(always)]
fn pool_tile<const N: usize>(
    out: [[[f32; N]; 2]; 2],
    bias: &[f32],
    (base, row, px): (usize, usize, usize),
    y: &mut [f32],
    argmax: &mut [u32],
) {
    let bias: &[f32; N] = bias[..N].try_into().expect("winograd pool: bias");
    let mut best = [0.0f32; N];
    for ch in 0..N {
        best[ch] = relu_value(out[0][0][ch] + bias[ch]);
    }
    // The winning cell's offset from the top-left one.
    let mut won = [0u32; N];
    for (i, j) in [(0, 1), (1, 0), (1, 1)] {
        let offset = (i * row + j * px) as u32;
        for ch in 0..N {
            let v = relu_value(out[i][j][ch] + bias[ch]);
            let better = v > best[ch];
            best[ch] = if better { v } else { best[ch] };
            won[ch] = if better { offset } else { won[ch] };
        }
    }
    y[..N].copy_from_slice(&best);
    if !argmax.is_empty() {
        for (ch, (a, &w)) in argmax[..N].iter_mut().zip(&won).enumerate() {
            *a = (base + ch) as u32 + w;
        }
    }
}

/// Gradients of `forward`, given its pooled output `y` and argmax: the same bits as
/// `max_pool2d_backward`, then the Winograd convolution's backward with ReLU's mask. Called by
/// `conv2d_relu_max_pool2d_backward`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    conv: &Conv2dGeometry,
    pool: &Pool2dGeometry,
    x: &Tensor,
    w: &Tensor,
    y: &Tensor,
    argmax: &[u32],
    dy: &Tensor,
    need_dx: bool,
) -> Conv2dGrads {
    check("conv2d+relu+max_pool2d winograd backward", conv, pool);
    let grad = OutputGrad::Pooled {
        dy: dy.data(),
        y: y.data(),
        argmax,
    };
    backward_from(conv, x, w, grad, need_dx)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::conv2d::{conv2d_relu_backward, conv2d_relu_forward, ConvAlgorithm};
    use crate::pool2d::{max_pool2d_backward, max_pool2d_forward};
    use crate::rng::Rng;
    use crate::Padding;

    fn geometries(x: &Tensor, w: &Tensor, padding: Padding) -> (Conv2dGeometry, Pool2dGeometry) {
        let conv = Conv2dGeometry::new(x.shape(), w.shape(), (1, 1), padding).unwrap();
        let pool = Pool2dGeometry::new(&conv.y_shape(), (2, 2), (2, 2), Padding::Valid).unwrap();
        (conv, pool)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// The same bits as the Winograd convolution with ReLU, then max pooling (forward, with
        /// and without argmax, and backward), on even outputs of either padding, batches of one
        /// block or several, channel counts off the vector width, with and without a bias. ReLU
        /// makes windows of equal zeros, so ties are tested too.
        #[test]
        fn matches_winograd_then_max_pooling_bit_for_bit(
            n in 1usize..12,
            (half_h, half_w) in (1usize..6, 1usize..6),
            (c, co) in (1usize..20, 1usize..40),
            same in any::<bool>(),
            with_bias in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut rng = Rng::new(seed);
            // Even outputs: `same` keeps the input's size, `valid` takes 2 off.
            let (padding, extra) = if same { (Padding::Same, 0) } else { (Padding::Valid, 2) };
            let x = rng.tensor(&[n, 2 * half_h + extra, 2 * half_w + extra, c]);
            let w = rng.tensor(&[3, 3, c, co]);
            let b = with_bias.then(|| rng.tensor(&[co]));
            let (conv, pool) = geometries(&x, &w, padding);
            prop_assert!(pools_by_tile(&conv, &pool));

            let y_conv = conv2d_relu_forward(&conv, &x, &w, b.as_ref(), ConvAlgorithm::Winograd);
            let want = max_pool2d_forward(&pool, &y_conv);
            let got = forward(&conv, &pool, &x, &w, b.as_ref(), true);
            prop_assert_eq!(got.y.data(), want.y.data());
            prop_assert_eq!(&got.argmax, &want.argmax);
            let values = forward(&conv, &pool, &x, &w, b.as_ref(), false);
            prop_assert_eq!(values.y.data(), want.y.data());
            prop_assert!(values.argmax.is_empty());

            let dy = rng.tensor(&pool.y_shape());
            let dy_conv = max_pool2d_backward(&pool, &want.argmax, &dy);
            for need_dx in [true, false] {
                let want_grads = conv2d_relu_backward(
                    &conv, &x, &w, &y_conv, &dy_conv, ConvAlgorithm::Winograd, need_dx,
                );
                let grads = backward(&conv, &pool, &x, &w, &got.y, &got.argmax, &dy, need_dx);
                prop_assert_eq!(grads.dw.data(), want_grads.dw.data());
                prop_assert_eq!(grads.db.data(), want_grads.db.data());
                prop_assert_eq!(grads.dx.map(Tensor::into_vec), want_grads.dx.map(Tensor::into_vec));
            }
        }
    }

    #[test]
    fn pools_by_tile_only_where_the_windows_are_the_tiles() {
        let x = Tensor::zeros(&[2, 14, 14, 32]);
        let w = Tensor::zeros(&[3, 3, 32, 64]);
        let (conv, pool) = geometries(&x, &w, Padding::Same);
        assert!(
            pools_by_tile(&conv, &pool),
            "the chapter's conv2 and pooling"
        );
        // An odd output: the last tile reaches past the edge.
        let odd = Tensor::zeros(&[2, 13, 13, 32]);
        let (conv_odd, pool_odd) = geometries(&odd, &w, Padding::Same);
        assert!(!pools_by_tile(&conv_odd, &pool_odd));
        // Windows of another size or stride, or a kernel Winograd does not take.
        for (size, stride) in [((3, 3), (2, 2)), ((2, 2), (1, 1)), ((1, 1), (1, 1))] {
            let other = Pool2dGeometry::new(&conv.y_shape(), size, stride, Padding::Valid).unwrap();
            assert!(!pools_by_tile(&conv, &other), "{size:?} at {stride:?}");
        }
        let w5 = Tensor::zeros(&[5, 5, 32, 64]);
        let (conv5, pool5) = geometries(&x, &w5, Padding::Same);
        assert!(!pools_by_tile(&conv5, &pool5));
    }
}
