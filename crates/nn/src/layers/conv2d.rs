//! Conv2D: `filters` kernels of `kernel_size` slid over an NHWC input (see
//! convlab_tensor::conv2d for the formula and the `same` padding rule).
//!
//! Parameters: kernel (kh, kw, in, filters) and bias (filters), in Keras's layout.

use convlab_autograd::{ConvSpec, Tape, Var};
use convlab_tensor::{Conv2dGeometry, ConvAlgorithm, Padding};
use serde::{Deserialize, Serialize};

use super::{
    keras_shape, rank_error, ConvAlgorithmDef, MaxPooling2D, PaddingDef, ParamSpec, Size2,
};
use crate::activation::Activation;
use crate::init::Initializer;
use crate::ModelError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2D {
    pub filters: usize,
    pub kernel_size: Size2,
    pub strides: Size2,
    #[serde(with = "PaddingDef")]
    pub padding: Padding,
    pub activation: Activation,
    pub use_bias: bool,
    pub kernel_initializer: Initializer,
    pub bias_initializer: Initializer,
    /// Which convolution algorithm runs; not a Keras option (results agree to rounding).
    #[serde(with = "ConvAlgorithmDef")]
    pub algorithm: ConvAlgorithm,
}

impl Conv2D {
    /// `Conv2D(filters, kernel_size)` with Keras's defaults: strides 1, valid padding, no
    /// activation, a bias, Glorot-uniform kernel, zero bias.
    pub fn new(filters: usize, kernel_size: impl Into<Size2>) -> Self {
        Conv2D {
            filters,
            kernel_size: kernel_size.into(),
            strides: Size2(1, 1),
            padding: Padding::Valid,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            algorithm: ConvAlgorithm::Auto,
        }
    }
    pub fn strides(mut self, strides: impl Into<Size2>) -> Self {
        self.strides = strides.into();
        self
    }
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
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
    pub fn algorithm(mut self, algorithm: ConvAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    pub(super) fn validate(&self) -> Result<(), ModelError> {
        let Size2(kh, kw) = self.kernel_size;
        let Size2(sh, sw) = self.strides;
        if self.filters == 0 || kh == 0 || kw == 0 || sh == 0 || sw == 0 {
            return Err(ModelError::InvalidLayer {
                layer: "Conv2D",
                reason: format!(
                    "filters, kernel_size and strides must be at least 1 (filters {}, kernel_size ({kh}, {kw}), strides ({sh}, {sw}))",
                    self.filters
                ),
            });
        }
        for init in [self.kernel_initializer, self.bias_initializer] {
            if let Some(reason) = init.problem() {
                return Err(ModelError::InvalidLayer {
                    layer: "Conv2D",
                    reason,
                });
            }
        }
        Ok(())
    }

    pub(super) fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, ModelError> {
        let &[h, w, c] = input else {
            return Err(rank_error(
                "Conv2D",
                "a 3-d (height, width, channels)",
                input,
            ));
        };
        let Size2(kh, kw) = self.kernel_size;
        let g = Conv2dGeometry::new(
            &[1, h, w, c],
            &[kh, kw, c, self.filters],
            (self.strides.0, self.strides.1),
            self.padding,
        )
        .map_err(|e| ModelError::Incompatible {
            layer: "Conv2D",
            reason: format!("cannot follow an output of {}: {e}", keras_shape(input)),
        })?;
        Ok(vec![g.ho, g.wo, self.filters])
    }

    pub(super) fn param_specs(&self, input: &[usize]) -> Vec<ParamSpec> {
        let c = input.last().copied().unwrap_or(1);
        let Size2(kh, kw) = self.kernel_size;
        let (fan_in, fan_out) = (kh * kw * c, kh * kw * self.filters);
        let mut specs = vec![ParamSpec {
            name: "kernel",
            shape: vec![kh, kw, c, self.filters],
            initializer: self.kernel_initializer,
            fan_in,
            fan_out,
        }];
        if self.use_bias {
            specs.push(ParamSpec {
                name: "bias",
                shape: vec![self.filters],
                initializer: self.bias_initializer,
                fan_in,
                fan_out,
            });
        }
        specs
    }

    /// The convolution and a ReLU activation as one fused op (`Tape::conv2d_relu`: one pass over
    /// the output fewer, forward and backward), or None if the activation is not ReLU.
    pub(super) fn forward_with_relu(
        &self,
        tape: &mut Tape,
        x: &Var,
        params: &[Var],
    ) -> Option<Var> {
        (self.activation == Activation::Relu).then(|| {
            tape.conv2d_relu(
                x,
                &params[0],
                params.get(1),
                (self.strides.0, self.strides.1),
                self.padding,
                self.algorithm,
            )
        })
    }

    /// The convolution, a ReLU activation and the max pooling of the next layer as one op
    /// (`Tape::conv2d_relu_max_pool2d`), or None if the activation is not ReLU.
    pub(super) fn forward_with_relu_and_pool(
        &self,
        pool: &MaxPooling2D,
        tape: &mut Tape,
        x: &Var,
        params: &[Var],
    ) -> Option<Var> {
        (self.activation == Activation::Relu).then(|| {
            let conv = ConvSpec {
                strides: (self.strides.0, self.strides.1),
                padding: self.padding,
                algorithm: self.algorithm,
            };
            tape.conv2d_relu_max_pool2d(x, &params[0], params.get(1), conv, pool.spec())
        })
    }

    pub(super) fn forward(&self, tape: &mut Tape, x: &Var, params: &[Var]) -> Var {
        tape.conv2d(
            x,
            &params[0],
            params.get(1),
            (self.strides.0, self.strides.1),
            self.padding,
            self.algorithm,
        )
    }
}
