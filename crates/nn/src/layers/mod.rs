//! The layers a `Sequential` model is built from: a closed set, so a checkpoint's architecture
//! can name only these (nothing in a file can make convlab run code it does not have).
//!
//! Each layer file holds its configuration (required arguments in `new`, options as chained
//! methods, Keras's names and defaults), its output-shape rule, the parameters it owns, and its
//! forward pass on the tape. Shapes here exclude the batch axis, as Keras's `input_shape`.

mod conv2d;
mod dense;
mod dropout;
mod flatten;
mod pooling;

pub use conv2d::Conv2D;
pub use dense::Dense;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use pooling::{AveragePooling2D, MaxPooling2D};

use convlab_autograd::{Tape, Var};
use convlab_tensor::{ConvAlgorithm, Padding};
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::init::Initializer;
use crate::rng::Rng;
use crate::ModelError;

/// One layer's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Layer {
    Conv2D(Conv2D),
    MaxPooling2D(MaxPooling2D),
    AveragePooling2D(AveragePooling2D),
    Flatten(Flatten),
    Dense(Dense),
    Dropout(Dropout),
}

/// A parameter a layer owns: its name in Keras's layout ("kernel", "bias"), shape and initialiser.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub initializer: Initializer,
    pub fan_in: usize,
    pub fan_out: usize,
}

impl ParamSpec {
    pub fn init(&self, rng: &mut Rng) -> Vec<f32> {
        let len = self.shape.iter().product();
        self.initializer.sample(len, self.fan_in, self.fan_out, rng)
    }
}

/// What a forward pass needs besides the input: training or inference, the generator that
/// draws dropout masks, and where to note each layer's time when `fit` profiles (profile.rs).
pub struct ForwardMode<'a> {
    pub training: bool,
    pub rng: &'a mut Rng,
    pub spans: Option<&'a mut Vec<crate::profile::LayerSpan>>,
}

impl Layer {
    /// The Keras class name, as shown by `summary()`.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Conv2D(_) => "Conv2D",
            Layer::MaxPooling2D(_) => "MaxPooling2D",
            Layer::AveragePooling2D(_) => "AveragePooling2D",
            Layer::Flatten(_) => "Flatten",
            Layer::Dense(_) => "Dense",
            Layer::Dropout(_) => "Dropout",
        }
    }

    /// The prefix of Keras's automatic names: conv2d, conv2d_1, ...
    pub fn base_name(&self) -> &'static str {
        match self {
            Layer::Conv2D(_) => "conv2d",
            Layer::MaxPooling2D(_) => "max_pooling2d",
            Layer::AveragePooling2D(_) => "average_pooling2d",
            Layer::Flatten(_) => "flatten",
            Layer::Dense(_) => "dense",
            Layer::Dropout(_) => "dropout",
        }
    }

    /// The output shape for an input shape (both without the batch axis), or why this layer
    /// cannot follow one with that output.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, ModelError> {
        match self {
            Layer::Conv2D(l) => l.output_shape(input),
            Layer::MaxPooling2D(l) => l.output_shape(input),
            Layer::AveragePooling2D(l) => l.output_shape(input),
            Layer::Flatten(l) => l.output_shape(input),
            Layer::Dense(l) => l.output_shape(input),
            Layer::Dropout(l) => l.output_shape(input),
        }
    }

    /// The parameters this layer owns for an input shape, in the order `forward` takes them.
    pub fn param_specs(&self, input: &[usize]) -> Vec<ParamSpec> {
        match self {
            Layer::Conv2D(l) => l.param_specs(input),
            Layer::Dense(l) => l.param_specs(input),
            _ => Vec::new(),
        }
    }

    /// The activation applied after `forward`.
    pub fn activation(&self) -> Activation {
        match self {
            Layer::Conv2D(l) => l.activation,
            Layer::Dense(l) => l.activation,
            _ => Activation::Linear,
        }
    }

    /// The forward pass *with* the activation, for a layer that fuses the two into one op
    /// (Conv2D with ReLU); None for every other layer, which runs `forward` then the activation.
    pub fn forward_fused(&self, tape: &mut Tape, x: &Var, params: &[Var]) -> Option<Var> {
        match self {
            Layer::Conv2D(l) => l.forward_with_relu(tape, x, params),
            _ => None,
        }
    }

    /// The forward pass of this layer, its activation and the layer after it (`next`, which has
    /// no parameters) as one fused op: Conv2D with ReLU followed by MaxPooling2D. None for every
    /// other pair, which run one after the other.
    pub fn forward_fused_with_next(
        &self,
        next: &Layer,
        tape: &mut Tape,
        x: &Var,
        params: &[Var],
    ) -> Option<Var> {
        match (self, next) {
            (Layer::Conv2D(conv), Layer::MaxPooling2D(pool)) => {
                conv.forward_with_relu_and_pool(pool, tape, x, params)
            }
            _ => None,
        }
    }

    /// The forward pass *before* the activation (x with a batch axis; `params` as `param_specs`).
    pub fn forward(&self, tape: &mut Tape, x: &Var, params: &[Var], mode: &mut ForwardMode) -> Var {
        match self {
            Layer::Conv2D(l) => l.forward(tape, x, params),
            Layer::MaxPooling2D(l) => l.forward(tape, x),
            Layer::AveragePooling2D(l) => l.forward(tape, x),
            Layer::Flatten(_) => tape.flatten(x),
            Layer::Dense(l) => l.forward(tape, x, params),
            Layer::Dropout(l) => l.forward(tape, x, mode),
        }
    }

    /// Checks the configuration itself (a rate outside [0, 1), zero filters, ...).
    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            Layer::Conv2D(l) => l.validate(),
            Layer::MaxPooling2D(l) => l.validate(),
            Layer::AveragePooling2D(l) => l.validate(),
            Layer::Flatten(_) => Ok(()),
            Layer::Dense(l) => l.validate(),
            Layer::Dropout(l) => l.validate(),
        }
    }
}

macro_rules! into_layer {
    ($($t:ident),*) => {
        $(impl From<$t> for Layer {
            fn from(l: $t) -> Layer {
                Layer::$t(l)
            }
        })*
    };
}
into_layer!(
    Conv2D,
    MaxPooling2D,
    AveragePooling2D,
    Flatten,
    Dense,
    Dropout
);

/// Serde mirrors of the tensor crate's enums (which stay free of serde).
#[derive(Serialize, Deserialize)]
#[serde(remote = "Padding")]
pub(crate) enum PaddingDef {
    Valid,
    Same,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ConvAlgorithm")]
pub(crate) enum ConvAlgorithmDef {
    Auto,
    Im2col,
    Direct,
    Winograd,
    Reference,
}

/// A (height, width) pair that a single number also converts into, as Keras's `kernel_size=3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size2(pub usize, pub usize);

impl From<usize> for Size2 {
    fn from(v: usize) -> Self {
        Size2(v, v)
    }
}

impl From<(usize, usize)> for Size2 {
    fn from((h, w): (usize, usize)) -> Self {
        Size2(h, w)
    }
}

/// Formats a shape the way Keras prints it, with `None` for the batch: (None, 28, 28, 32).
pub fn keras_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = std::iter::once("None".to_string())
        .chain(shape.iter().map(|d| d.to_string()))
        .collect();
    format!("({})", dims.join(", "))
}

/// An error for a layer that needs an input of a given rank.
fn rank_error(layer: &'static str, expected: &str, input: &[usize]) -> ModelError {
    ModelError::Incompatible {
        layer,
        reason: format!(
            "expects {expected} input, but the previous layer outputs {}",
            keras_shape(input)
        ),
    }
}
