//! Winograd F(2x2, 3x3) convolution: 2x2 outputs from a 4x4 input tile with 16 multiplications
//! per channel pair instead of 36 (2.25x fewer), for 3x3 kernels at stride 1.
//!
//! Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016). For one input
//! channel and one output channel, with d a 4x4 input tile and g the 3x3 kernel:
//! ```text
//! Y (2x2) = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//! ```
//! Summed over input channels, the elementwise product becomes 16 matrix products, one per
//! position (ξ, ν) of the 4x4 transformed tile:
//! ```text
//! U[ξν] = (G g Gᵀ)[ξν]   [C, CO]   the kernel, transformed once per call
//! V[ξν] = (Bᵀ d B)[ξν]   [T, C]    every tile t of the input (T tiles per block)
//! M[ξν] = V[ξν] · U[ξν]  [T, CO]   16 GEMMs of K = C (instead of one of K = 9C)
//! y     = Aᵀ M A         2x2 outputs per tile, plus the bias
//! ```
//! Output tiles cover the output in steps of 2; input tile t starts 2 rows and 2 columns after the
//! previous one (tiles overlap by 2), at (2ty - pad_top, 2tx - pad_left). Taps outside the input
//! read zero, which is both the `same` padding and the extra row or column a tile reaches past an
//! odd-sized output (whose outputs are dropped): each block copies its images into a zero-padded
//! grid first, so the tile transforms (`tiles.rs`) never test an edge.
//!
//! Backward: every step above is linear, so the gradient runs the same steps transposed.
//! ```text
//! dM[ξν] = (A dY Aᵀ)[ξν]          dY of the outputs a tile produced (0 past the edge)
//! dU[ξν] = V[ξν]ᵀ · dM[ξν]        [C, CO], summed over tiles
//! dw     = Gᵀ dU G                per (ci, co)
//! dV[ξν] = dM[ξν] · U[ξν]ᵀ        [T, C]
//! dx    += B dV Bᵀ                scattered back onto each tile's 4x4 window (windows overlap)
//! ```
//! When a 2x2 max pooling follows and the output's sides are even, each tile's 2x2 outputs are
//! one pooling window, and `pooled.rs` pools them in the forward's last step and starts the
//! backward from the pooled gradient.
//!
//! Like im2col, the batch is cut into blocks of a few images, one rayon task each, so V and M of
//! a block stay in the core's cache between the transforms and the GEMMs; partial dw and db are
//! added in block order. The sixteen products are small (K = C or the block's tiles, N = CO or
//! C), which is what `small_gemm` is for. The arithmetic differs from im2col's (transforms with ±1/2 factors), so
//! results agree with the other algorithms to float rounding, not bit for bit.

use std::cell::RefCell;

use rayon::prelude::*;

use super::{blocks, Conv2dGeometry, Conv2dGrads};
use crate::elementwise::relu_value;
use crate::gemm::{small_gemm, MatMut, MatRef};
use crate::recycle;
use crate::Tensor;
use output_grad::OutputGrad;
use tiles::{lane_groups, Grid, LANES, LANES_BACKWARD};

mod output_grad;
pub(super) mod pooled;
mod tiles;

/// G: the kernel transform, 3 taps to 4 (applied with `sandwich`, once per call).
const G: [[f32; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0.0, 0.0, 1.0],
];
/// Gᵀ, for the kernel gradient.
const GT: [[f32; 4]; 3] = [
    [1.0, 0.5, 0.5, 0.0],
    [0.0, 0.5, -0.5, 0.0],
    [0.0, 0.5, 0.5, 1.0],
];

/// One tile of F(2x2, 3x3) worked out, for a reader (`convlab explain winograd`): every
/// intermediate of the real transforms on a 4x4 input tile d and a 3x3 kernel g of one channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneTile {
    /// V = Bᵀ d B, row-major 4x4.
    pub v: [f32; 16],
    /// U = G g Gᵀ, row-major 4x4.
    pub u: [f32; 16],
    /// M = U ⊙ V: the 16 multiplications (direct convolution needs 36 for these 4 outputs).
    pub m: [f32; 16],
    /// Y = Aᵀ M A, the 2x2 outputs (the valid convolution of d by g).
    pub y: [f32; 4],
}

