//! Convolution (cross-correlation, as every framework computes it), the plain way.
//!
//! ```text
//! y[n, oy, ox, co] = b[co] + Σ_{ky, kx, ci} x[n, oy*SH + ky - PT, ox*SW + kx - PL, ci] · w[ky, kx, ci, co]
//! ```
//! N batch, H x W input, C input channels, KH x KW kernel, CO output channels, HO x WO output,
//! SH, SW strides, PT, PL padding above and left (TensorFlow's `same` rule: `Conv2dGeometry`).
//! A tap outside the input reads zero. Each gradient follows from the sum above by asking which
//! terms a value appears in: x[..] and w[..] meet in exactly the products the forward forms.

use super::{expect_len, tap};
use crate::conv2d::Conv2dGeometry;

/// y (N, HO, WO, CO) from x (N, H, W, C), w (KH, KW, C, CO) and b (CO) if the layer has one.
pub fn conv2d_forward(g: &Conv2dGeometry, x: &[f64], w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
    let Conv2dGeometry {
        n,
        h,
        w: width,
        c,
        kh,
        kw,
        co,
        ho,
        wo,
        ..
    } = *g;
    expect_len("conv2d forward", "x", x, &[n, h, width, c]);
    expect_len("conv2d forward", "w", w, &[kh, kw, c, co]);
    if let Some(b) = b {
        expect_len("conv2d forward", "b", b, &[co]);
    }
    let mut y = vec![0.0; n * ho * wo * co];
    for ni in 0..n {
        for oy in 0..ho {
            for ox in 0..wo {
                for o in 0..co {
                    let mut sum = b.map_or(0.0, |b| b[o]);
                    for ky in 0..kh {
                        let Some(iy) = tap(oy, g.sh, ky, g.pad_top, h) else {
                            continue;
                        };
                        for kx in 0..kw {
                            let Some(ix) = tap(ox, g.sw, kx, g.pad_left, width) else {
                                continue;
                            };
                            for ci in 0..c {
                                sum += x[((ni * h + iy) * width + ix) * c + ci]
                                    * w[((ky * kw + kx) * c + ci) * co + o];
                            }
                        }
                    }
                    y[((ni * ho + oy) * wo + ox) * co + o] = sum;
                }
            }
        }
    }
    y
}

/// dx (N, H, W, C) from dy (N, HO, WO, CO): each x value collects dy · w over every output
/// position and tap that read it.
pub fn conv2d_backward_x(g: &Conv2dGeometry, w: &[f64], dy: &[f64]) -> Vec<f64> {
    let Conv2dGeometry {
        n,
        h,
        w: width,
        c,
        kh,
        kw,
        co,
        ho,
        wo,
        ..
    } = *g;
    expect_len("conv2d backward_x", "w", w, &[kh, kw, c, co]);
    expect_len("conv2d backward_x", "dy", dy, &[n, ho, wo, co]);
    let mut dx = vec![0.0; n * h * width * c];
    for ni in 0..n {
        for oy in 0..ho {
            for ox in 0..wo {
                for o in 0..co {
                    let d = dy[((ni * ho + oy) * wo + ox) * co + o];
                    for ky in 0..kh {
                        let Some(iy) = tap(oy, g.sh, ky, g.pad_top, h) else {
                            continue;
                        };
                        for kx in 0..kw {
                            let Some(ix) = tap(ox, g.sw, kx, g.pad_left, width) else {
                                continue;
                            };
                            for ci in 0..c {
                                dx[((ni * h + iy) * width + ix) * c + ci] +=
                                    d * w[((ky * kw + kx) * c + ci) * co + o];
                            }
                        }
                    }
                }
            }
        }
    }
    dx
}

/// dw (KH, KW, C, CO) from x and dy: each weight collects x · dy over every position it met.
pub fn conv2d_backward_w(g: &Conv2dGeometry, x: &[f64], dy: &[f64]) -> Vec<f64> {
    let Conv2dGeometry {
        n,
        h,
        w: width,
        c,
        kh,
        kw,
        co,
        ho,
        wo,
        ..
    } = *g;
    expect_len("conv2d backward_w", "x", x, &[n, h, width, c]);
    expect_len("conv2d backward_w", "dy", dy, &[n, ho, wo, co]);
    let mut dw = vec![0.0; kh * kw * c * co];
    for ni in 0..n {
        for oy in 0..ho {
            for ox in 0..wo {
                for o in 0..co {
                    let d = dy[((ni * ho + oy) * wo + ox) * co + o];
                    for ky in 0..kh {
                        let Some(iy) = tap(oy, g.sh, ky, g.pad_top, h) else {
                            continue;
                        };
                        for kx in 0..kw {
                            let Some(ix) = tap(ox, g.sw, kx, g.pad_left, width) else {
                                continue;
                            };
                            for ci in 0..c {
                                dw[((ky * kw + kx) * c + ci) * co + o] +=
                                    x[((ni * h + iy) * width + ix) * c + ci] * d;
                            }
                        }
                    }
                }
            }
        }
    }
    dw
}

/// db (CO) from dy: each bias was added to every output position of its channel.
pub fn conv2d_backward_b(g: &Conv2dGeometry, dy: &[f64]) -> Vec<f64> {
    let Conv2dGeometry { n, co, ho, wo, .. } = *g;
    expect_len("conv2d backward_b", "dy", dy, &[n, ho, wo, co]);
    let mut db = vec![0.0; co];
    for (i, d) in dy.iter().enumerate() {
        db[i % co] += d;
    }
    db
}
