//! Max and average pooling, the plain way.
//!
//! ```text
//! max: y[n, oy, ox, c] = max over the window's real cells of x[n, iy, ix, c]
//! avg: y[n, oy, ox, c] = mean over the window's real cells of x[n, iy, ix, c]
//! ```
//! The window of output (oy, ox) covers input rows oy*SH - PT .. + PH and columns
//! ox*SW - PL .. + PW (`Pool2dGeometry`); padded cells are not values: they never win a max and
//! are not counted in a mean, as in Keras. Max pooling's tie goes to the first maximum in
//! row-major window order, as the fast kernel breaks it, so both route a gradient to the same
//! input.

use super::{expect_len, tap};
use crate::pool2d::Pool2dGeometry;

/// y (N, HO, WO, C) and, per output, the index of the winning input within its image
/// (`(iy * W + ix) * C + c`, the fast kernel's `argmax`).
pub fn max_pool2d_forward(g: &Pool2dGeometry, x: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let Pool2dGeometry {
        n,
        h,
        w,
        c,
        ph,
        pw,
        ho,
        wo,
        ..
    } = *g;
    expect_len("max_pool2d forward", "x", x, &[n, h, w, c]);
    let mut y = vec![0.0; n * ho * wo * c];
    let mut argmax = vec![0; n * ho * wo * c];
    for ni in 0..n {
        for oy in 0..ho {
            for ox in 0..wo {
                for ci in 0..c {
                    let mut best: Option<(f64, usize)> = None;
                    for ky in inside(oy, g.sh, g.pad_top, ph, h) {
                        let Some(iy) = tap(oy, g.sh, ky, g.pad_top, h) else {
                            continue;
                        };
                        for kx in inside(ox, g.sw, g.pad_left, pw, w) {
                            let Some(ix) = tap(ox, g.sw, kx, g.pad_left, w) else {
                                continue;
                            };
                            let at = (iy * w + ix) * c + ci;
                            let v = x[ni * h * w * c + at];
                            // Strictly greater: an equal value later in the window does not win.
                            if best.is_none_or(|(b, _)| v > b) {
                                best = Some((v, at));
                            }
                        }
                    }
                    // Every window holds at least one real cell (the geometry guarantees it).
                    let (v, at) = best.expect("a pooling window with no real cell");
                    let out = ((ni * ho + oy) * wo + ox) * c + ci;
                    y[out] = v;
                    argmax[out] = at;
                }
            }
        }
    }
    (y, argmax)
}

/// dx (N, H, W, C) from dy: each gradient goes to its window's winner (added where windows
/// overlap).
pub fn max_pool2d_backward(g: &Pool2dGeometry, argmax: &[usize], dy: &[f64]) -> Vec<f64> {
    let Pool2dGeometry {
        n, h, w, c, ho, wo, ..
    } = *g;
    expect_len("max_pool2d backward", "dy", dy, &[n, ho, wo, c]);
    assert_eq!(
        argmax.len(),
        dy.len(),
        "reference max_pool2d backward: argmax"
    );
    let mut dx = vec![0.0; n * h * w * c];
    for (out, (&d, &at)) in dy.iter().zip(argmax).enumerate() {
        let ni = out / (ho * wo * c);
        dx[ni * h * w * c + at] += d;
    }
    dx
}

/// y (N, HO, WO, C): the mean of each window's real cells.
pub fn avg_pool2d_forward(g: &Pool2dGeometry, x: &[f64]) -> Vec<f64> {
    let Pool2dGeometry {
        n,
        h,
        w,
        c,
        ph,
        pw,
        ho,
        wo,
        ..
    } = *g;
    expect_len("avg_pool2d forward", "x", x, &[n, h, w, c]);
    let mut y = vec![0.0; n * ho * wo * c];
    for ni in 0..n {
        for oy in 0..ho {
            for ox in 0..wo {
                for ci in 0..c {
                    let (mut sum, mut count) = (0.0, 0);
                    for ky in inside(oy, g.sh, g.pad_top, ph, h) {
                        let Some(iy) = tap(oy, g.sh, ky, g.pad_top, h) else {
                            continue;
                        };
                        for kx in inside(ox, g.sw, g.pad_left, pw, w) {
                            let Some(ix) = tap(ox, g.sw, kx, g.pad_left, w) else {
                                continue;
                            };
                            sum += x[((ni * h + iy) * w + ix) * c + ci];
                            count += 1;
                        }
                    }
                    y[((ni * ho + oy) * wo + ox) * c + ci] = sum / count as f64;
                }
            }
        }
    }
    y
}

/// dx (N, H, W, C) from dy: each window's gradient shared equally among its real cells.
pub fn avg_pool2d_backward(g: &Pool2dGeometry, dy: &[f64]) -> Vec<f64> {
    let Pool2dGeometry {
        n,
        h,
        w,
        c,
        ph,
        pw,
        ho,
        wo,
        ..
    } = *g;
    expect_len("avg_pool2d backward", "dy", dy, &[n, ho, wo, c]);
    let mut dx = vec![0.0; n * h * w * c];
    let real = |o, stride, pad, window, size| inside(o, stride, pad, window, size).len();
    for ni in 0..n {
        for oy in 0..ho {
            for ox in 0..wo {
                let count = real(oy, g.sh, g.pad_top, ph, h) * real(ox, g.sw, g.pad_left, pw, w);
                for ci in 0..c {
                    let share = dy[((ni * ho + oy) * wo + ox) * c + ci] / count as f64;
                    for ky in inside(oy, g.sh, g.pad_top, ph, h) {
                        let Some(iy) = tap(oy, g.sh, ky, g.pad_top, h) else {
                            continue;
                        };
                        for kx in inside(ox, g.sw, g.pad_left, pw, w) {
                            let Some(ix) = tap(ox, g.sw, kx, g.pad_left, w) else {
                                continue;
                            };
                            dx[((ni * h + iy) * w + ix) * c + ci] += share;
                        }
                    }
                }
            }
        }
    }
    dx
}

/// The taps of output `o`'s window that land inside the input (the others are padding, which
/// pooling skips): a window may be far wider than the input under `same` padding, and looping
/// over its padding would take as long as the window is wide.
fn inside(
    o: usize,
    stride: usize,
    pad: usize,
    window: usize,
    input: usize,
) -> std::ops::Range<usize> {
    let start = o * stride; // the window's first tap, in padded coordinates
    let first = pad.saturating_sub(start).min(window);
    let last = (input + pad).saturating_sub(start).min(window);
    first..last.max(first)
}