/// Runs the forward kernel's own transforms (`tiles::input_tile`, `transform_kernel`'s
/// `sandwich`, `tiles::output_tile`) on one 4x4 tile of one channel.
pub fn one_tile(d: &[f32; 16], g: &[f32; 9]) -> OneTile {
    let grid = Grid {
        tiles_down: 1,
        tiles_across: 1,
        rows: 4,
        cols: 4,
        c: 1,
    };
    let mut v = [0.0; 16];
    tiles::input_tile::<1>(&grid, d, 0, &mut v, 1);
    let mut u = [0.0; 16];
    sandwich(&G, &G, g, 1, &mut u, 1, 1, &mut Vec::new());
    let m: [f32; 16] = std::array::from_fn(|e| u[e] * v[e]);
    let [[y00, y01], [y10, y11]] = tiles::output_tile::<1>(&m, 1);
    OneTile {
        v,
        u,
        m,
        y: [y00[0], y01[0], y10[0], y11[0]],
    }
}

/// Target size of a block's V plus M: 256K values (1 MB), so they stay in one core's L2 (2 MB)
/// with the block's padded images.
const BLOCK_VALUES: usize = 1 << 18;
/// At least this many blocks (when the batch has that many images), so both threads have work
/// and share it evenly: at batch 32, 3 images a block (the L2 bound for conv2) made 11 blocks,
/// 6 for one thread and 5 for the other; 16 blocks of 2 images run conv2's backward faster on 2
/// threads (docs/PERFORMANCE.md).
const MIN_BLOCKS: usize = 16;

thread_local! {
    /// Each thread's V (or dV), M (or dM) and padded-images buffers, kept between calls.
    static BUFFERS: RefCell<[Vec<f32>; 3]> =
        const { RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
}

/// Frees this thread's kept buffers (`recycle::release_scratch`).
pub(crate) fn release_thread_buffers() {
    BUFFERS.with(|b| drop(std::mem::take(&mut *b.borrow_mut())));
}

/// Whether Winograd F(2x2, 3x3) computes this convolution: 3x3 kernels at stride 1.
pub fn applies(g: &Conv2dGeometry) -> bool {
    g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1
}

/// Images per block (depends on the shapes only, never on the thread count).
fn images_per_block(g: &Conv2dGeometry) -> usize {
    let per_image = 16 * Grid::new(g).tiles_per_image() * (g.c + g.co);
    (BLOCK_VALUES / per_image)
        .clamp(1, g.n)
        .min(g.n.div_ceil(MIN_BLOCKS))
}

/// Below this many tiles a backward block takes more images (`images_per_backward_block`).
const BACKWARD_FEW_TILES: usize = 64;
/// Tiles a backward block is then given: K of its dU products.
const BACKWARD_TILES: usize = 128;
/// ... but at least this many blocks, so both threads keep work at small batches.
const BACKWARD_MIN_BLOCKS: usize = 4;

/// Images per block of the backward. A block's dU = Vᵀ·dM is sixteen C x CO products of K = its
/// tiles, and a partial dU of 16·C·CO values that `sum_partials` adds up: on small images the
/// forward's blocks (two images of 8x8, 32 tiles) make that partial larger than the block's V
/// and dM, and the products too short to pay for writing it. Such blocks take images up to 128
/// tiles (at least 4 blocks): 8x8x128 3x3 -> 128 backward 4.14 -> 3.69 ms, 8x8x64 -> 128 2.03
/// -> 1.79 ms at batch 32 (docs/PERFORMANCE.md). Blocks of 64 tiles or more (the chapter's
/// 14x14, 98 tiles) keep the forward's blocks.
fn images_per_backward_block(g: &Conv2dGeometry) -> usize {
    let images = images_per_block(g);
    let tiles = Grid::new(g).tiles_per_image();
    if images * tiles >= BACKWARD_FEW_TILES {
        return images;
    }
    BACKWARD_TILES
        .div_ceil(tiles)
        .min(g.n.div_ceil(BACKWARD_MIN_BLOCKS))
        .max(images)
}

/// Runs `f` on three buffers of the given lengths (contents unspecified), this thread's own
/// when they are free.
fn with_buffers<R>(lens: [usize; 3], f: impl FnOnce([&mut [f32]; 3]) -> R) -> R {
    BUFFERS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffers) => {
            for (buffer, &len) in buffers.iter_mut().zip(&lens) {
                if buffer.len() < len {
                    buffer.resize(len, 0.0);
                }
            }
            let [a, b, c] = &mut *buffers;
            f([&mut a[..lens[0]], &mut b[..lens[1]], &mut c[..lens[2]]])
        }
        Err(_) => {
            let [mut a, mut b, mut c] = lens.map(|len| vec![0.0; len]);
            f([&mut a, &mut b, &mut c])
        }
    })
}

