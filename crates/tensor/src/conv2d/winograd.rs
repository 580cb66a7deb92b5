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
//! odd-sized output (whose outputs are dropped).
//!
//! Backward: every step above is linear, so the gradient runs the same steps transposed.
//! ```text
//! dM[ξν] = (A dY Aᵀ)[ξν]          dY of the outputs a tile produced (0 past the edge)
//! dU[ξν] = V[ξν]ᵀ · dM[ξν]        [C, CO], summed over tiles
//! dw     = Gᵀ dU G                per (ci, co)
//! dV[ξν] = dM[ξν] · U[ξν]ᵀ        [T, C]
//! dx    += B dV Bᵀ                scattered back onto each tile's 4x4 window (windows overlap)
//! ```
//! Like im2col, the batch is cut into blocks of a few images, one rayon task each, so V and M of
//! a block stay in the core's cache between the transforms and the GEMMs; partial dw and db are
//! added in block order. The arithmetic differs from im2col's (transforms with ±1/2 factors), so
//! results agree with the other algorithms to float rounding, not bit for bit.

use std::cell::RefCell;

use rayon::prelude::*;

use super::{blocks, Conv2dGeometry, Conv2dGrads};
use crate::elementwise::relu_value;
use crate::gemm::{gemm_serial, MatMut, MatRef};
use crate::recycle;
use crate::Tensor;

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

// The tile transforms run for every tile, so they are written out as the additions their
// matrices amount to, per channel, in groups of LANES channels that the compiler vectorises.
// Each 2-D transform X -> L X Rᵀ applies the 1-D one to the columns of X, then to the rows:
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]     input,          4 -> 4
//   Aᵀ = [1 1 1 0; 0 1 -1 -1]                         output,         4 -> 2
//   A  = (Aᵀ)ᵀ                                        output grad,    2 -> 4
//   B  = (Bᵀ)ᵀ                                        input grad,     4 -> 4
// (the tests compare all of it with the seven-loop reference convolution).

/// Channels processed together by the tile transforms: one AVX-512 register of f32.
const LANES: usize = 16;

/// The channel groups `(first channel, full)` of C channels: full groups of LANES, then single
/// channels for the rest.
fn lane_groups(c: usize) -> impl Iterator<Item = (usize, bool)> {
    let full = c / LANES * LANES;
    (0..full)
        .step_by(LANES)
        .map(|c0| (c0, true))
        .chain((full..c).map(|c0| (c0, false)))
}

#[inline(always)]
fn store<const N: usize>(s: &mut [f32], lane: [f32; N]) {
    s[..N].copy_from_slice(&lane);
}

/// Target size of a block's V plus M: 256K values (1 MB), so they stay in one core's L2 (2 MB).
const BLOCK_VALUES: usize = 1 << 18;
/// At least this many blocks (when the batch has that many images), so both threads have work.
const MIN_BLOCKS: usize = 8;

thread_local! {
    /// Each thread's V (or dV) and M (or dM) buffers, kept between calls.
    static BUFFERS: RefCell<[Vec<f32>; 2]> = const { RefCell::new([Vec::new(), Vec::new()]) };
}

/// Whether Winograd F(2x2, 3x3) computes this convolution: 3x3 kernels at stride 1.
pub fn applies(g: &Conv2dGeometry) -> bool {
    g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1
}

/// Output tiles per image, down and across.
fn tiles(g: &Conv2dGeometry) -> (usize, usize) {
    (g.ho.div_ceil(2), g.wo.div_ceil(2))
}

/// Images per block (depends on the shapes only, never on the thread count).
fn images_per_block(g: &Conv2dGeometry) -> usize {
    let (ty, tx) = tiles(g);
    let per_image = 16 * ty * tx * (g.c + g.co);
    (BLOCK_VALUES / per_image)
        .clamp(1, g.n)
        .min(g.n.div_ceil(MIN_BLOCKS))
}

