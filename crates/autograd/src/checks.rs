//! The standard gradient checks: one per op (at fixed, representative shapes; the proptests in
//! each op file cover random shapes) and one of the chapter's whole network. `convlab gradcheck`
//! runs them and prints a table; the tests run them too.

use convlab_tensor::{ConvAlgorithm, Padding, Tensor};

use crate::gradcheck::{gradcheck, uniform, GradcheckOptions, GradcheckReport};
use crate::ops::{dropout_mask, ConvSpec, PoolSpec};
use crate::{Tape, Var};

/// One named check: what it differentiates, at which shapes, and how.
pub struct Check {
    pub name: String,
    pub shapes: String,
    run: Box<dyn Fn(u64) -> GradcheckReport + Send + Sync>,
}

impl Check {
    /// Runs the check; `seed` picks the inputs and the projection.
    pub fn run(&self, seed: u64) -> GradcheckReport {
        (self.run)(seed)
    }
}

fn random(shape: &[usize], seed: u64, scale: f32) -> Tensor {
    let v = uniform(shape.iter().product(), seed);
    Tensor::from_vec(
        "check input",
        shape,
        v.into_iter().map(|x| x * scale).collect(),
    )
}

/// Values at least `margin` from zero (relu's kink), in [-1, 1].
fn away_from_zero(shape: &[usize], seed: u64, margin: f32) -> Tensor {
    let mut t = random(shape, seed, 1.0);
    t.data_mut()
        .iter_mut()
        .for_each(|v| *v = v.signum() * (margin + v.abs() * (1.0 - margin)));
    t
}

/// A shuffled ramp: distinct values 0.1 apart, so no max-pool window has a near-tie.
fn spread(shape: &[usize], seed: u64) -> Tensor {
    let len: usize = shape.iter().product();
    let mut v: Vec<f32> = (0..len)
        .map(|i| i as f32 * 0.1 - len as f32 * 0.05)
        .collect();
    let r = uniform(len, seed);
    for i in (1..len).rev() {
        let j = (((r[i] + 1.0) / 2.0) * (i + 1) as f32) as usize;
        v.swap(i, j.min(i));
    }
    Tensor::from_vec("check input", shape, v)
}

/// Linear ops: a large step leaves only rounding error.
fn linear(seed: u64) -> GradcheckOptions {
    GradcheckOptions {
        step: 0.5,
        atol: 1e-4,
        rtol: 1e-3,
        seed,
        norm_tolerance: None,
        kink_tolerance: None,
    }
}

/// Smooth nonlinear ops.
fn smooth(seed: u64) -> GradcheckOptions {
    GradcheckOptions {
        step: 1e-2,
        atol: 1e-4,
        rtol: 1e-3,
        seed,
        norm_tolerance: None,
        kink_tolerance: None,
    }
}

fn check(
    name: impl Into<String>,
    shapes: &[&[usize]],
    run: impl Fn(u64) -> GradcheckReport + Send + Sync + 'static,
) -> Check {
    let shapes: Vec<String> = shapes.iter().map(|s| format!("{s:?}")).collect();
    Check {
        name: name.into(),
        shapes: shapes.join(" "),
        run: Box::new(run),
    }
}