/// `out[a][b] = Σ_i Σ_j l[a][i] · x[i][j] · r[b][j]`, i.e. L · X · Rᵀ, where every entry of X
/// and of out is a vector of `len` values (one per channel), so the loops vectorise over
/// channels. Entry (i, j) of X starts at `x[(i * q + j) * x_stride]`, entry (a, b) of out at
/// `out[(a * s + b) * out_stride]`. Zero coefficients are skipped.
#[allow(clippy::too_many_arguments)]
fn sandwich<const R: usize, const P: usize, const S: usize, const Q: usize>(
    l: &[[f32; P]; R],
    r: &[[f32; Q]; S],
    x: &[f32],
    x_stride: usize,
    out: &mut [f32],
    out_stride: usize,
    len: usize,
    tmp: &mut Vec<f32>,
) {
    // tmp[a][j] = Σ_i l[a][i] x[i][j]
    tmp.clear();
    tmp.resize(R * Q * len, 0.0);
    for a in 0..R {
        for j in 0..Q {
            let t = &mut tmp[(a * Q + j) * len..][..len];
            for (i, &coef) in l[a].iter().enumerate() {
                if coef != 0.0 {
                    let xv = &x[(i * Q + j) * x_stride..][..len];
                    t.iter_mut().zip(xv).for_each(|(t, &v)| *t += coef * v);
                }
            }
        }
    }
    // out[a][b] = Σ_j tmp[a][j] r[b][j]
    for a in 0..R {
        for b in 0..S {
            let o = &mut out[(a * S + b) * out_stride..][..len];
            o.fill(0.0);
            for (j, &coef) in r[b].iter().enumerate() {
                if coef != 0.0 {
                    let t = &tmp[(a * Q + j) * len..][..len];
                    o.iter_mut().zip(t).for_each(|(o, &v)| *o += coef * v);
                }
            }
        }
    }
}

/// U = G g Gᵀ for every (ci, co): [16, C, CO] from w (3, 3, C, CO), in recycled storage (every
/// element is written; callers give it back).
fn transform_kernel(g: &Conv2dGeometry, w: &[f32]) -> Vec<f32> {
    let block = g.c * g.co;
    let mut u = recycle::take(16 * block);
    sandwich(&G, &G, w, block, &mut u, block, block, &mut Vec::new());
    u
}

/// The 16 GEMMs `out[ξν] = a[ξν] · b[ξν]` (or with a transposed operand, via `view`).
fn gemms(
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    view: impl for<'s> Fn(&'s [f32], &'s [f32]) -> (MatRef<'s>, MatRef<'s>),
) {
    let (la, lb, lo) = (a.len() / 16, b.len() / 16, out.len() / 16);
    for e in 0..16 {
        let (ma, mb) = view(&a[e * la..][..la], &b[e * lb..][..lb]);
        let (rows, cols) = (ma.rows, mb.cols);
        small_gemm(
            ma,
            mb,
            MatMut::row_major(&mut out[e * lo..][..lo], rows, cols),
        );
    }
}

