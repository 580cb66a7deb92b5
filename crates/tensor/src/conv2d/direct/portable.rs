//! The portable direct convolution: loops over windows, no patch matrix, no intrinsics; what runs
//! where convlab has no vector kernel (`CONVLAB_MAX_ISA=baseline`, or a CPU without AVX2).
//!
//! Every inner loop runs over a contiguous run of channels, so the compiler turns it into vector
//! FMAs (an "axpy": `acc[..] += scalar * row[..]`):
//! - forward: for each output pixel and tap (ky, kx, ci), `y[n, oy, ox, :] += x[..ci] * w[ky, kx, ci, :]`
//!   (over CO);
//! - input gradient, as a transposed convolution gathered per input pixel:
//!   `dx[n, iy, ix, :] += dy[n, oy, ox, co] * wt[ky, kx, co, :]` (over C), with w transposed once
//!   to wt (KH, KW, CO, C) so the run is contiguous;
//! - kernel gradient: `dw[ky, kx, ci, :] += x[..ci] * dy[n, oy, ox, :]` (over CO).
//!
//! Parallel over output rows (forward), input rows (dx) and batch blocks (dw, each block with its
//! own partial sum, added in a fixed order so results do not depend on scheduling).

use rayon::prelude::*;

use crate::conv2d::Conv2dGeometry;
use crate::elementwise;

use crate::gemm::axpy;

/// y = conv2d(x, w) + b, as a flat NHWC vector. Shapes as in the module docs of `conv2d`.
pub(super) fn forward(g: &Conv2dGeometry, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f32> {
    let mut y = elementwise::zeros(g.n * g.ho * g.wo * g.co);
    // One task per output row (n, oy): WO pixels of CO channels.
    y.par_chunks_mut(g.wo * g.co)
        .enumerate()
        .for_each(|(row, y_row)| {
            let (ni, oy) = (row / g.ho, row % g.ho);
            for (ox, y_px) in y_row.chunks_exact_mut(g.co).enumerate() {
                if let Some(b) = b {
                    y_px.copy_from_slice(b);
                }
                for ky in 0..g.kh {
                    let Some(iy) = g.input_row(oy, ky) else {
                        continue;
                    };
                    for kx in 0..g.kw {
                        let Some(ix) = g.input_col(ox, kx) else {
                            continue;
                        };
                        let x_px = &x[((ni * g.h + iy) * g.w + ix) * g.c..][..g.c];
                        // w[ky, kx, :, :] is a C x CO block: row ci holds the weights of x_px[ci].
                        let w_tap = &w[(ky * g.kw + kx) * g.c * g.co..][..g.c * g.co];
                        for (&xv, w_row) in x_px.iter().zip(w_tap.chunks_exact(g.co)) {
                            axpy(y_px, xv, w_row);
                        }
                    }
                }
            }
        });
    y
}

/// dx as a transposed convolution, gathered: each input pixel collects the outputs that read it.
pub(super) fn input_grad(g: &Conv2dGeometry, w: &[f32], dy: &[f32]) -> Vec<f32> {
    // wt[ky, kx, co, ci] = w[ky, kx, ci, co], so that a run over ci is contiguous.
    let mut wt = vec![0.0f32; w.len()];
    for tap in 0..g.kh * g.kw {
        for ci in 0..g.c {
            for co in 0..g.co {
                wt[(tap * g.co + co) * g.c + ci] = w[(tap * g.c + ci) * g.co + co];
            }
        }
    }
    // Output index o along one axis reads input i at tap t when o * stride + t - pad = i.
    let source = |i: usize, t: usize, pad: usize, stride: usize, out: usize| {
        let shifted = (i + pad).checked_sub(t)?;
        (shifted % stride == 0 && shifted / stride < out).then_some(shifted / stride)
    };
    let mut dx = elementwise::zeros(g.n * g.h * g.w * g.c);
    dx.par_chunks_mut(g.w * g.c)
        .enumerate()
        .for_each(|(row, dx_row)| {
            let (ni, iy) = (row / g.h, row % g.h);
            for (ix, dx_px) in dx_row.chunks_exact_mut(g.c).enumerate() {
                for ky in 0..g.kh {
                    let Some(oy) = source(iy, ky, g.pad_top, g.sh, g.ho) else {
                        continue;
                    };
                    for kx in 0..g.kw {
                        let Some(ox) = source(ix, kx, g.pad_left, g.sw, g.wo) else {
                            continue;
                        };
                        let dy_px = &dy[((ni * g.ho + oy) * g.wo + ox) * g.co..][..g.co];
                        let wt_tap = &wt[(ky * g.kw + kx) * g.co * g.c..][..g.co * g.c];
                        for (&d, wt_row) in dy_px.iter().zip(wt_tap.chunks_exact(g.c)) {
                            axpy(dx_px, d, wt_row);
                        }
                    }
                }
            }
        });
    dx
}

/// dw summed over the batch: one partial sum per block of images, added in block order.
pub(super) fn kernel_grad(g: &Conv2dGeometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    // A fixed number of blocks (not one per thread), so that the sum does not depend on threads.
    let blocks = g.n.min(8);
    let per_block = g.n.div_ceil(blocks);
    let partials: Vec<Vec<f32>> = (0..blocks)
        .into_par_iter()
        .map(|block| {
            let mut dw = vec![0.0f32; g.kh * g.kw * g.c * g.co];
            let images = block * per_block..((block + 1) * per_block).min(g.n);
            for ni in images {
                for oy in 0..g.ho {
                    for ox in 0..g.wo {
                        let dy_px = &dy[((ni * g.ho + oy) * g.wo + ox) * g.co..][..g.co];
                        for ky in 0..g.kh {
                            let Some(iy) = g.input_row(oy, ky) else {
                                continue;
                            };
                            for kx in 0..g.kw {
                                let Some(ix) = g.input_col(ox, kx) else {
                                    continue;
                                };
                                let x_px = &x[((ni * g.h + iy) * g.w + ix) * g.c..][..g.c];
                                let dw_tap = &mut dw[(ky * g.kw + kx) * g.c * g.co..][..g.c * g.co];
                                for (&xv, dw_row) in x_px.iter().zip(dw_tap.chunks_exact_mut(g.co))
                                {
                                    axpy(dw_row, xv, dy_px);
                                }
                            }
                        }
                    }
                }
            }
            dw
        })
        .collect();
    let mut total = partials[0].clone();
    for part in &partials[1..] {
        for (t, &p) in total.iter_mut().zip(part) {
            *t += p;
        }
    }
    total
}