/// Runs `f` on two buffers of `a` and `b` floats (contents unspecified), this thread's own when
/// they are free.
fn with_buffers<R>(a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    BUFFERS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffers) => {
            let [va, vb] = &mut *buffers;
            if va.len() < a {
                va.resize(a, 0.0);
            }
            if vb.len() < b {
                vb.resize(b, 0.0);
            }
            f(&mut va[..a], &mut vb[..b])
        }
        Err(_) => f(&mut vec![0.0; a], &mut vec![0.0; b]),
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

/// U = G g Gᵀ for every (ci, co): [16, C, CO] from w (3, 3, C, CO).
fn transform_kernel(g: &Conv2dGeometry, w: &[f32]) -> Vec<f32> {
    let block = g.c * g.co;
    let mut u = vec![0.0f32; 16 * block];
    sandwich(&G, &G, w, block, &mut u, block, block, &mut Vec::new());
    u
}

/// The input rows (or columns) of tile index `t` along one axis: 4 from 2t - pad, None where
/// that is outside the input (padding, or past the edge of an odd-sized output).
fn tile_taps(t: usize, pad: usize, len: usize) -> [Option<usize>; 4] {
    std::array::from_fn(|i| (2 * t + i).checked_sub(pad).filter(|&v| v < len))
}

/// V[ξν] = (Bᵀ d B)[ξν] of channels c0..c0+N of one tile, into `v` (entry ξν of this tile at
/// `v[ξν * stride + c0]`).
#[inline(always)]
fn input_tile<const N: usize>(
    g: &Conv2dGeometry,
    image: &[f32],
    (rows, cols): ([Option<usize>; 4], [Option<usize>; 4]),
    c0: usize,
    v: &mut [f32],
    stride: usize,
) {
    let zeros = [0.0f32; N];
    let d: [&[f32]; 16] = std::array::from_fn(|q| match (rows[q / 4], cols[q % 4]) {
        (Some(iy), Some(ix)) => &image[(iy * g.w + ix) * g.c + c0..][..N],
        _ => &zeros[..],
    });
    let mut out = [[0.0f32; N]; 16];
    for k in 0..N {
        // Columns: Bᵀ d, rows [1 0 -1 0], [0 1 1 0], [0 -1 1 0], [0 1 0 -1].
        let t: [[f32; 4]; 4] = [
            std::array::from_fn(|j| d[j][k] - d[8 + j][k]),
            std::array::from_fn(|j| d[4 + j][k] + d[8 + j][k]),
            std::array::from_fn(|j| d[8 + j][k] - d[4 + j][k]),
            std::array::from_fn(|j| d[4 + j][k] - d[12 + j][k]),
        ];
        // Rows: (Bᵀ d) B.
        for (a, t_row) in t.iter().enumerate() {
            out[a * 4][k] = t_row[0] - t_row[2];
            out[a * 4 + 1][k] = t_row[1] + t_row[2];
            out[a * 4 + 2][k] = t_row[2] - t_row[1];
            out[a * 4 + 3][k] = t_row[1] - t_row[3];
        }
    }
    for (q, lane) in out.iter().enumerate() {
        store(&mut v[q * stride + c0..], *lane);
    }
}

/// V for every tile of `images` images starting at `first_image`: `v` is [16, T, C] with
/// T = images * tiles per image.
fn transform_input(g: &Conv2dGeometry, x: &[f32], first_image: usize, v: &mut [f32]) {
    let (ty, tx) = tiles(g);
    let t_total = v.len() / (16 * g.c);
    for t in 0..t_total {
        let (img, pos) = (first_image + t / (ty * tx), t % (ty * tx));
        let image = &x[img * g.h * g.w * g.c..][..g.h * g.w * g.c];
        let taps = (
            tile_taps(pos / tx, g.pad_top, g.h),
            tile_taps(pos % tx, g.pad_left, g.w),
        );
        let v_t = &mut v[t * g.c..];
        for (c0, full) in lane_groups(g.c) {
            if full {
                input_tile::<LANES>(g, image, taps, c0, v_t, t_total * g.c);
            } else {
                input_tile::<1>(g, image, taps, c0, v_t, t_total * g.c);
            }
        }
    }
}

