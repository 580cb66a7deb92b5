//! Max pooling: y = the largest value of each window; the gradient flows to that one input.
//!
//! Forward keeps, for every output cell, the flat index (within its image) of the input that won.
//! Ties go to the first maximum in row-major window order (a later equal value does not replace
//! it), so the backward routes each gradient to exactly one input, deterministically.

use rayon::prelude::*;

use super::Pool2dGeometry;
use crate::error::shape_panic;
use crate::{elementwise, recycle, Tensor};

/// The pooled values and, per output cell, the winning input's index within its image
/// (`(iy * W + ix) * C + c`).
#[derive(Clone, Debug)]
pub struct MaxPoolOutput {
    pub y: Tensor,
    pub argmax: Vec<u32>,
}

pub fn max_pool2d_forward(g: &Pool2dGeometry, x: &Tensor) -> MaxPoolOutput {
    check_forward(g, x);
    let out_len = g.n * g.ho * g.wo * g.c;
    // Every output is written (its window's best), so recycled storage needs no zeroing.
    let mut y = recycle::take(out_len);
    let mut argmax = elementwise::zeros(out_len);
    // One task per output row (n, oy).
    y.par_chunks_mut(g.wo * g.c)
        .zip(argmax.par_chunks_mut(g.wo * g.c))
        .enumerate()
        .for_each(|(row, (y_row, arg_row))| max_row::<true>(g, x.data(), row, y_row, arg_row));
    MaxPoolOutput {
        y: Tensor::from_vec("max_pool2d forward", &g.y_shape(), y),
        argmax,
    }
}

/// The forward pass without the argmax, for inference (nothing will run the backward): the same
/// values as `max_pool2d_forward(..).y`.
pub fn max_pool2d_forward_values(g: &Pool2dGeometry, x: &Tensor) -> Tensor {
    check_forward(g, x);
    let mut y = recycle::take(g.n * g.ho * g.wo * g.c);
    y.par_chunks_mut(g.wo * g.c)
        .enumerate()
        .for_each(|(row, y_row)| max_row::<false>(g, x.data(), row, y_row, &mut []));
    Tensor::from_vec("max_pool2d forward", &g.y_shape(), y)
}

fn check_forward(g: &Pool2dGeometry, x: &Tensor) {
    if x.shape() != g.x_shape() {
        shape_panic(
            "max_pool2d forward",
            &format!("x should have shape {:?}", g.x_shape()),
            &[("x", x.shape())],
        );
    }
    assert!(
        g.h * g.w * g.c <= u32::MAX as usize,
        "max_pool2d: an image of {}x{}x{} is too large for 32-bit argmax indices",
        g.h,
        g.w,
        g.c
    );
}

/// One output row (n, oy): the window maxima into `y_row`, and with ARGMAX their flat indices in
/// the image into `arg_row` (which is empty without).
#[inline(always)]
fn max_row<const ARGMAX: bool>(
    g: &Pool2dGeometry,
    x: &[f32],
    row: usize,
    y_row: &mut [f32],
    arg_row: &mut [u32],
) {
    let (ni, oy) = (row / g.ho, row % g.ho);
    let image = &x[ni * g.h * g.w * g.c..][..g.h * g.w * g.c];
    if g.ph == 2 && g.pw == 2 && tiles_exactly(g) {
        return max_row_2x2::<ARGMAX>(g, image, oy, y_row, arg_row);
    }
    for ox in 0..g.wo {
        let best = &mut y_row[ox * g.c..][..g.c];
        let best_at = if ARGMAX {
            &mut arg_row[ox * g.c..][..g.c]
        } else {
            &mut []
        };
        // The first cell of the window starts as the best, whatever it holds (even -inf
        // or NaN), so every output has a real input. (A window is never empty: TF's
        // rules put at least one input in each; if one were, it would stay -inf.)
        best.fill(f32::NEG_INFINITY);
        best_at.fill(u32::MAX);
        let mut first = true;
        for iy in g.rows(oy) {
            for ix in g.cols(ox) {
                let at = (iy * g.w + ix) * g.c;
                let cell = &image[at..][..g.c];
                if first {
                    best.copy_from_slice(cell);
                    for (ch, a) in best_at.iter_mut().enumerate() {
                        *a = (at + ch) as u32;
                    }
                    first = false;
                    continue;
                }
                // Strictly greater: ties keep the first. Written as selects, without a
                // branch, so the loop over channels vectorises.
                if ARGMAX {
                    for (ch, ((b, a), &v)) in best
                        .iter_mut()
                        .zip(best_at.iter_mut())
                        .zip(cell)
                        .enumerate()
                    {
                        let better = v > *b;
                        *b = if better { v } else { *b };
                        *a = if better { (at + ch) as u32 } else { *a };
                    }
                } else {
                    for (b, &v) in best.iter_mut().zip(cell) {
                        *b = if v > *b { v } else { *b };
                    }
                }
            }
        }
    }
}