/// M = V · U for every tile of a block of images (V from the block's zero-padded copy), handed
/// with the block's tile count to `epilogue`, which turns it into outputs. The buffers are this
/// thread's.
fn block_products<R>(
    g: &Conv2dGeometry,
    grid: &Grid,
    u: &[f32],
    x_block: &[f32],
    epilogue: impl FnOnce(&[f32], usize) -> R,
) -> R {
    let block_images = x_block.len() / (g.h * g.w * g.c);
    let t_total = block_images * grid.tiles_per_image();
    let lens = [
        16 * t_total * g.c,
        16 * t_total * g.co,
        block_images * grid.image_len(),
    ];
    with_buffers(lens, |[v, m, padded]| {
        grid.pad(g, x_block, padded);
        transform_input(grid, padded, v);
        gemms(v, u, m, |v, u| {
            (
                MatRef::row_major(v, t_total, g.c),
                MatRef::row_major(u, g.c, g.co),
            )
        });
        epilogue(m, t_total)
    })
}

/// V for every tile of the block's padded images: `v` is [16, T, C] for T tiles.
fn transform_input(grid: &Grid, padded: &[f32], v: &mut [f32]) {
    let c = grid.c;
    let t_total = v.len() / (16 * c);
    for t in 0..t_total {
        let window = grid.window(t);
        for (c0, full) in lane_groups(c, LANES) {
            let v_t = &mut v[t * c + c0..];
            if full {
                tiles::input_tile::<LANES>(grid, padded, window + c0, v_t, t_total * c);
            } else {
                tiles::input_tile::<1>(grid, padded, window + c0, v_t, t_total * c);
            }
        }
    }
}

/// Where output (i, j) of tile t of a block lands in the block's y (None past the edge).
#[inline(always)]
fn output_at(g: &Conv2dGeometry, grid: &Grid, t: usize, i: usize, j: usize) -> Option<usize> {
    let (img, pos) = (t / grid.tiles_per_image(), t % grid.tiles_per_image());
    let oy = 2 * (pos / grid.tiles_across) + i;
    let ox = 2 * (pos % grid.tiles_across) + j;
    (oy < g.ho && ox < g.wo).then(|| ((img * g.ho + oy) * g.wo + ox) * g.co)
}

/// y = conv2d(x, w) + b by Winograd F(2x2, 3x3), then ReLU if `relu`. Shapes as in the module
/// docs of `conv2d`; `g` must satisfy `applies`.
pub(super) fn forward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    relu: bool,
) -> Tensor {
    assert!(
        applies(g),
        "winograd: needs a 3x3 kernel at stride 1, got {g:?}"
    );
    g.assert_shapes(
        "conv2d winograd forward",
        &[("x", x, g.x_shape()), ("w", w, g.w_shape())],
    );
    if let Some(b) = b {
        g.assert_bias("conv2d winograd forward", b);
    }
    let u = transform_kernel(g, w.data());
    let bias = b.map_or(vec![0.0; g.co], |b| b.data().to_vec());
    let grid = Grid::new(g);
    let images = images_per_block(g);
    let image_len = g.h * g.w * g.c;
    // The tiles cover every output, so recycled storage needs no zeroing.
    let mut y = recycle::take(g.n * g.ho * g.wo * g.co);
    y.par_chunks_mut(images * g.ho * g.wo * g.co)
        .zip(x.data().par_chunks(images * image_len))
        .for_each(|(y_block, x_block)| {
            block_products(g, &grid, &u, x_block, |m, t_total| {
                // y = Aᵀ M A + b per tile, keeping the outputs inside the image.
                let stride = t_total * g.co;
                for t in 0..t_total {
                    let y_at: [[Option<usize>; 2]; 2] = std::array::from_fn(|i| {
                        std::array::from_fn(|j| output_at(g, &grid, t, i, j))
                    });
                    for (c0, full) in lane_groups(g.co, LANES) {
                        let m_t = &m[t * g.co + c0..];
                        if full {
                            let out = tiles::output_tile::<LANES>(m_t, stride);
                            write_outputs(out, &bias[c0..], relu, y_at, &mut y_block[c0..]);
                        } else {
                            let out = tiles::output_tile::<1>(m_t, stride);
                            write_outputs(out, &bias[c0..], relu, y_at, &mut y_block[c0..]);
                        }
                    }
                }
            });
        });
    recycle::give(u);
    Tensor::from_vec("conv2d winograd forward", &g.y_shape(), y)
}

