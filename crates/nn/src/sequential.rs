//! `Sequential`: a stack of layers, each fed the previous one's output, built like Keras's:
//! ```
//! use convlab_nn::prelude::*;
//! let mut model = Sequential::new(&[28, 28, 1]).seed(42);
//! model.add(Conv2D::new(32, 3).activation(Activation::Relu).padding(Padding::Same)).unwrap();
//! model.add(MaxPooling2D::new(2)).unwrap();
//! model.add(Flatten::new()).unwrap();
//! model.add(Dense::new(10).activation(Activation::Softmax)).unwrap();
//! assert_eq!(model.count_params(), 320 + 62_730);
//! ```
//! Weights are created when a layer is added (the input shape is known by then), each layer
//! from its own stream of the model's seed, so adding a layer never changes earlier weights.

use std::time::Instant;

use convlab_autograd::{ParamId, Tape, Var};
use convlab_tensor::busy_wait::BusyWait;
use convlab_tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::layers::{keras_shape, ForwardMode, Layer, ParamSpec};
use crate::profile::LayerSpan;
use crate::rng::Rng;
use crate::ModelError;

/// A layer in a model: its configuration, Keras-style name, shapes and weights.
#[derive(Clone, Debug)]
pub struct LayerEntry {
    pub name: String,
    pub layer: Layer,
    /// Input and output shapes without the batch axis.
    pub input_shape: Vec<usize>,
    pub output_shape: Vec<usize>,
    pub specs: Vec<ParamSpec>,
    /// The weights, in the order of `specs` (kernel, then bias).
    pub weights: Vec<Tensor>,
}

impl LayerEntry {
    pub fn count_params(&self) -> usize {
        self.weights.iter().map(Tensor::len).sum()
    }

    /// Multiply-adds of this layer's forward pass for one image, as direct convolution and a
    /// plain matrix product do them (Conv2D: output values x KH x KW x C_in; Dense: in x units;
    /// 0 for the layers without weights). The one count the benches and checks share.
    pub fn multiply_adds(&self) -> f64 {
        let size = |shape: &[usize]| shape.iter().map(|&d| d as f64).product::<f64>();
        match &self.layer {
            Layer::Conv2D(conv) => {
                let cin = *self.input_shape.last().unwrap_or(&1) as f64;
                size(&self.output_shape) * (conv.kernel_size.0 * conv.kernel_size.1) as f64 * cin
            }
            Layer::Dense(dense) => size(&self.input_shape) * dense.units as f64,
            _ => 0.0,
        }
    }

    /// A weight by its Keras name ("kernel" or "bias").
    pub fn weight(&self, name: &str) -> Option<&Tensor> {
        let i = self.specs.iter().position(|s| s.name == name)?;
        self.weights.get(i)
    }
}

#[derive(Clone, Debug)]
pub struct Sequential {
    pub name: String,
    /// The dataset the model was trained on (`fashion-mnist`, `cifar10`, ...), when known:
    /// a checkpoint keeps it, so `evaluate` and `predict` read the right images by default.
    pub dataset: Option<String>,
    input_shape: Vec<usize>,
    layers: Vec<LayerEntry>,
    seed: u64,
    /// Optimizer and loss, once `compile` has run (see fit.rs).
    pub(crate) training: Option<crate::fit::TrainSetup>,
}

/// A model's architecture: what a checkpoint stores as JSON to rebuild the model. Layers come
/// from the closed `Layer` set and unknown fields are errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    pub input_shape: Vec<usize>,
    pub seed: u64,
    pub layers: Vec<Layer>,
    /// See `Sequential::dataset`; absent in checkpoints written before 2026-12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// The result of a forward pass: the model's output and, when the last layer ends in a softmax,
/// the logits before it (what a cross-entropy loss should be given).
pub struct ForwardOutput {
    pub output: Var,
    pub logits: Option<Var>,
}

impl Sequential {
    /// An empty model for inputs of `input_shape` (without the batch axis), e.g. [28, 28, 1].
    pub fn new(input_shape: &[usize]) -> Self {
        Sequential {
            name: "sequential".into(),
            dataset: None,
            input_shape: input_shape.to_vec(),
            layers: Vec::new(),
            seed: 0,
            training: None,
        }
    }

    /// The architecture, for saving.
    pub fn config(&self) -> ModelConfig {
        ModelConfig {
            name: self.name.clone(),
            input_shape: self.input_shape.clone(),
            seed: self.seed,
            layers: self.layers.iter().map(|l| l.layer.clone()).collect(),
            dataset: self.dataset.clone(),
        }
    }

