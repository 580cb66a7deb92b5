//! Layer (c) of the checks: the whole network, at fixed weights, batch and dropout masks.
//!
//! 1. The f32 tape (`Sequential::gradients`, the very ops and plans `fit` runs) against the f64
//!    reference network (`reference_network.rs`), every element of every weight's gradient:
//!    `|tape - reference| <= 1e-4 · max|reference| + 1e-3 · |reference|` per tensor (f32 sums of a
//!    few thousand terms are good to ~1e-6 of their tensor's scale; a wrong gradient is off by
//!    far more).
//! 2. The f64 reference network against central differences of its own loss, element by
//!    element with PyTorch's `gradcheck` tolerances (`reference::numerical`): every element of a
//!    small network, or `sample` elements of each tensor of a large one (a trained chapter model
//!    has 333,526 weights and each element costs two passes).
//!
//! ReLU and max pooling have kinks. The f32 and f64 forward passes differ by rounding (~1e-7 of
//! a sum), so a ReLU input or a pooling gap closer to its kink than `KINK_MARGIN` could go one
//! way in f32 and the other in f64: such a batch is passed over for the next one (the report
//! says which was used). A central difference whose two sides route differently (a step of 1e-6
//! crossed a kink) says nothing about the derivative: that element is replaced by another in
//! sampled mode and counted as skipped otherwise.

use convlab_autograd::dropout_mask;
use convlab_tensor::reference::numerical::{compare, Tolerance};
use convlab_tensor::reference::report::{CheckResult, Layer as CheckLayer};
use convlab_tensor::Tensor;

use crate::layers::Layer;
use crate::reference_network::{reference_step, ReferenceStep};
use crate::rng::Rng;
use crate::Sequential;

/// A batch whose smallest kink distance (relative to its layer's largest value) is below this
/// is passed over: f32 and f64 could take different sides.
pub const KINK_MARGIN: f64 = 2e-6;
/// Batches tried before giving up on finding one clear of every kink.
const TRIES: u64 = 8;

/// The dropout masks `fit`'s Dropout layers draw from `rng` for a batch of `n`, in layer order:
/// the same draws in the same order, so the tape and the reference use the same masks.
fn dropout_masks(model: &Sequential, n: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
    let mut masks = Vec::new();
    for entry in model.layers() {
        if let Layer::Dropout(d) = &entry.layer {
            let mut shape = vec![n];
            shape.extend(&entry.input_shape);
            let len: usize = shape.iter().product();
            let mask = if d.rate == 0.0 {
                vec![1.0; len]
            } else {
                let m = dropout_mask(&shape, d.rate, || rng.uniform());
                m.data().iter().map(|&v| v as f64).collect()
            };
            masks.push(mask);
        }
    }
    masks
}

fn wide(t: &Tensor) -> Vec<f64> {
    t.data().iter().map(|&v| v as f64).collect()
}