/// `max_row` for 2x2 windows at stride 2 that tile the image (the chapter's pooling): the four
/// cells of each window compared in row-major order with selects, channel by channel. The same
/// results as the general loop (ties keep the first), without its per-window bookkeeping, which
/// made it cost more than the memory traffic.
#[inline(always)]
fn max_row_2x2<const ARGMAX: bool>(
    g: &Pool2dGeometry,
    image: &[f32],
    oy: usize,
    y_row: &mut [f32],
    arg_row: &mut [u32],
) {
    let c = g.c;
    let row_len = g.w * c;
    let top = 2 * oy * row_len;
    let rows = &image[top..][..2 * row_len];
    // The window's cells as offsets from its top-left cell, in row-major order.
    let offsets = [0, c, row_len, row_len + c];
    for ox in 0..g.wo {
        let left = 2 * ox * c;
        let [c0, c1, c2, c3] = offsets.map(|o| &rows[left + o..][..c]);
        let best = &mut y_row[ox * c..][..c];
        // The winner's index is carried as a u32 per channel, not as which of the four cells
        // won: a lookup by cell would be a gather, and kept the loop scalar (it was 0.6 ms of
        // the chapter's 20 ms step on a Zen 1 EPYC); selects of indices vectorise with the values.
        let first = (top + left) as u32;
        let win = |ch: usize, x: [f32; 4]| -> (f32, u32) {
            let (mut v, mut won) = (x[0], first + ch as u32);
            for k in 1..4 {
                let better = x[k] > v;
                v = if better { x[k] } else { v };
                won = if better {
                    first + offsets[k] as u32 + ch as u32
                } else {
                    won
                };
            }
            (v, won)
        };
        if ARGMAX {
            let best_at = &mut arg_row[ox * c..][..c];
            for (ch, (((((b, a), &x0), &x1), &x2), &x3)) in best
                .iter_mut()
                .zip(best_at.iter_mut())
                .zip(c0)
                .zip(c1)
                .zip(c2)
                .zip(c3)
                .enumerate()
            {
                (*b, *a) = win(ch, [x0, x1, x2, x3]);
            }
        } else {
            for (ch, ((((b, &x0), &x1), &x2), &x3)) in
                best.iter_mut().zip(c0).zip(c1).zip(c2).zip(c3).enumerate()
            {
                *b = win(ch, [x0, x1, x2, x3]).0;
            }
        }
    }
}

/// Whether the windows cover the input exactly once: pool size = stride, no padding, and the
/// output's windows reach the last row and column (as 2x2 pooling of an even size does).
fn tiles_exactly(g: &Pool2dGeometry) -> bool {
    let no_padding = g.pad_top == 0 && g.pad_left == 0;
    no_padding && g.ph == g.sh && g.pw == g.sw && g.ho * g.ph == g.h && g.wo * g.pw == g.w
}