/// Writes a tile's 2x2 outputs of N channels plus their bias, rectified if `relu`, at the
/// offsets `y_at` of y (None: past the edge, dropped).
#[inline(always)]
fn write_outputs<const N: usize>(
    out: [[[f32; N]; 2]; 2],
    bias: &[f32],
    relu: bool,
    y_at: [[Option<usize>; 2]; 2],
    y: &mut [f32],
) {
    let bias: &[f32; N] = bias[..N].try_into().expect("winograd: bias");
    for (out_row, at_row) in out.iter().zip(&y_at) {
        for (values, at) in out_row.iter().zip(at_row) {
            let Some(at) = *at else { continue };
            let y_px: &mut [f32; N] = (&mut y[at..at + N]).try_into().expect("winograd: y");
            for ((y, &v), &b) in y_px.iter_mut().zip(values).zip(bias) {
                *y = if relu { relu_value(v + b) } else { v + b };
            }
        }
    }
}

/// Gradients of the Winograd convolution (the module docs give the transposed steps); with
/// `relu_y`, dy is first masked where the fused ReLU's output y is not positive.
pub(super) fn backward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    relu_y: Option<&Tensor>,
    dy: &Tensor,
    need_dx: bool,
) -> Conv2dGrads {
    assert!(
        applies(g),
        "winograd: needs a 3x3 kernel at stride 1, got {g:?}"
    );
    g.assert_shapes(
        "conv2d winograd backward",
        &[
            ("x", x, g.x_shape()),
            ("w", w, g.w_shape()),
            ("dy", dy, g.y_shape()),
        ],
    );
    if let Some(y) = relu_y {
        g.assert_shapes("conv2d+relu winograd backward", &[("y", y, g.y_shape())]);
    }
    let grad = OutputGrad::Full {
        dy: dy.data(),
        relu_y: relu_y.map(Tensor::data),
    };
    backward_from(g, x, w, grad, need_dx)
}

