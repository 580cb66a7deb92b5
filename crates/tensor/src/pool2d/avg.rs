//! Average pooling: y = the mean of each window's real (unpadded) cells; the gradient is shared
//! equally among them.

use rayon::prelude::*;

use super::Pool2dGeometry;
use crate::error::shape_panic;
use crate::{elementwise, Tensor};

pub fn avg_pool2d_forward(g: &Pool2dGeometry, x: &Tensor) -> Tensor {
    if x.shape() != g.x_shape() {
        shape_panic(
            "avg_pool2d forward",
            &format!("x should have shape {:?}", g.x_shape()),
            &[("x", x.shape())],
        );
    }
    let x = x.data();
    let (x_image, y_image) = (g.h * g.w * g.c, g.ho * g.wo * g.c);
    // Every value is written (each pixel's sums start from zero), so recycled storage will do.
    let mut y = crate::recycle::take(g.n * y_image);
    // One task per image: a row of a small layer (LeNet-5's 14 x 6 values) is too little work
    // for a task of its own.
    y.par_chunks_mut(y_image)
        .zip(x.par_chunks(x_image))
        .for_each(|(y_img, image)| {
            for (p, y_px) in y_img.chunks_exact_mut(g.c).enumerate() {
                let (rows, cols) = (g.rows(p / g.wo), g.cols(p % g.wo));
                y_px.fill(0.0);
                for iy in rows.clone() {
                    let x_row = &image[(iy * g.w + cols.start) * g.c..][..cols.len() * g.c];
                    for x_px in x_row.chunks_exact(g.c) {
                        for (s, &v) in y_px.iter_mut().zip(x_px) {
                            *s += v;
                        }
                    }
                }
                // Never zero: every window holds at least one real cell (see Pool2dGeometry).
                let count = (rows.len() * cols.len()) as f32;
                y_px.iter_mut().for_each(|s| *s /= count);
            }
        });
    Tensor::from_vec("avg_pool2d forward", &g.y_shape(), y)
}

pub fn avg_pool2d_backward(g: &Pool2dGeometry, dy: &Tensor) -> Tensor {
    if dy.shape() != g.y_shape() {
        shape_panic(
            "avg_pool2d backward",
            &format!("dy should have shape {:?}", g.y_shape()),
            &[("dy", dy.shape())],
        );
    }
    let image = g.h * g.w * g.c;
    let mut dx = elementwise::zeros(g.n * image);
    dx.par_chunks_mut(image)
        .zip(dy.data().par_chunks(g.ho * g.wo * g.c))
        .for_each(|(dx_img, dy_img)| {
            for oy in 0..g.ho {
                for ox in 0..g.wo {
                    let (rows, cols) = (g.rows(oy), g.cols(ox));
                    let share = 1.0 / (rows.len() * cols.len()) as f32;
                    let dy_px = &dy_img[(oy * g.wo + ox) * g.c..][..g.c];
                    for iy in rows {
                        let dx_row =
                            &mut dx_img[(iy * g.w + cols.start) * g.c..][..cols.len() * g.c];
                        for dx_px in dx_row.chunks_exact_mut(g.c) {
                            for (d, &v) in dx_px.iter_mut().zip(dy_px) {
                                *d += v * share;
                            }
                        }
                    }
                }
            }
        });
    Tensor::from_vec("avg_pool2d backward", &g.x_shape(), dx)
}
