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
    let mut y = elementwise::zeros(g.n * g.ho * g.wo * g.c);
    y.par_chunks_mut(g.wo * g.c)
        .enumerate()
        .for_each(|(row, y_row)| {
            let (ni, oy) = (row / g.ho, row % g.ho);
            let image = &x[ni * g.h * g.w * g.c..][..g.h * g.w * g.c];
            for (ox, y_px) in y_row.chunks_exact_mut(g.c).enumerate() {
                let (rows, cols) = (g.rows(oy), g.cols(ox));
                for iy in rows.clone() {
                    for ix in cols.clone() {
                        let x_px = &image[(iy * g.w + ix) * g.c..][..g.c];
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
                        for ix in cols.clone() {
                            let dx_px = &mut dx_img[(iy * g.w + ix) * g.c..][..g.c];
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