/// Every op's check, then the whole network's.
pub fn all() -> Vec<Check> {
    let mut checks = vec![
        check("matmul", &[&[4, 5], &[5, 3]], |s| {
            gradcheck(
                |t, v| t.matmul(&v[0], &v[1]),
                &[random(&[4, 5], s, 1.0), random(&[5, 3], s + 1, 1.0)],
                linear(s),
            )
        }),
        check("add", &[&[3, 4], &[3, 4]], |s| {
            gradcheck(
                |t, v| t.add(&v[0], &v[1]),
                &[random(&[3, 4], s, 1.0), random(&[3, 4], s + 1, 1.0)],
                linear(s),
            )
        }),
        check("add_bias", &[&[2, 3, 3, 4], &[4]], |s| {
            gradcheck(
                |t, v| t.add_bias(&v[0], &v[1]),
                &[random(&[2, 3, 3, 4], s, 1.0), random(&[4], s + 1, 1.0)],
                linear(s),
            )
        }),
        check("mul", &[&[3, 4], &[3, 4]], |s| {
            gradcheck(
                |t, v| t.mul(&v[0], &v[1]),
                &[random(&[3, 4], s, 1.0), random(&[3, 4], s + 1, 1.0)],
                linear(s),
            )
        }),
        check("scale", &[&[3, 4]], |s| {
            gradcheck(
                |t, v| t.scale(&v[0], -1.5),
                &[random(&[3, 4], s, 1.0)],
                linear(s),
            )
        }),
        check("relu", &[&[3, 5]], |s| {
            let opts = GradcheckOptions {
                step: 0.05,
                ..linear(s)
            };
            gradcheck(
                |t, v| t.relu(&v[0]),
                &[away_from_zero(&[3, 5], s, 0.1)],
                opts,
            )
        }),
        check("sigmoid", &[&[3, 5]], |s| {
            gradcheck(
                |t, v| t.sigmoid(&v[0]),
                &[random(&[3, 5], s, 3.0)],
                smooth(s),
            )
        }),
        check("tanh", &[&[3, 5]], |s| {
            gradcheck(|t, v| t.tanh(&v[0]), &[random(&[3, 5], s, 2.0)], smooth(s))
        }),
        check("flatten", &[&[2, 3, 3, 2]], |s| {
            gradcheck(
                |t, v| t.flatten(&v[0]),
                &[random(&[2, 3, 3, 2], s, 1.0)],
                linear(s),
            )
        }),
        check("softmax", &[&[3, 6]], |s| {
            gradcheck(
                |t, v| t.softmax(&v[0]),
                &[random(&[3, 6], s, 3.0)],
                smooth(s),
            )
        }),
        check("log_softmax", &[&[3, 6]], |s| {
            gradcheck(
                |t, v| t.log_softmax(&v[0]),
                &[random(&[3, 6], s, 3.0)],
                smooth(s),
            )
        }),
        check("sparse_categorical_crossentropy", &[&[4, 6]], |s| {
            gradcheck(
                |t, v| {
                    t.sparse_categorical_crossentropy(&v[0], &[0, 5, 2, 2])
                        .expect("labels in range")
                },
                &[random(&[4, 6], s, 3.0)],
                smooth(s),
            )
        }),
        check("mean", &[&[3, 4]], |s| {
            gradcheck(|t, v| t.mean(&v[0]), &[random(&[3, 4], s, 1.0)], linear(s))
        }),
        check("sum", &[&[3, 4]], |s| {
            gradcheck(|t, v| t.sum(&v[0]), &[random(&[3, 4], s, 1.0)], linear(s))
        }),
        check("dropout", &[&[4, 5]], |s| {
            let mut r = uniform(20, s + 9).into_iter();
            let mask = dropout_mask(&[4, 5], 0.4, || (r.next().unwrap_or(0.0) + 1.0) / 2.0);
            gradcheck(
                move |t, v| t.dropout(&v[0], mask.clone()),
                &[random(&[4, 5], s, 1.0)],
                linear(s),
            )
        }),
    ];
    for (name, algorithm) in [
        ("conv2d im2col", ConvAlgorithm::Im2col),
        ("conv2d direct", ConvAlgorithm::Direct),
        ("conv2d winograd", ConvAlgorithm::Winograd),
    ] {
        for (stride, padding) in [
            (1, Padding::Same),
            (2, Padding::Same),
            (1, Padding::Valid),
            (2, Padding::Valid),
        ] {
            // Winograd F(2x2, 3x3) is for stride 1; at stride 2 it would check im2col again.
            if algorithm == ConvAlgorithm::Winograd && stride != 1 {
                continue;
            }
            let name = format!("{name} s{stride} {padding:?}");
            checks.push(check(
                name,
                &[&[2, 6, 7, 3], &[3, 3, 3, 4], &[4]],
                move |s| {
                    let inputs = [
                        random(&[2, 6, 7, 3], s, 1.0),
                        random(&[3, 3, 3, 4], s + 1, 1.0),
                        random(&[4], s + 2, 1.0),
                    ];
                    gradcheck(
                        |t, v| {
                            t.conv2d(
                                &v[0],
                                &v[1],
                                Some(&v[2]),
                                (stride, stride),
                                padding,
                                algorithm,
                            )
                        },
                        &inputs,
                        linear(s),
                    )
                },
            ));
        }
    }
    for (stride, padding) in [(2, Padding::Valid), (2, Padding::Same), (1, Padding::Same)] {
        let max = format!("max_pool2d s{stride} {padding:?}");
        checks.push(check(max, &[&[2, 5, 5, 3]], move |s| {
            let opts = GradcheckOptions {
                step: 0.02,
                ..linear(s)
            };
            gradcheck(
                |t, v| t.max_pool2d(&v[0], (2, 2), (stride, stride), padding),
                &[spread(&[2, 5, 5, 3], s)],
                opts,
            )
        }));
        let avg = format!("avg_pool2d s{stride} {padding:?}");
        checks.push(check(avg, &[&[2, 5, 5, 3]], move |s| {
            gradcheck(
                |t, v| t.avg_pool2d(&v[0], (2, 2), (stride, stride), padding),
                &[random(&[2, 5, 5, 3], s, 1.0)],
                linear(s),
            )
        }));
    }
    for (name, algorithm) in [
        ("conv2d+relu+max_pool2d im2col", ConvAlgorithm::Im2col),
        ("conv2d+relu+max_pool2d direct", ConvAlgorithm::Direct),
        ("conv2d+relu+max_pool2d winograd", ConvAlgorithm::Winograd),
    ] {
        checks.push(check(
            name,
            &[&[3, 6, 6, 2], &[3, 3, 2, 4], &[4]],
            move |s| {
                // Piecewise linear: elements whose step crossed a ReLU kink or changed a window's
                // winner are skipped (their one-sided slopes disagree).
                let opts = GradcheckOptions {
                    step: 1e-2,
                    atol: 1e-3,
                    rtol: 1e-2,
                    kink_tolerance: Some(1e-3),
                    ..linear(s)
                };
                let inputs = [
                    random(&[3, 6, 6, 2], s, 1.0),
                    random(&[3, 3, 2, 4], s + 1, 1.0),
                    random(&[4], s + 2, 1.0),
                ];
                let (conv, pool) = chapter_conv_pool(algorithm);
                gradcheck(
                    |t, v| t.conv2d_relu_max_pool2d(&v[0], &v[1], Some(&v[2]), conv, pool),
                    &inputs,
                    opts,
                )
            },
        ));
    }
    for (name, algorithm) in [
        ("network im2col", ConvAlgorithm::Im2col),
        ("network direct", ConvAlgorithm::Direct),
        ("network winograd", ConvAlgorithm::Winograd),
    ] {
        checks.push(check(name, &[&[2, 8, 8, 1]], move |s| {
            network_check(algorithm, s)
        }));
    }
    checks
}

