//! The whole network by hand, in f64: a training step of any `Sequential` of convlab's layers,
//! forward then backward, layer by layer, from the reference kernels
//! (`convlab_tensor::reference`). This is the file to read to see what one step of `fit`
//! computes; the f32 tape must give the same gradients (`tests/integration/network_check.rs`
//! checks it).
//!
//! ```text
//! forward:  a₀ = x;  for each layer l: z_l = layer(a_{l-1}),  a_l = activation(z_l)
//! loss:     L = -(1/N) Σ_n log softmax(z_last)[n, label_n]   (sparse categorical cross-entropy)
//! backward: dz_last = (softmax(z_last) - onehot(labels)) / N;  then for l from last to first:
//!           dz_l = activation'(z_l) · da_l;  (dW_l, db_l, da_{l-1}) = layer's backward of dz_l
//! ```
//! A last layer with a softmax has its softmax folded into the loss, as training does; a last
//! layer without one is taken to output the logits (Keras's `from_logits=True`). Dropout uses
//! the masks it is given, so the step is a fixed function of the weights.

use convlab_tensor::reference::{self as r};
use convlab_tensor::{Conv2dGeometry, Pool2dGeometry};

use crate::activation::Activation;
use crate::layers::{Layer, Size2};
use crate::Sequential;

/// The loss of one batch and the gradient of every weight, in `Sequential::weights()` order.
#[derive(Clone, Debug)]
pub struct ReferenceStep {
    pub loss: f64,
    pub grads: Vec<Vec<f64>>,
    /// Every ReLU's mask and every max pooling's winners, in order: which way each kink went. Two
    /// steps with equal routing differ only smoothly.
    pub routing: Vec<usize>,
    /// The smallest distance of a ReLU input from 0 or of a pooling window's winner from its
    /// runner-up, relative to the largest such value: how close the batch is to a kink.
    pub kink_margin: f64,
}

/// What the backward pass needs of one layer's forward.
enum Saved {
    Conv {
        g: Conv2dGeometry,
        input: Vec<f64>,
        z: Vec<f64>,
    },
    Dense {
        dims: [usize; 3],
        input: Vec<f64>,
        z: Vec<f64>,
    },
    MaxPool {
        g: Pool2dGeometry,
        argmax: Vec<usize>,
    },
    AvgPool {
        g: Pool2dGeometry,
    },
    Flatten,
    Dropout {
        mask: Vec<f64>,
    },
}

