//! im2col convolution: unroll windows into a patch matrix, then one GEMM.
//!
//! The patch matrix P has one row per output position (n, oy, ox) and one column per kernel tap
//! (ky, kx, ci), in that order, so its column order is the row order of the kernel reshaped to
//! W [KH*KW*C, CO]. Then
//! ```text
//! forward:   Y  = P · W + b        [N*HO*WO, CO], which is already y in NHWC
//! backward:  dW = Pᵀ · dY          [KH*KW*C, CO]
//!            dP = dY · Wᵀ          [N*HO*WO, KH*KW*C], then col2im adds each row back into dx
//!            db = column sums of dY
//! ```
//! The transposes are strides (`MatRef::t`), not copies. P is rebuilt in the backward pass rather
//! than kept from the forward: building it is cheap next to the GEMM and saves its memory between
//! the passes (58 MB for conv2 at batch 256).

use std::cell::RefCell;

use rayon::prelude::*;

use super::{bias_grad, Conv2dGeometry, Conv2dGrads};
use crate::gemm::{gemm, MatMut, MatRef};
use crate::Tensor;

thread_local! {
    /// The patch matrix buffer, kept between calls: at batch 32 it is 7 MB for conv2, and
    /// allocating it afresh each step costs a memset or page faults every time.
    static PATCHES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Values per block of the patch matrix in the forward pass: 2 MB, about 1,800 rows of conv2's
/// 288 taps (and all of conv1's at batch 32: its rows have only 9 taps).
const FORWARD_BLOCK_VALUES: usize = 1 << 19;

/// Runs `f` on a buffer of `len` floats (contents unspecified), reusing this thread's buffer
/// when it is free (a fresh one otherwise, e.g. if a conv runs inside another's `f`).
fn with_patch_buffer<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    PATCHES.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            f(&mut buffer[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Writes the patch matrix of `x` into `patches` ([N*HO*WO, KH*KW*C], row-major).
/// Padding taps are written as zeros, so `patches` may hold anything on entry.
pub fn im2col(g: &Conv2dGeometry, x: &[f32], patches: &mut [f32]) {
    im2col_rows(g, x, 0, patches);
}

/// The part of the patch matrix that belongs to output rows `first_row..` (an output row is one
/// (n, oy) pair, i.e. WO patch rows), as many rows as `patches` holds.
fn im2col_rows(g: &Conv2dGeometry, x: &[f32], first_row: usize, patches: &mut [f32]) {
    let k = g.kh * g.kw * g.c;
    assert!(
        patches.len().is_multiple_of(g.wo * k)
            && first_row * g.wo * k + patches.len() <= g.n * g.ho * g.wo * k,
        "im2col: patch buffer size"
    );
    // One output row (n, oy) per task: WO rows of the patch matrix.
    patches
        .par_chunks_mut(g.wo * k)
        .enumerate()
        .for_each(|(i, p_row)| {
            let row = first_row + i;
            let (ni, oy) = (row / g.ho, row % g.ho);
            for ox in 0..g.wo {
                let patch = &mut p_row[ox * k..(ox + 1) * k];
                for ky in 0..g.kh {
                    let taps = &mut patch[ky * g.kw * g.c..(ky + 1) * g.kw * g.c];
                    let Some(iy) = g.input_row(oy, ky) else {
                        taps.fill(0.0);
                        continue;
                    };
                    for kx in 0..g.kw {
                        let tap = &mut taps[kx * g.c..(kx + 1) * g.c];
                        match g.input_col(ox, kx) {
                            Some(ix) => {
                                let at = ((ni * g.h + iy) * g.w + ix) * g.c;
                                tap.copy_from_slice(&x[at..at + g.c]);
                            }
                            None => tap.fill(0.0),
                        }
                    }
                }
            }
        });
}

/// The adjoint of `im2col`: adds every patch-matrix entry back into the input position it was
/// copied from. Parallel over images: the windows of one image overlap, those of two never do.
pub fn col2im(g: &Conv2dGeometry, dpatches: &[f32], dx: &mut [f32]) {
    let k = g.kh * g.kw * g.c;
    let image = g.h * g.w * g.c;
    dx.par_chunks_mut(image)
        .zip(dpatches.par_chunks(g.ho * g.wo * k))
        .for_each(|(dx_img, dp_img)| {
            dx_img.fill(0.0);
            for oy in 0..g.ho {
                for ox in 0..g.wo {
                    let patch = &dp_img[(oy * g.wo + ox) * k..][..k];
                    for ky in 0..g.kh {
                        let Some(iy) = g.input_row(oy, ky) else {
                            continue;
                        };
                        for kx in 0..g.kw {
                            let Some(ix) = g.input_col(ox, kx) else {
                                continue;
                            };
                            let tap = &patch[(ky * g.kw + kx) * g.c..][..g.c];
                            let dx_px = &mut dx_img[(iy * g.w + ix) * g.c..][..g.c];
                            for (d, &v) in dx_px.iter_mut().zip(tap) {
                                *d += v;
                            }
                        }
                    }
                }
            }
        });
}

/// y = conv2d(x, w) + b by im2col and one GEMM. Shapes as in the module docs.
pub fn im2col_forward(g: &Conv2dGeometry, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    g.assert_shapes(
        "conv2d im2col forward",
        &[("x", x, g.x_shape()), ("w", w, g.w_shape())],
    );
    let (m, k) = (g.n * g.ho * g.wo, g.kh * g.kw * g.c);
    // Start y as the bias broadcast over rows and let the GEMM add P·W to it (beta = 1).
    let mut y = match b {
        Some(b) => {
            g.assert_bias("conv2d im2col forward", b);
            b.data().repeat(m)
        }
        None => vec![0.0f32; m * g.co],
    };
    // The patch matrix is built and multiplied in blocks of about FORWARD_BLOCK_VALUES values,
    // so each block is still in cache when the GEMM reads it: at batch 256 the whole matrix of
    // conv2 is 58 MB and the untiled forward ran at half the speed of batch 32.
    let out_rows = g.n * g.ho;
    let rows_per_block = (FORWARD_BLOCK_VALUES / (g.wo * k)).max(1);
    with_patch_buffer(rows_per_block.min(out_rows) * g.wo * k, |buffer| {
        for first in (0..out_rows).step_by(rows_per_block) {
            let rows = rows_per_block.min(out_rows - first) * g.wo;
            let patches = &mut buffer[..rows * k];
            im2col_rows(g, x.data(), first, patches);
            let y_block = &mut y[first * g.wo * g.co..][..rows * g.co];
            gemm(
                1.0,
                MatRef::row_major(patches, rows, k),
                MatRef::row_major(w.data(), k, g.co),
                1.0,
                MatMut::row_major(y_block, rows, g.co),
            );
        }
    });
    Tensor::from_vec("conv2d im2col forward", &g.y_shape(), y)
}

/// Gradients of the im2col convolution (see the module docs for the three products). dx is
/// computed only if `need_dx` (not for a first layer, whose input is the data).
pub fn im2col_backward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    need_dx: bool,
) -> Conv2dGrads {
    g.assert_shapes(
        "conv2d im2col backward",
        &[
            ("x", x, g.x_shape()),
            ("w", w, g.w_shape()),
            ("dy", dy, g.y_shape()),
        ],
    );
    let (m, k) = (g.n * g.ho * g.wo, g.kh * g.kw * g.c);
    let mut dw = vec![0.0f32; k * g.co];
    let dx = with_patch_buffer(m * k, |patches| {
        im2col(g, x.data(), patches);
        // dW = Pᵀ · dY: P is read transposed through its strides.
        gemm(
            1.0,
            MatRef::row_major(patches, m, k).t(),
            MatRef::row_major(dy.data(), m, g.co),
            0.0,
            MatMut::row_major(&mut dw, k, g.co),
        );
        if !need_dx {
            return None;
        }
        // dP = dY · Wᵀ, into the same buffer, then scatter it back with col2im.
        gemm(
            1.0,
            MatRef::row_major(dy.data(), m, g.co),
            MatRef::row_major(w.data(), k, g.co).t(),
            0.0,
            MatMut::row_major(patches, m, k),
        );
        let mut dx = vec![0.0f32; g.n * g.h * g.w * g.c];
        col2im(g, patches, &mut dx);
        Some(Tensor::from_vec("conv2d im2col backward", &g.x_shape(), dx))
    });
    Conv2dGrads {
        dx,
        dw: Tensor::from_vec("conv2d im2col backward", &g.w_shape(), dw),
        db: bias_grad(g, dy.data()),
    }
}