/// The 2x2 outputs Aᵀ M A + b of channels c0..c0+N of one tile (entry ξν of M at
/// `m[ξν * stride + c0]`), rectified if `relu`, written to y at the offsets `y_at` (None for an
/// output past the edge). Aᵀ's rows, [1 1 1 0] and [0 1 -1 -1], applied to the columns of M and
/// then to the rows, written out per channel so the loop over channels vectorises.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn output_tile<const N: usize>(
    m: &[f32],
    stride: usize,
    c0: usize,
    bias: &[f32],
    relu: bool,
    y_at: [[Option<usize>; 2]; 2],
    y: &mut [f32],
) {
    let e: [&[f32]; 16] = std::array::from_fn(|k| &m[k * stride + c0..][..N]);
    let b = &bias[c0..][..N];
    let mut out = [[0.0f32; N]; 4];
    for k in 0..N {
        // Columns: rows 0 and 1 of Aᵀ M, for each of the 4 columns j.
        let r0: [f32; 4] = std::array::from_fn(|j| e[j][k] + e[4 + j][k] + e[8 + j][k]);
        let r1: [f32; 4] = std::array::from_fn(|j| e[4 + j][k] - e[8 + j][k] - e[12 + j][k]);
        // Rows: (Aᵀ M) A.
        out[0][k] = r0[0] + r0[1] + r0[2] + b[k];
        out[1][k] = r0[1] - r0[2] - r0[3] + b[k];
        out[2][k] = r1[0] + r1[1] + r1[2] + b[k];
        out[3][k] = r1[1] - r1[2] - r1[3] + b[k];
    }
    for (q, at) in y_at.iter().flatten().enumerate() {
        let Some(at) = at else { continue };
        let y_px = &mut y[at + c0..][..N];
        if relu {
            for (y, &v) in y_px.iter_mut().zip(&out[q]) {
                *y = relu_value(v);
            }
        } else {
            y_px.copy_from_slice(&out[q]);
        }
    }
}

/// dM = A dY Aᵀ of channels c0..c0+N of one tile, from its 2x2 dY (None past the output's edge).
/// A's rows, [1 0], [1 1], [1 -1], [0 -1], applied to the columns of dY, then to the rows.
#[inline(always)]
fn output_grad_tile<const N: usize>(
    dy: [[Option<&[f32]>; 2]; 2],
    c0: usize,
    dm: &mut [f32],
    stride: usize,
) {
    let zeros = [0.0f32; N];
    let d: [&[f32]; 4] =
        std::array::from_fn(|q| dy[q / 2][q % 2].map_or(&zeros[..], |px| &px[c0..][..N]));
    let mut out = [[0.0f32; N]; 16];
    for k in 0..N {
        // Columns: A dY (4 rows of 2).
        let t: [[f32; 2]; 4] = [
            [d[0][k], d[1][k]],
            [d[0][k] + d[2][k], d[1][k] + d[3][k]],
            [d[0][k] - d[2][k], d[1][k] - d[3][k]],
            [-d[2][k], -d[3][k]],
        ];
        // Rows: (A dY) Aᵀ.
        for (a, t_row) in t.iter().enumerate() {
            out[a * 4][k] = t_row[0];
            out[a * 4 + 1][k] = t_row[0] + t_row[1];
            out[a * 4 + 2][k] = t_row[0] - t_row[1];
            out[a * 4 + 3][k] = -t_row[1];
        }
    }
    for (q, lane) in out.iter().enumerate() {
        store(&mut dm[q * stride + c0..], *lane);
    }
}