/// One step of `model` on the batch `x` (N, input shape...) with `labels`, the weights given in
/// f64 (`weights()` order) and one dropout mask per Dropout layer, in order. Errors name what
/// the reference does not cover (sigmoid and tanh activations, a softmax before the last layer).
pub fn reference_step(
    model: &Sequential,
    weights: &[Vec<f64>],
    x: &[f64],
    labels: &[usize],
    masks: &[Vec<f64>],
) -> Result<ReferenceStep, String> {
    let n = labels.len();
    let (mut a, mut saved, mut next_weight, mut next_mask) = (x.to_vec(), Vec::new(), 0, 0);
    let (mut routing, mut margins) = (Vec::new(), Vec::new());
    let layers = model.layers();
    for (index, entry) in layers.iter().enumerate() {
        let dims = |shape: &[usize]| -> [usize; 4] {
            let [h, w, c] = shape[..] else {
                unreachable!("a 2-d layer's input has 3 dims")
            };
            [n, h, w, c]
        };
        let mut take = |count: usize| {
            let taken = &weights[next_weight..next_weight + count];
            next_weight += count;
            taken
        };
        let (z, layer_saved) = match &entry.layer {
            Layer::Conv2D(l) => {
                let Size2(kh, kw) = l.kernel_size;
                let xs = dims(&entry.input_shape);
                let g = Conv2dGeometry::new(
                    &xs,
                    &[kh, kw, xs[3], l.filters],
                    (l.strides.0, l.strides.1),
                    l.padding,
                )
                .map_err(|e| e.to_string())?;
                let params = take(if l.use_bias { 2 } else { 1 });
                let z = r::conv2d_forward(&g, &a, &params[0], params.get(1).map(|b| &b[..]));
                (
                    z.clone(),
                    Saved::Conv {
                        g,
                        input: std::mem::take(&mut a),
                        z,
                    },
                )
            }
            Layer::Dense(l) => {
                let d = [n, entry.input_shape[0], l.units];
                let params = take(if l.use_bias { 2 } else { 1 });
                let z = r::dense_forward(&a, &params[0], params.get(1).map(|b| &b[..]), d);
                (
                    z.clone(),
                    Saved::Dense {
                        dims: d,
                        input: std::mem::take(&mut a),
                        z,
                    },
                )
            }
            Layer::MaxPooling2D(p) => {
                let g =
                    pool_geometry(&dims(&entry.input_shape), p.pool_size, p.strides, p.padding)?;
                margins.push(pool_margin(&g, &a));
                let (y, argmax) = r::max_pool2d_forward(&g, &a);
                routing.extend(&argmax);
                (y, Saved::MaxPool { g, argmax })
            }
            Layer::AveragePooling2D(p) => {
                let g =
                    pool_geometry(&dims(&entry.input_shape), p.pool_size, p.strides, p.padding)?;
                (r::avg_pool2d_forward(&g, &a), Saved::AvgPool { g })
            }
            Layer::Flatten(_) => (std::mem::take(&mut a), Saved::Flatten),
            Layer::Dropout(_) => {
                let mask = masks
                    .get(next_mask)
                    .ok_or("fewer dropout masks than Dropout layers")?
                    .clone();
                next_mask += 1;
                (r::dropout_forward(&a, &mask), Saved::Dropout { mask })
            }
        };
        let last = index + 1 == layers.len();
        a = match entry.layer.activation() {
            Activation::Linear => z,
            Activation::Relu => {
                let scale = z.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
                margins.push(z.iter().fold(f64::INFINITY, |m, v| m.min(v.abs())) / scale);
                routing.extend(z.iter().map(|&v| usize::from(v > 0.0)));
                r::relu_forward(&z)
            }
            // Folded into the loss below.
            Activation::Softmax if last => z,
            other => {
                return Err(format!(
                    "the reference network does not cover {other:?} in layer {}",
                    entry.name
                ))
            }
        };
        saved.push(layer_saved);
    }

    // The loss of the logits `a`, and its gradient.
    let classes = model.output_shape().iter().product::<usize>();
    let p = r::softmax_forward(&a, classes);
    let loss = r::sparse_categorical_crossentropy_forward(&p, labels, classes);
    let mut da = r::softmax_cross_entropy_backward(&p, labels, classes);

    let mut grads: Vec<Vec<f64>> = vec![Vec::new(); weights.len()];
    let mut slot = weights.len();
    for (index, (entry, layer_saved)) in layers.iter().zip(saved).enumerate().rev() {
        let last = index + 1 == layers.len();
        let activation = entry.layer.activation();
        let dz = |z: &[f64], da: &[f64]| match activation {
            Activation::Relu => r::relu_backward(z, da),
            _ => da.to_vec(),
        };
        da = match layer_saved {
            Saved::Conv { g, input, z } => {
                let dz = if last { da } else { dz(&z, &da) };
                if matches!(&entry.layer, Layer::Conv2D(l) if l.use_bias) {
                    slot -= 1;
                    grads[slot] = r::conv2d_backward_b(&g, &dz);
                }
                slot -= 1;
                grads[slot] = r::conv2d_backward_w(&g, &input, &dz);
                r::conv2d_backward_x(&g, &weights[slot], &dz)
            }
            Saved::Dense { dims, input, z } => {
                let dz = if last { da } else { dz(&z, &da) };
                if matches!(&entry.layer, Layer::Dense(l) if l.use_bias) {
                    slot -= 1;
                    grads[slot] = r::dense_backward_b(&dz, dims);
                }
                slot -= 1;
                grads[slot] = r::dense_backward_w(&input, &dz, dims);
                r::dense_backward_x(&weights[slot], &dz, dims)
            }
            Saved::MaxPool { g, argmax } => r::max_pool2d_backward(&g, &argmax, &da),
            Saved::AvgPool { g } => r::avg_pool2d_backward(&g, &da),
            Saved::Flatten => da,
            Saved::Dropout { mask } => r::dropout_backward(&mask, &da),
        };
    }
    let kink_margin = margins.into_iter().fold(f64::INFINITY, f64::min);
    Ok(ReferenceStep {
        loss,
        grads,
        routing,
        kink_margin,
    })
}

fn pool_geometry(
    x: &[usize; 4],
    pool_size: Size2,
    strides: Option<Size2>,
    padding: convlab_tensor::Padding,
) -> Result<Pool2dGeometry, String> {
    let Size2(sh, sw) = strides.unwrap_or(pool_size);
    Pool2dGeometry::new(x, (pool_size.0, pool_size.1), (sh, sw), padding).map_err(|e| e.to_string())
}

/// The smallest gap between a window's winner and its runner-up, relative to the largest value.
fn pool_margin(g: &Pool2dGeometry, x: &[f64]) -> f64 {
    let scale = x.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    let mut smallest = f64::INFINITY;
    for ni in 0..g.n {
        for oy in 0..g.ho {
            for ox in 0..g.wo {
                for ci in 0..g.c {
                    let mut values = Vec::new();
                    for ky in 0..g.ph {
                        let Some(iy) = (oy * g.sh + ky).checked_sub(g.pad_top).filter(|&i| i < g.h)
                        else {
                            continue;
                        };
                        for kx in 0..g.pw {
                            let Some(ix) = (ox * g.sw + kx)
                                .checked_sub(g.pad_left)
                                .filter(|&i| i < g.w)
                            else {
                                continue;
                            };
                            values.push(x[((ni * g.h + iy) * g.w + ix) * g.c + ci]);
                        }
                    }
                    values.sort_by(|a, b| b.total_cmp(a));
                    // A window of zeros comes from a ReLU, whose mask sends it no gradient.
                    if values.len() > 1 && values[0] != 0.0 {
                        smallest = smallest.min(values[0] - values[1]);
                    }
                }
            }
        }
    }
    smallest / scale
}
