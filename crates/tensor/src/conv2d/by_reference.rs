//! `ConvAlgorithm::Reference`: the f64 reference kernels (`crate::reference::conv2d`) behind the
//! f32 interface every algorithm has. Inputs are widened to f64, the plain loops run, and the
//! results are rounded back to f32 once, so this is also the most accurate algorithm; it is the
//! slowest by far (no blocking, no vectors), which is the point: `--conv reference` trains a
//! network whose every convolution a reader can follow line by line.
//!
//! The only thing added to the plain loops: the batch is handed to them one image at a time, the
//! images spread over the threads, and each image's dw and db are added in image order, so the
//! result does not depend on the thread count.

use rayon::prelude::*;

use super::{Conv2dGeometry, Conv2dGrads};
use crate::{reference, Tensor};

/// One image's gradients, before the batch's dw and db are summed.
struct ImageGrads {
    dx: Option<Vec<f64>>,
    dw: Vec<f64>,
    db: Vec<f64>,
}

/// The geometry of one image of the batch.
fn one_image(g: &Conv2dGeometry) -> Conv2dGeometry {
    Conv2dGeometry { n: 1, ..*g }
}

fn wide(t: &Tensor) -> Vec<f64> {
    t.data().iter().map(|&v| v as f64).collect()
}

fn narrow(op: &str, shape: &[usize], values: Vec<f64>) -> Tensor {
    Tensor::from_vec(op, shape, values.into_iter().map(|v| v as f32).collect())
}

pub fn forward(g: &Conv2dGeometry, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    g.assert_shapes(
        "conv2d reference forward",
        &[("x", x, g.x_shape()), ("w", w, g.w_shape())],
    );
    if let Some(b) = b {
        g.assert_bias("conv2d reference forward", b);
    }
    let (one, b, w) = (one_image(g), b.map(wide), wide(w));
    let y: Vec<f64> = x
        .data()
        .par_chunks(g.h * g.w * g.c)
        .flat_map_iter(|image| {
            let image: Vec<f64> = image.iter().map(|&v| v as f64).collect();
            reference::conv2d_forward(&one, &image, &w, b.as_deref())
        })
        .collect();
    narrow("conv2d reference forward", &g.y_shape(), y)
}

pub fn backward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    need_dx: bool,
) -> Conv2dGrads {
    g.assert_shapes(
        "conv2d reference backward",
        &[
            ("x", x, g.x_shape()),
            ("w", w, g.w_shape()),
            ("dy", dy, g.y_shape()),
        ],
    );
    let (one, w) = (one_image(g), wide(w));
    let per_image: Vec<ImageGrads> = x
        .data()
        .par_chunks(g.h * g.w * g.c)
        .zip(dy.data().par_chunks(g.ho * g.wo * g.co))
        .map(|(x, dy)| {
            let (x, dy): (Vec<f64>, Vec<f64>) = (
                x.iter().map(|&v| v as f64).collect(),
                dy.iter().map(|&v| v as f64).collect(),
            );
            let dx = need_dx.then(|| reference::conv2d_backward_x(&one, &w, &dy));
            let dw = reference::conv2d_backward_w(&one, &x, &dy);
            ImageGrads {
                dx,
                dw,
                db: reference::conv2d_backward_b(&one, &dy),
            }
        })
        .collect();
    let (mut dw, mut db) = (vec![0.0; w.len()], vec![0.0; g.co]);
    for image in &per_image {
        dw.iter_mut().zip(&image.dw).for_each(|(s, v)| *s += v);
        db.iter_mut().zip(&image.db).for_each(|(s, v)| *s += v);
    }
    let dx = need_dx.then(|| {
        let dx = per_image
            .into_iter()
            .flat_map(|image| image.dx.unwrap_or_default());
        narrow("conv2d reference dx", &g.x_shape(), dx.collect())
    });
    Conv2dGrads {
        dx,
        dw: narrow("conv2d reference dw", &g.w_shape(), dw),
        db: narrow("conv2d reference db", &[g.co], db),
    }
}