/// B dV Bᵀ of channels c0..c0+N of one tile, added onto its 4x4 window of dx. B's rows,
/// [1 0 0 0], [0 1 -1 1], [-1 1 1 0], [0 0 0 -1], applied to the columns of dV, then to the rows.
#[inline(always)]
fn input_grad_tile<const N: usize>(
    g: &Conv2dGeometry,
    dv: &[f32],
    stride: usize,
    (rows, cols): ([Option<usize>; 4], [Option<usize>; 4]),
    c0: usize,
    dx_img: &mut [f32],
) {
    let e: [&[f32]; 16] = std::array::from_fn(|q| &dv[q * stride + c0..][..N]);
    let mut dd = [[0.0f32; N]; 16];
    for k in 0..N {
        let t: [[f32; 4]; 4] = [
            std::array::from_fn(|j| e[j][k]),
            std::array::from_fn(|j| e[4 + j][k] - e[8 + j][k] + e[12 + j][k]),
            std::array::from_fn(|j| e[4 + j][k] + e[8 + j][k] - e[j][k]),
            std::array::from_fn(|j| -e[12 + j][k]),
        ];
        for (a, t_row) in t.iter().enumerate() {
            dd[a * 4][k] = t_row[0];
            dd[a * 4 + 1][k] = t_row[1] - t_row[2] + t_row[3];
            dd[a * 4 + 2][k] = t_row[1] + t_row[2] - t_row[0];
            dd[a * 4 + 3][k] = -t_row[3];
        }
    }
    for (q, lane) in dd.iter().enumerate() {
        let (Some(iy), Some(ix)) = (rows[q / 4], cols[q % 4]) else {
            continue;
        };
        let px = &mut dx_img[(iy * g.w + ix) * g.c + c0..][..N];
        px.iter_mut().zip(lane).for_each(|(p, &v)| *p += v);
    }
}