    /// Rebuilds a model (freshly initialised from its seed) from an architecture.
    pub fn from_config(config: &ModelConfig) -> Result<Self, ModelError> {
        let mut model = Sequential::new(&config.input_shape).seed(config.seed);
        model.name = config.name.clone();
        model.dataset = config.dataset.clone();
        for layer in &config.layers {
            model.add(layer.clone())?;
        }
        Ok(model)
    }

    /// The seed that initialises the weights of layers added from now on.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    pub fn output_shape(&self) -> &[usize] {
        self.layers
            .last()
            .map_or(&self.input_shape, |l| &l.output_shape)
    }

    pub fn layers(&self) -> &[LayerEntry] {
        &self.layers
    }

    pub fn layers_mut(&mut self) -> &mut [LayerEntry] {
        &mut self.layers
    }

    /// Appends a layer, checking that it can follow the previous one, and initialises its weights.
    pub fn add(&mut self, layer: impl Into<Layer>) -> Result<&mut Self, ModelError> {
        let layer = layer.into();
        layer.validate()?;
        if self.input_shape.is_empty() || self.input_shape.contains(&0) {
            return Err(ModelError::InvalidInputShape(self.input_shape.clone()));
        }
        let input_shape = self.output_shape().to_vec();
        let output_shape = layer.output_shape(&input_shape)?;
        let specs = layer.param_specs(&input_shape);
        let mut rng = Rng::derive(self.seed, &[self.layers.len() as u64]);
        let weights = specs
            .iter()
            .map(|s| Tensor::from_vec("layer weights", &s.shape, s.init(&mut rng)))
            .collect();
        let name = self.next_name(layer.base_name());
        self.layers.push(LayerEntry {
            name,
            layer,
            input_shape,
            output_shape,
            specs,
            weights,
        });
        Ok(self)
    }

    /// Keras's automatic names: the first conv2d is "conv2d", the next "conv2d_1", ...
    fn next_name(&self, base: &str) -> String {
        let count = self
            .layers
            .iter()
            .filter(|l| l.layer.base_name() == base)
            .count();
        if count == 0 {
            base.to_string()
        } else {
            format!("{base}_{count}")
        }
    }

    pub fn count_params(&self) -> usize {
        self.layers.iter().map(LayerEntry::count_params).sum()
    }

    /// Every weight tensor, layer by layer (the order optimizers and checkpoints use).
    pub fn weights(&self) -> Vec<&Tensor> {
        self.layers.iter().flat_map(|l| &l.weights).collect()
    }

    /// Mutable access to every weight tensor, in the order of `weights`.
    pub fn weights_mut(&mut self) -> Vec<&mut Tensor> {
        self.layers
            .iter_mut()
            .flat_map(|l| &mut l.weights)
            .collect()
    }

    /// Every weight, mutably, and the training setup: the two parts an optimizer step needs.
    pub(crate) fn weights_and_setup_mut(
        &mut self,
    ) -> (Vec<&mut Tensor>, Option<&mut crate::fit::TrainSetup>) {
        let weights = self
            .layers
            .iter_mut()
            .flat_map(|l| &mut l.weights)
            .collect();
        (weights, self.training.as_mut())
    }

    /// Keras-style names of every weight ("conv2d/kernel", ...), in the order of `weights`.
    pub fn weight_names(&self) -> Vec<String> {
        self.layers
            .iter()
            .flat_map(|l| {
                l.specs
                    .iter()
                    .map(move |s| format!("{}/{}", l.name, s.name))
            })
            .collect()
    }

    /// Checks that a batch has shape (N, input_shape...) and returns N.
    pub fn check_batch(&self, x: &Tensor) -> Result<usize, ModelError> {
        match x.shape().split_first() {
            Some((&n, rest)) if rest == self.input_shape.as_slice() => Ok(n),
            _ => Err(ModelError::InputMismatch {
                expected: keras_shape(&self.input_shape),
                got: x.shape().to_vec(),
            }),
        }
    }

    /// The forward pass through layers `0..=last` on a tape. Parameters are put on the tape as
    /// `ParamId(i)`, i their index in `weights()`. With `fuse_softmax`, a softmax at the very end
    /// is left out of `output`'s computation and its input returned as `logits` (for a fused
    /// cross-entropy); `output` then still holds the probabilities.
    pub fn forward_to(
        &self,
        tape: &mut Tape,
        x: &Var,
        last: usize,
        mode: &mut ForwardMode,
        fuse_softmax: bool,
    ) -> ForwardOutput {
        let mut h = x.clone();
        let mut logits = None;
        let mut param_index = 0;
        // Set when layer k ran fused with layer k - 1 (which then did its work).
        let mut done_by_previous = false;
        for (k, entry) in self.layers[..=last].iter().enumerate() {
            if std::mem::take(&mut done_by_previous) {
                continue;
            }
            // Timed for `fit`'s profile (profile.rs) when it asks.
            let started = mode.spans.is_some().then(Instant::now);
            let first_node = tape.len();
            let fused = 'layer: {
                let params: Vec<Var> = entry
                    .weights
                    .iter()
                    .map(|w| {
                        param_index += 1;
                        tape.param(ParamId(param_index - 1), w.clone())
                    })
                    .collect();
                // A pair of layers fused into one op; only when both are wanted (layer_output of a
                // Conv2D must return the convolution's own output) and the second has no weights.
                if let Some(next) = self.layers[..=last].get(k + 1) {
                    if next.weights.is_empty() {
                        if let Some(y) =
                            entry
                                .layer
                                .forward_fused_with_next(&next.layer, tape, &h, &params)
                        {
                            h = y;
                            break 'layer true;
                        }
                    }
                }
                if let Some(y) = entry.layer.forward_fused(tape, &h, &params) {
                    h = y;
                    break 'layer false;
                }
                let pre = entry.layer.forward(tape, &h, &params, mode);
                let activation = entry.layer.activation();
                if k == self.layers.len() - 1 && fuse_softmax && activation == Activation::Softmax {
                    // The probabilities are computed off the tape: only the logits feed the loss.
                    let probs = convlab_tensor::softmax::softmax(pre.value());
                    logits = Some(pre);
                    h = tape.constant(probs);
                } else {
                    h = activation.apply(tape, &pre);
                }
                false
            };
            if let (Some(spans), Some(started)) = (mode.spans.as_deref_mut(), started) {
                spans.push(LayerSpan {
                    first: k,
                    count: 1 + usize::from(fused),
                    forward: started.elapsed(),
                    nodes: first_node..tape.len(),
                });
            }
            done_by_previous = fused;
        }
        ForwardOutput { output: h, logits }
    }

    /// Output probabilities (or values) for `x` (N, input_shape...), in batches, recording no
    /// graph.
    pub fn predict(&self, x: &Tensor, batch_size: usize) -> Result<Tensor, ModelError> {
        let last = self.layers.len().checked_sub(1).ok_or(ModelError::Empty)?;
        self.layer_output(x, last, batch_size)
    }

    /// The output of layer `k` for the batch `x`, like
    /// `keras.Model(model.input, model.layers[k].output).predict(x)`.
    pub fn layer_output(
        &self,
        x: &Tensor,
        k: usize,
        batch_size: usize,
    ) -> Result<Tensor, ModelError> {
        if k >= self.layers.len() {
            return Err(ModelError::LayerIndex {
                index: k,
                layers: self.layers.len(),
            });
        }
        let n = self.check_batch(x)?;
        let item: usize = self.input_shape.iter().product();
        let out_item: usize = self.layers[k].output_shape.iter().product();
        let mut out = Vec::with_capacity(n * out_item);
        let _busy_wait = BusyWait::start(); // see `fit`
        let mut rng = Rng::new(0); // unused: no dropout in inference
        for start in (0..n).step_by(batch_size.max(1)) {
            let end = (start + batch_size.max(1)).min(n);
            let mut shape = vec![end - start];
            shape.extend(&self.input_shape);
            let batch = Tensor::from_vec(
                "predict batch",
                &shape,
                x.data()[start * item..end * item].to_vec(),
            );
            let mut tape = Tape::no_grad();
            let input = tape.constant(batch);
            let mut mode = ForwardMode {
                training: false,
                rng: &mut rng,
                spans: None,
            };
            let y = self.forward_to(&mut tape, &input, k, &mut mode, false);
            out.extend_from_slice(y.output.value().data());
        }
        let mut shape = vec![n];
        shape.extend(&self.layers[k].output_shape);
        Ok(Tensor::from_vec("predict", &shape, out))
    }

    /// Replaces every weight (same count and shapes), e.g. from a checkpoint or to restore the
    /// best weights.
    pub fn set_weights(&mut self, weights: Vec<Tensor>) -> Result<(), ModelError> {
        let names = self.weight_names();
        let current = self.weights();
        if weights.len() != current.len() {
            return Err(ModelError::WeightCount {
                expected: current.len(),
                got: weights.len(),
            });
        }
        for ((w, c), name) in weights.iter().zip(&current).zip(&names) {
            if w.shape() != c.shape() {
                return Err(ModelError::WeightShape {
                    name: name.clone(),
                    expected: c.shape().to_vec(),
                    got: w.shape().to_vec(),
                });
            }
        }
        for (slot, w) in self.weights_mut().into_iter().zip(weights) {
            *slot = w;
        }
        Ok(())
    }
}