/// The backward steps of the module docs, from the outputs' gradient `grad`.
fn backward_from(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    grad: OutputGrad,
    need_dx: bool,
) -> Conv2dGrads {
    // Uᵀ per ξν, [16, CO, C]: the products read B row by row.
    let u = transform_kernel(g, w.data());
    let mut u_t = recycle::take(u.len());
    for (u_e, u_t_e) in u.chunks(g.c * g.co).zip(u_t.chunks_mut(g.c * g.co)) {
        for (ci, u_row) in u_e.chunks(g.co).enumerate() {
            for (co, &value) in u_row.iter().enumerate() {
                u_t_e[co * g.c + ci] = value;
            }
        }
    }
    let grid = Grid::new(g);
    let images = images_per_backward_block(g);
    let image_len = g.h * g.w * g.c;
    // Each block overwrites its images of dx.
    let mut dx = recycle::take(if need_dx { g.n * image_len } else { 0 });
    let dx_blocks = blocks::dx_blocks(g, &mut dx, images, need_dx);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx_blocks
        .into_par_iter()
        .zip(x.data().par_chunks(images * image_len))
        .enumerate()
        .map(|(block, (dx_block, x_block))| {
            let block_images = x_block.len() / image_len;
            let t_total = block_images * grid.tiles_per_image();
            let grad = grad.block(g, &grid, block * images, block_images);
            let mut db = vec![0.0f32; g.co];
            // Every element is written by the products below: recycled, not zeroed (zeroing
            // 16 blocks' dU every step was ~1.6% of an epoch's perf samples).
            let mut du = recycle::take(16 * g.c * g.co);
            let lens = [
                16 * t_total * g.c,
                16 * t_total * g.co,
                block_images * grid.image_len(),
            ];
            with_buffers(lens, |[v, dm, padded]| {
                // dM = A dY Aᵀ per tile, with dY = 0 for outputs past the edge (and, with a
                // fused ReLU, where y <= 0; with a fused pooling, off each window's winner); db
                // sums the same dY (`output_grad.rs`).
                for t in 0..t_total {
                    let at = grad.tile_at(g, &grid, t);
                    for (c0, full) in lane_groups(g.co, LANES_BACKWARD) {
                        let dm_t = &mut dm[t * g.co + c0..];
                        let stride = t_total * g.co;
                        if full {
                            let d = grad.tile_dy::<LANES_BACKWARD>(&at, c0, &mut db[c0..]);
                            tiles::output_grad_tile(d, dm_t, stride);
                        } else {
                            let d = grad.tile_dy::<1>(&at, c0, &mut db[c0..]);
                            tiles::output_grad_tile(d, dm_t, stride);
                        }
                    }
                }
                // dU = Vᵀ · dM, per ξν.
                grid.pad(g, x_block, padded);
                transform_input(&grid, padded, v);
                gemms(v, dm, &mut du, |v, dm| {
                    (
                        MatRef::row_major(v, t_total, g.c).t(),
                        MatRef::row_major(dm, t_total, g.co),
                    )
                });
                let Some(dx_block) = dx_block else {
                    return;
                };
                // dV = dM · Uᵀ into V's buffer (V is no longer needed), then the padded dx
                // += B dV Bᵀ tile by tile, and dx is its image part.
                gemms(dm, &u_t, v, |dm, u_t| {
                    (
                        MatRef::row_major(dm, t_total, g.co),
                        MatRef::row_major(u_t, g.co, g.c),
                    )
                });
                padded.fill(0.0);
                let stride = t_total * g.c;
                for t in 0..t_total {
                    let window = grid.window(t);
                    for (c0, full) in lane_groups(g.c, LANES_BACKWARD) {
                        let dv_t = &v[t * g.c + c0..];
                        if full {
                            tiles::input_grad_tile::<LANES_BACKWARD>(
                                &grid,
                                dv_t,
                                stride,
                                padded,
                                window + c0,
                            );
                        } else {
                            tiles::input_grad_tile::<1>(&grid, dv_t, stride, padded, window + c0);
                        }
                    }
                }
                grid.unpad(g, padded, dx_block);
            });
            (du, db)
        })
        .collect();
    // Sum the blocks' dU and db in block order, then dw = Gᵀ dU G.
    let (du, db) = blocks::sum_partials(&partials, 16 * g.c * g.co, g.co);
    for (du_block, _) in partials {
        recycle::give(du_block);
    }
    recycle::give(u);
    recycle::give(u_t);
    let block = g.c * g.co;
    let mut dw = vec![0.0f32; 9 * block];
    sandwich(&GT, &GT, &du, block, &mut dw, block, block, &mut Vec::new());
    Conv2dGrads {
        dx: need_dx.then(|| Tensor::from_vec("conv2d winograd backward", &g.x_shape(), dx)),
        dw: Tensor::from_vec("conv2d winograd backward", &g.w_shape(), dw),
        db: Tensor::from_vec("conv2d winograd backward", &[g.co], db),
    }
}