/// The 16 GEMMs `out[ξν] = alpha · a[ξν] · b[ξν]` (or with a transposed operand, via `view`).
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
        gemm_serial(
            1.0,
            ma,
            mb,
            0.0,
            MatMut::row_major(&mut out[e * lo..][..lo], rows, cols),
        );
    }
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
    let (ty, tx) = tiles(g);
    let images = images_per_block(g);
    // The tiles cover every output, so recycled storage needs no zeroing.
    let mut y = recycle::take(g.n * g.ho * g.wo * g.co);
    y.par_chunks_mut(images * g.ho * g.wo * g.co)
        .enumerate()
        .for_each(|(block, y_block)| {
            let t_total = y_block.len() / (g.ho * g.wo * g.co) * ty * tx;
            with_buffers(16 * t_total * g.c, 16 * t_total * g.co, |v, m| {
                transform_input(g, x.data(), block * images, v);
                gemms(v, &u, m, |v, u| {
                    (
                        MatRef::row_major(v, t_total, g.c),
                        MatRef::row_major(u, g.c, g.co),
                    )
                });
                // y = Aᵀ M A per tile, keeping the outputs inside the image.
                for t in 0..t_total {
                    let (img, pos) = (t / (ty * tx), t % (ty * tx));
                    let (oy0, ox0) = (2 * (pos / tx), 2 * (pos % tx));
                    let m_t = &m[t * g.co..];
                    let at = |i: usize, j: usize| {
                        let (oy, ox) = (oy0 + i, ox0 + j);
                        (oy < g.ho && ox < g.wo).then(|| ((img * g.ho + oy) * g.wo + ox) * g.co)
                    };
                    let y_at = [[at(0, 0), at(0, 1)], [at(1, 0), at(1, 1)]];
                    for (c0, full) in lane_groups(g.co) {
                        let stride = t_total * g.co;
                        if full {
                            output_tile::<LANES>(m_t, stride, c0, &bias, relu, y_at, y_block);
                        } else {
                            output_tile::<1>(m_t, stride, c0, &bias, relu, y_at, y_block);
                        }
                    }
                }
            });
        });
    Tensor::from_vec("conv2d winograd forward", &g.y_shape(), y)
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
    let u = transform_kernel(g, w.data());
    let (ty, tx) = tiles(g);
    let images = images_per_block(g);
    let image_len = g.h * g.w * g.c;
    let y_block_len = images * g.ho * g.wo * g.co;
    // Each block zeroes its images of dx before adding into them.
    let mut dx = recycle::take(if need_dx { g.n * image_len } else { 0 });
    let dx_blocks = blocks::dx_blocks(g, &mut dx, images, need_dx);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx_blocks
        .into_par_iter()
        .zip(dy.data().par_chunks(y_block_len))
        .enumerate()
        .map(|(block, (dx_block, dy_block))| {
            let dy_block =
                &*blocks::masked_dy(dy_block, relu_y.map(Tensor::data), block * y_block_len);
            let block_images = dy_block.len() / (g.ho * g.wo * g.co);
            let t_total = block_images * ty * tx;
            let db = blocks::column_sums(dy_block, g.co);
            let mut du = vec![0.0f32; 16 * g.c * g.co];
            with_buffers(16 * t_total * g.c, 16 * t_total * g.co, |v, dm| {
                // dM = A dY Aᵀ per tile, with dY = 0 for outputs past the edge.
                for t in 0..t_total {
                    let (img, pos) = (t / (ty * tx), t % (ty * tx));
                    let (oy0, ox0) = (2 * (pos / tx), 2 * (pos % tx));
                    let dy_tile: [[Option<&[f32]>; 2]; 2] = std::array::from_fn(|i| {
                        std::array::from_fn(|j| {
                            let (oy, ox) = (oy0 + i, ox0 + j);
                            (oy < g.ho && ox < g.wo).then(|| {
                                &dy_block[((img * g.ho + oy) * g.wo + ox) * g.co..][..g.co]
                            })
                        })
                    });
                    let dm_t = &mut dm[t * g.co..];
                    for (c0, full) in lane_groups(g.co) {
                        if full {
                            output_grad_tile::<LANES>(dy_tile, c0, dm_t, t_total * g.co);
                        } else {
                            output_grad_tile::<1>(dy_tile, c0, dm_t, t_total * g.co);
                        }
                    }
                }
                // dU = Vᵀ · dM, per ξν.
                transform_input(g, x.data(), block * images, v);
                gemms(v, dm, &mut du, |v, dm| {
                    (
                        MatRef::row_major(v, t_total, g.c).t(),
                        MatRef::row_major(dm, t_total, g.co),
                    )
                });
                let Some(dx_block) = dx_block else {
                    return;
                };
                dx_block.fill(0.0);
                // dV = dM · Uᵀ into V's buffer (V is no longer needed), then dx += B dV Bᵀ.
                gemms(dm, &u, v, |dm, u| {
                    (
                        MatRef::row_major(dm, t_total, g.co),
                        MatRef::row_major(u, g.c, g.co).t(),
                    )
                });
                for t in 0..t_total {
                    let (img, pos) = (t / (ty * tx), t % (ty * tx));
                    let taps = (
                        tile_taps(pos / tx, g.pad_top, g.h),
                        tile_taps(pos % tx, g.pad_left, g.w),
                    );
                    let dx_img = &mut dx_block[img * image_len..][..image_len];
                    let dv_t = &v[t * g.c..];
                    for (c0, full) in lane_groups(g.c) {
                        if full {
                            input_grad_tile::<LANES>(g, dv_t, t_total * g.c, taps, c0, dx_img);
                        } else {
                            input_grad_tile::<1>(g, dv_t, t_total * g.c, taps, c0, dx_img);
                        }
                    }
                }
            });
            (du, db)
        })
        .collect();
    // Sum the blocks' dU and db in block order, then dw = Gᵀ dU G.
    let (du, db) = blocks::sum_partials(&partials, 16 * g.c * g.co, g.co);
    let block = g.c * g.co;
    let mut dw = vec![0.0f32; 9 * block];
    sandwich(&GT, &GT, &du, block, &mut dw, block, block, &mut Vec::new());
    Conv2dGrads {
        dx: need_dx.then(|| Tensor::from_vec("conv2d winograd backward", &g.x_shape(), dx)),
        dw: Tensor::from_vec("conv2d winograd backward", &g.w_shape(), dw),
        db: Tensor::from_vec("conv2d winograd backward", &[g.co], db),
    }
}