/// dx: each dy goes to the input that won its window (added, since windows may overlap).
pub fn max_pool2d_backward(g: &Pool2dGeometry, argmax: &[u32], dy: &Tensor) -> Tensor {
    if dy.shape() != g.y_shape() || argmax.len() != dy.len() {
        shape_panic(
            "max_pool2d backward",
            &format!(
                "dy should have shape {:?} and argmax {} entries, got {}",
                g.y_shape(),
                dy.len(),
                argmax.len()
            ),
            &[("dy", dy.shape())],
        );
    }
    let image = g.h * g.w * g.c;
    let out_image = g.ho * g.wo * g.c;
    // Every element of dx is written (0 where no window's gradient lands), so recycled storage
    // needs no zeroing. One task per image.
    let mut dx = recycle::take(g.n * image);
    dx.par_chunks_mut(image)
        .zip(dy.data().par_chunks(out_image))
        .zip(argmax.par_chunks(out_image))
        .for_each(|((dx_img, dy_img), arg_img)| unpool_images(g, arg_img, dy_img, dx_img));
    Tensor::from_vec("max_pool2d backward", &g.x_shape(), dx)
}

/// The forward pass over whole images of `x` into `y` (their outputs) on this thread, with the
/// argmax into `argmax` unless it is empty: for callers that pool a few images at a time while
/// they are in cache (`conv_relu_pool`). `g.n` is not used; the slices say how many images.
pub(crate) fn max_pool_images(g: &Pool2dGeometry, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    let row_len = g.wo * g.c;
    let images = y.len() / (g.ho * row_len);
    assert!(
        x.len() == images * g.h * g.w * g.c
            && y.len() == images * g.ho * row_len
            && (argmax.is_empty() || argmax.len() == y.len()),
        "max_pool_images: {} inputs, {} outputs and {} argmax entries are not whole images of {g:?}",
        x.len(),
        y.len(),
        argmax.len()
    );
    for (row, y_row) in y.chunks_exact_mut(row_len).enumerate() {
        if argmax.is_empty() {
            max_row::<false>(g, x, row, y_row, &mut []);
        } else {
            max_row::<true>(g, x, row, y_row, &mut argmax[row * row_len..][..row_len]);
        }
    }
}

/// The backward pass over whole images on this thread: every element of `dx` (the images'
/// inputs) is written, `dy` where its window's argmax points at it and 0 elsewhere (added up
/// where windows overlap).
pub(crate) fn unpool_images(g: &Pool2dGeometry, argmax: &[u32], dy: &[f32], dx: &mut [f32]) {
    let (image, out_image) = (g.h * g.w * g.c, g.ho * g.wo * g.c);
    assert!(
        dy.len() == argmax.len() && dy.len() / out_image * image == dx.len(),
        "unpool_images: {} gradients, {} argmax entries and {} inputs are not whole images of {g:?}",
        dy.len(),
        argmax.len(),
        dx.len()
    );
    let exact = tiles_exactly(g);
    for ((dx_img, dy_img), arg_img) in dx
        .chunks_exact_mut(image)
        .zip(dy.chunks_exact(out_image))
        .zip(argmax.chunks_exact(out_image))
    {
        if !exact {
            // Windows overlap or leave inputs out: zero the image, then add each dy into the
            // input that won its window.
            dx_img.fill(0.0);
            for (&d, &at) in dy_img.iter().zip(arg_img) {
                dx_img[at as usize] += d;
            }
            continue;
        }
        // Every input lies in exactly one window: each dx element is written once, with no
        // zeroing pass first. Output row oy's windows cover input rows oy*ph ..
        for (oy, dx_rows) in dx_img.chunks_exact_mut(g.ph * g.w * g.c).enumerate() {
            let dy_row = &dy_img[oy * g.wo * g.c..][..g.wo * g.c];
            let arg_row = &arg_img[oy * g.wo * g.c..][..g.wo * g.c];
            let first = oy * g.ph * g.w * g.c;
            for (i, dx_px) in dx_rows.chunks_exact_mut(g.c).enumerate() {
                let (ky, ix) = (i / g.w, i % g.w);
                let cell = &dy_row[ix / g.pw * g.c..][..g.c];
                let won = &arg_row[ix / g.pw * g.c..][..g.c];
                let at = first + (ky * g.w + ix) * g.c;
                for (ch, ((d, &dy), &won)) in dx_px.iter_mut().zip(cell).zip(won).enumerate() {
                    *d = if won == (at + ch) as u32 { dy } else { 0.0 };
                }
            }
        }
    }
}