/// The chapter's network on a batch of two 8x8 images (its layers, a smaller image):
/// Conv2D(32, 3, same) -> relu -> MaxPool(2) -> Conv2D(64, 3, same) -> relu -> MaxPool(2) (each
/// conv, relu and pool as the fused op) ->
/// Flatten -> Dense(100) -> relu -> Dropout (a fixed mask) -> Dense(10) -> cross-entropy,
/// checked for every parameter.
///
/// Judged by the norm-wise error (see `GradcheckOptions::norm_tolerance`), with elements whose
/// step visibly crossed a kink skipped (`kink_tolerance`): in f32 a step small enough to be
/// accurate (2e-3) still crosses ReLU and max-pool kinks somewhere in a network this size, and
/// f32 rounding leaves single elements ~1e-4 off. Measured over seeds 0-7: norm errors up to 3e-2
/// (limit 6e-2); a wrong backward gives errors of order 1. A sharper, elementwise check of the
/// whole network would need an f64 path through the kernels.
pub fn network_check(algorithm: ConvAlgorithm, seed: u64) -> GradcheckReport {
    let glorot = |shape: &[usize], fan_in: usize, fan_out: usize, seed| {
        random(shape, seed, (6.0 / (fan_in + fan_out) as f32).sqrt())
    };
    let params = [
        glorot(&[3, 3, 1, 32], 9, 288, seed + 1),
        random(&[32], seed + 2, 0.1),
        glorot(&[3, 3, 32, 64], 288, 576, seed + 3),
        random(&[64], seed + 4, 0.1),
        glorot(&[256, 100], 256, 100, seed + 5),
        random(&[100], seed + 6, 0.1),
        glorot(&[100, 10], 100, 10, seed + 7),
        random(&[10], seed + 8, 0.1),
    ];
    let x = random(&[2, 8, 8, 1], seed + 42, 1.0);
    let mut draws = uniform(200, seed + 10).into_iter();
    let mask = dropout_mask(&[2, 100], 0.4, || (draws.next().unwrap_or(0.0) + 1.0) / 2.0);
    let opts = GradcheckOptions {
        step: 2e-3,
        atol: 1e-4,
        rtol: 1e-2,
        seed,
        norm_tolerance: Some(6e-2),
        kink_tolerance: Some(3e-4),
    };
    gradcheck(
        |tape, p| network(tape, &x, p, &mask, algorithm),
        &params,
        opts,
    )
}

/// The chapter's convolution (3x3 kernels, stride 1, same padding) and pooling (2x2, valid).
fn chapter_conv_pool(algorithm: ConvAlgorithm) -> (ConvSpec, PoolSpec) {
    let conv = ConvSpec {
        strides: (1, 1),
        padding: Padding::Same,
        algorithm,
    };
    let pool = PoolSpec {
        pool_size: (2, 2),
        strides: (2, 2),
        padding: Padding::Valid,
    };
    (conv, pool)
}

fn network(tape: &mut Tape, x: &Tensor, p: &[Var], mask: &Tensor, algorithm: ConvAlgorithm) -> Var {
    let x = tape.constant(x.clone());
    // Conv2D(activation="relu") and MaxPooling2D run as one fused op, as they do when the model
    // trains.
    let (conv, pool) = chapter_conv_pool(algorithm);
    let h = tape.conv2d_relu_max_pool2d(&x, &p[0], Some(&p[1]), conv, pool);
    let h = tape.conv2d_relu_max_pool2d(&h, &p[2], Some(&p[3]), conv, pool);
    let h = tape.flatten(&h);
    let h = tape.matmul(&h, &p[4]);
    let h = tape.add_bias(&h, &p[5]);
    let h = tape.relu(&h);
    let h = tape.dropout(&h, mask.clone());
    let h = tape.matmul(&h, &p[6]);
    let logits = tape.add_bias(&h, &p[7]);
    tape.sparse_categorical_crossentropy(&logits, &[3, 7])
        .expect("labels in range")
}
