//! Max pooling: y = the largest value of each window; the gradient flows to that one input.
//!
//! Forward keeps, for every output cell, the flat index (within its image) of the input that won.
//! Ties go to the first maximum in row-major window order (a later equal value does not replace
//! it), so the backward routes each gradient to exactly one input, deterministically.

use rayon::prelude::*;

use super::Pool2dGeometry;
use crate::error::shape_panic;
use crate::Tensor;

/// The pooled values and, per output cell, the winning input's index within its image
/// (`(iy * W + ix) * C + c`).
#[derive(Clone, Debug)]
pub struct MaxPoolOutput {
    pub y: Tensor,
    pub argmax: Vec<u32>,
}

pub fn max_pool2d_forward(g: &Pool2dGeometry, x: &Tensor) -> MaxPoolOutput {
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
    let x = x.data();
    let out_len = g.n * g.ho * g.wo * g.c;
    let mut y = vec![0.0f32; out_len];
    let mut argmax = vec![0u32; out_len];
    // One task per output row (n, oy).
    y.par_chunks_mut(g.wo * g.c)
        .zip(argmax.par_chunks_mut(g.wo * g.c))
        .enumerate()
        .for_each(|(row, (y_row, arg_row))| {
            let (ni, oy) = (row / g.ho, row % g.ho);
            let image = &x[ni * g.h * g.w * g.c..][..g.h * g.w * g.c];
            for ox in 0..g.wo {
                let best = &mut y_row[ox * g.c..][..g.c];
                let best_at = &mut arg_row[ox * g.c..][..g.c];
                best.fill(f32::NEG_INFINITY);
                best_at.fill(u32::MAX);
                for iy in g.rows(oy) {
                    for ix in g.cols(ox) {
                        let at = (iy * g.w + ix) * g.c;
                        for ch in 0..g.c {
                            let v = image[at + ch];
                            // Strictly greater: ties keep the first. The first cell always wins
                            // (even -inf or NaN), so every output has a real input.
                            if v > best[ch] || best_at[ch] == u32::MAX {
                                best[ch] = v;
                                best_at[ch] = (at + ch) as u32;
                            }
                        }
                    }
                }
            }
        });
    MaxPoolOutput {
        y: Tensor::from_vec("max_pool2d forward", &g.y_shape(), y),
        argmax,
    }
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
    let mut dx = vec![0.0f32; g.n * image];
    dx.par_chunks_mut(image)
        .zip(dy.data().par_chunks(out_image))
        .zip(argmax.par_chunks(out_image))
        .for_each(|((dx_img, dy_img), arg_img)| {
            for (&d, &at) in dy_img.iter().zip(arg_img) {
                dx_img[at as usize] += d;
            }
        });
    Tensor::from_vec("max_pool2d backward", &g.x_shape(), dx)
}
