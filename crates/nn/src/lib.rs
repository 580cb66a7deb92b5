//! convlab-nn: Keras-style layers, `Sequential` models, optimizers, losses, training with
//! callbacks, and checkpoints, on top of convlab's autograd.
//!
//! ```
//! use convlab_nn::prelude::*;
//!
//! // model = keras.Sequential([Conv2D(4, 3, activation="relu"), MaxPooling2D(2), Flatten(),
//! //                           Dense(2, activation="softmax")])
//! let mut model = Sequential::new(&[6, 6, 1]).seed(42);
//! model.add(Conv2D::new(4, 3).activation(Activation::Relu)).unwrap();
//! model.add(MaxPooling2D::new(2)).unwrap();
//! model.add(Flatten::new()).unwrap();
//! model.add(Dense::new(2).activation(Activation::Softmax)).unwrap();
//! model.compile(Optimizer::Adam(Adam::default()), Loss::SparseCategoricalCrossentropy);
//!
//! // Eight 6x6 images (bright ones are class 1) and one epoch of model.fit.
//! let x: Vec<f32> = (0..8 * 36).map(|i| if i / 36 % 2 == 1 { 0.9 } else { 0.1 }).collect();
//! let data = InMemory {
//!     x: Tensor::new(&[8, 6, 6, 1], x).unwrap(),
//!     y: Targets::Sparse((0..8).map(|i| i % 2).collect()),
//! };
//! let history = model.fit(&data, None, &FitOptions::default(), &mut []).unwrap();
//! assert_eq!(history.epochs.len(), 1);
//! ```
//!
//! The same model can be a file (`model_file`: TOML, or Keras's `model.to_json()`);
//! `examples/chapter8.rs` is the chapter's whole program, `examples/custom_model.rs` a model of
//! your own on data of your own.
//!
//! Read in this order: `layers/` (what a model is made of), `sequential.rs` (building and
//! running a model), `model_file/` (models written down), `summary.rs`, then training: `loss.rs`, `optimizers/`, `fit.rs`,
//! `callbacks.rs`, and `checkpoint/`.

pub mod activation;
pub mod atomic;
pub mod callbacks;
pub mod checkpoint;
pub mod dataset;
mod fit;
pub mod history;
pub mod init;
pub mod layers;
pub mod loss;
pub mod model_file;
pub mod network_check;
pub mod onnx;
pub mod optimizers;
pub mod plan;
pub mod profile;
pub mod proto;
pub mod reference_network;
pub mod resume;
pub mod rng;
mod sequential;
mod summary;
pub mod text;

pub use activation::Activation;
pub use callbacks::{
    Callback, Control, EarlyStopping, ModelCheckpoint, StopOnDivergence, TerminateOnNaN,
};
pub use checkpoint::{
    load_checkpoint, load_model, save_checkpoint, save_model, CheckpointError, TrainingState,
};
pub use dataset::{Dataset, InMemory, Targets, U8Images};
pub use fit::{Evaluation, FitOptions, TrainSetup};
pub use history::{EpochLogs, History, Monitor};
pub use init::Initializer;
pub use layers::{AveragePooling2D, Conv2D, Dense, Dropout, Flatten, Layer, MaxPooling2D};
pub use loss::Loss;
pub use optimizers::{Adam, Optimizer, RmsProp, Sgd};
pub use resume::{load_backup, CallbackState, ResumeState};
pub use rng::Rng;
pub use sequential::{ForwardOutput, LayerEntry, ModelConfig, Sequential};
pub use summary::with_commas;

pub use convlab_tensor::{ConvAlgorithm, Padding, Tensor};

/// Everything needed to build and train a model, in one import.
pub mod prelude {
    pub use crate::{
        Activation, Adam, AveragePooling2D, Callback, Conv2D, ConvAlgorithm, Dataset, Dense,
        Dropout, EarlyStopping, FitOptions, Flatten, InMemory, Initializer, Layer, Loss,
        MaxPooling2D, ModelCheckpoint, Monitor, Optimizer, Padding, RmsProp, Sequential, Sgd,
        StopOnDivergence, Targets, Tensor, TerminateOnNaN, U8Images,
    };
}

use thiserror::Error;

/// Errors in building or using a model: each names the layer or argument and what is wrong.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModelError {
    #[error("{layer}: {reason}")]
    InvalidLayer { layer: &'static str, reason: String },
    #[error("{layer} {reason}")]
    Incompatible { layer: &'static str, reason: String },
    #[error("input shape {0:?} must be non-empty with no zero dimension")]
    InvalidInputShape(Vec<usize>),
    #[error("the model has no layers")]
    Empty,
    #[error("layer index {index} is out of range: the model has {layers} layers (0..{layers})")]
    LayerIndex { index: usize, layers: usize },
    #[error("input batch has shape {got:?}, but the model expects {expected}")]
    InputMismatch { expected: String, got: Vec<usize> },
    #[error("expected {expected} weight tensors, got {got}")]
    WeightCount { expected: usize, got: usize },
    #[error("weight {name} should have shape {expected:?}, got {got:?}")]
    WeightShape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
}

/// Errors in training or evaluating: each names what is wrong.
#[derive(Debug, Error)]
pub enum TrainError {
    #[error("the model is not compiled: call compile(optimizer, loss) first")]
    NotCompiled,
    #[error("batch size must be at least 1")]
    BatchSize,
    #[error("{0} is empty")]
    EmptyData(&'static str),
    #[error("{what} has items of shape {got:?}, but the model expects {expected:?}")]
    DataShape {
        what: &'static str,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("{callback} monitors {metric}, which will not exist: {why}")]
    MissingMetric {
        callback: String,
        metric: &'static str,
        why: &'static str,
    },
    #[error("{loss:?} needs {expected}")]
    TargetKind { loss: Loss, expected: &'static str },
    #[error("{loss:?}: the model outputs shape {output:?} but the targets have shape {target:?}")]
    TargetShape {
        loss: Loss,
        output: Vec<usize>,
        target: Vec<usize>,
    },
    #[error("{what}: {pixels} pixel values do not make {labels} images of shape {shape:?}")]
    PixelCount {
        what: &'static str,
        pixels: usize,
        labels: usize,
        shape: Vec<usize>,
    },
    #[error("cannot resume: {0}")]
    Resume(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Autograd(#[from] convlab_autograd::AutogradError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
}

/// The chapter's CNN (../shared/seed): Conv2D(32, 3, relu, same) -> MaxPooling2D(2) ->
/// Conv2D(64, 3, relu, same) -> MaxPooling2D(2) -> Flatten -> Dense(100, relu) -> Dropout(0.4)
/// -> Dense(10, softmax), on 28x28x1 images.
pub fn chapter_model(seed: u64, algorithm: ConvAlgorithm) -> Sequential {
    use Activation::{Relu, Softmax};
    let mut model = Sequential::new(&[28, 28, 1]).seed(seed);
    let conv = |filters| {
        Conv2D::new(filters, 3)
            .activation(Relu)
            .padding(Padding::Same)
            .algorithm(algorithm)
    };
    let layers: [Layer; 8] = [
        conv(32).into(),
        MaxPooling2D::new(2).into(),
        conv(64).into(),
        MaxPooling2D::new(2).into(),
        Flatten::new().into(),
        Dense::new(100).activation(Relu).into(),
        Dropout::new(0.4).into(),
        Dense::new(10).activation(Softmax).into(),
    ];
    for layer in layers {
        model.add(layer).expect("the chapter's layers fit together");
    }
    model
}