/// Runs layer (c) on `model` for a batch drawn by `batch(attempt)` (inputs and labels): every
/// weight's tape gradient against the reference network, and the reference network against
/// central differences (`sample` elements per tensor, or all).
pub fn network_checks(
    model: &Sequential,
    batch: impl Fn(u64) -> (Tensor, Vec<usize>),
    seed: u64,
    sample: Option<usize>,
) -> Result<Vec<CheckResult>, String> {
    let names = model.weight_names();
    let weights: Vec<Vec<f64>> = model.weights().into_iter().map(wide).collect();
    // A batch clear of every kink, with its masks and both passes.
    let mut chosen = None;
    for attempt in 0..TRIES {
        let (x, labels) = batch(attempt);
        let mut rng = Rng::derive(seed, &[attempt]);
        let masks = dropout_masks(model, labels.len(), &mut rng.clone());
        let reference = reference_step(model, &weights, &wide(&x), &labels, &masks)?;
        if reference.kink_margin >= KINK_MARGIN {
            let (_, tape) = model
                .gradients(&x, &labels, &mut rng)
                .map_err(|e| e.to_string())?;
            chosen = Some((attempt, x, labels, masks, reference, tape));
            break;
        }
    }
    let Some((attempt, x, labels, masks, reference, tape)) = chosen else {
        return Err(format!(
            "no batch of {TRIES} tried is clear of the ReLU and pooling kinks by {KINK_MARGIN:e}"
        ));
    };
    let shapes = format!(
        "{:?} batch {} (try {attempt})",
        model.input_shape(),
        labels.len()
    );
    let mut results = Vec::new();

    // 1. The tape against the reference network.
    for ((name, got), want) in names.iter().zip(&tape).zip(&reference.grads) {
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let tol = Tolerance {
            eps: 0.0,
            atol: 1e-4 * scale,
            rtol: 1e-3,
        };
        let c = compare(&wide(got), want, tol);
        results.push(CheckResult {
            check: format!("network tape {name}"),
            layer: CheckLayer::Network,
            dtype: "f32",
            shapes: shapes.clone(),
            elements: c.elements,
            skipped: 0,
            max_abs_err: c.max_abs_err,
            max_rel_err: c.max_rel_err,
            worst_ratio: None,
            limit: None,
            passed: c.passed(),
        });
    }

    // 2. The reference network against central differences of its loss.
    let tol = Tolerance::default();
    let x64 = wide(&x);
    let loss_and_routing = |w: &[Vec<f64>]| -> Result<ReferenceStep, String> {
        reference_step(model, w, &x64, &labels, &masks)
    };
    let mut picker = Rng::derive(seed, &[attempt, 7]);
    for (t, name) in names.iter().enumerate() {
        let len = weights[t].len();
        let wanted = sample.map_or(len, |s| s.min(len));
        let mut candidates: Vec<usize> = (0..len).collect();
        if wanted < len {
            picker.shuffle(&mut candidates);
        }
        let (mut analytic, mut numeric, mut skipped) = (Vec::new(), Vec::new(), 0);
        let mut probe = weights.clone();
        for &i in &candidates {
            if analytic.len() == wanted {
                break;
            }
            probe[t][i] = weights[t][i] + tol.eps;
            let up = loss_and_routing(&probe)?;
            probe[t][i] = weights[t][i] - tol.eps;
            let down = loss_and_routing(&probe)?;
            probe[t][i] = weights[t][i];
            if up.routing != reference.routing || down.routing != reference.routing {
                // The step crossed a kink: skipped (all elements) or replaced (a sample).
                skipped += 1;
                continue;
            }
            analytic.push(reference.grads[t][i]);
            numeric.push((up.loss - down.loss) / (2.0 * tol.eps));
        }
        let c = compare(&analytic, &numeric, tol);
        results.push(CheckResult {
            check: format!("network reference {name}"),
            layer: CheckLayer::Network,
            dtype: "f64",
            shapes: shapes.clone(),
            elements: c.elements,
            skipped: if wanted == len { skipped } else { 0 },
            max_abs_err: c.max_abs_err,
            max_rel_err: c.max_rel_err,
            worst_ratio: None,
            limit: None,
            passed: c.passed() && (wanted == len || analytic.len() == wanted),
        });
    }
    Ok(results)
}

/// Small networks for the standard check (every element, in a second or two): the chapter's
/// layers at 8x8, and strided `same` convolutions without bias, `valid` padding and average
/// pooling.
pub fn small_networks(seed: u64) -> Vec<(&'static str, Sequential)> {
    use crate::activation::Activation::{Relu, Softmax};
    use crate::layers::{AveragePooling2D, Conv2D, Dense, Dropout, Flatten, MaxPooling2D};
    use convlab_tensor::Padding::{Same, Valid};
    let mut chapter = Sequential::new(&[8, 8, 1]).seed(seed);
    let mut strided = Sequential::new(&[9, 9, 2]).seed(seed + 1);
    let built = (|| -> Result<(), crate::ModelError> {
        chapter.add(Conv2D::new(4, 3).padding(Same).activation(Relu))?;
        chapter.add(MaxPooling2D::new(2))?;
        chapter.add(Conv2D::new(6, 3).padding(Same).activation(Relu))?;
        chapter.add(MaxPooling2D::new(2))?;
        chapter.add(Flatten::new())?;
        chapter.add(Dense::new(12).activation(Relu))?;
        chapter.add(Dropout::new(0.4))?;
        chapter.add(Dense::new(10).activation(Softmax))?;
        strided.add(
            Conv2D::new(3, 3)
                .strides(2)
                .padding(Same)
                .use_bias(false)
                .activation(Relu),
        )?;
        strided.add(Conv2D::new(4, 2).padding(Valid).activation(Relu))?;
        strided.add(AveragePooling2D::new(2).padding(Same))?;
        strided.add(Flatten::new())?;
        strided.add(Dense::new(5))?;
        Ok(())
    })();
    built.expect("the standard check networks are valid");
    vec![
        ("chapter 8x8", chapter),
        ("strided, valid, average pooling", strided),
    ]
}

/// A batch of `n` inputs in [0, 1) and labels for `model`, from `seed`.
pub fn random_batch(model: &Sequential, n: usize, seed: u64) -> (Tensor, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let mut shape = vec![n];
    shape.extend(model.input_shape());
    let len: usize = shape.iter().product();
    let x: Vec<f32> = (0..len).map(|_| rng.uniform()).collect();
    let classes: usize = model.output_shape().iter().product();
    let labels = (0..n).map(|_| rng.below(classes)).collect();
    (Tensor::from_vec("check batch", &shape, x), labels)
}
