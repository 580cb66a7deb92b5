//! Dense: y = x · kernel + bias, x (N, in), kernel (in, units), bias (units).

use convlab_autograd::{Tape, Var};
use serde::{Deserialize, Serialize};

use super::{keras_shape, ParamSpec};
use crate::activation::Activation;
use crate::init::Initializer;
use crate::ModelError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dense {
    pub units: usize,
    pub activation: Activation,
    pub use_bias: bool,
    pub kernel_initializer: Initializer,
    pub bias_initializer: Initializer,
}

impl Dense {
    /// `Dense(units)` with Keras's defaults: no activation, a bias, Glorot-uniform kernel.
    pub fn new(units: usize) -> Self {
        Dense {
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
        }
    }
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.kernel_initializer = init;
        self
    }
    pub fn bias_initializer(mut self, init: Initializer) -> Self {
        self.bias_initializer = init;
        self
    }

    pub(super) fn validate(&self) -> Result<(), ModelError> {
        if self.units == 0 {
            return Err(ModelError::InvalidLayer {
                layer: "Dense",
                reason: "units must be at least 1".into(),
            });
        }
        for init in [self.kernel_initializer, self.bias_initializer] {
            if let Some(reason) = init.problem() {
                return Err(ModelError::InvalidLayer {
                    layer: "Dense",
                    reason,
                });
            }
        }
        Ok(())
    }

    pub(super) fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, ModelError> {
        // Keras would apply a Dense to the last axis of a 4-d input; the chapter always flattens
        // first, and doing so silently is a classic mistake, so convlab asks for it.
        if input.len() != 1 {
            return Err(ModelError::Incompatible {
                layer: "Dense",
                reason: format!(
                    "expects a 1-d (features) input, but the previous layer outputs {}; add Flatten() before it",
                    keras_shape(input)
                ),
            });
        }
        Ok(vec![self.units])
    }

    pub(super) fn param_specs(&self, input: &[usize]) -> Vec<ParamSpec> {
        let fan_in = input.first().copied().unwrap_or(1);
        let mut specs = vec![ParamSpec {
            name: "kernel",
            shape: vec![fan_in, self.units],
            initializer: self.kernel_initializer,
            fan_in,
            fan_out: self.units,
        }];
        if self.use_bias {
            specs.push(ParamSpec {
                name: "bias",
                shape: vec![self.units],
                initializer: self.bias_initializer,
                fan_in,
                fan_out: self.units,
            });
        }
        specs
    }

    pub(super) fn forward(&self, tape: &mut Tape, x: &Var, params: &[Var]) -> Var {
        let y = tape.matmul(x, &params[0]);
        match params.get(1) {
            Some(bias) => tape.add_bias(&y, bias),
            None => y,
        }
    }
}
