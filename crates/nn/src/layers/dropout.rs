//! Dropout(rate): during training, zero each unit with probability `rate` and scale the rest by
//! 1 / (1 - rate) (inverted dropout); in inference, the identity.

use convlab_autograd::{dropout_mask, Tape, Var};
use serde::{Deserialize, Serialize};

use super::ForwardMode;
use crate::ModelError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dropout {
    pub rate: f32,
}

impl Dropout {
    pub fn new(rate: f32) -> Self {
        Dropout { rate }
    }

    pub(super) fn validate(&self) -> Result<(), ModelError> {
        if !(0.0..1.0).contains(&self.rate) {
            return Err(ModelError::InvalidLayer {
                layer: "Dropout",
                reason: format!("rate must be in [0, 1), got {}", self.rate),
            });
        }
        Ok(())
    }

    pub(super) fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, ModelError> {
        Ok(input.to_vec())
    }

    pub(super) fn forward(&self, tape: &mut Tape, x: &Var, mode: &mut ForwardMode) -> Var {
        if !mode.training || self.rate == 0.0 {
            return x.clone();
        }
        let mask = dropout_mask(x.shape(), self.rate, || mode.rng.uniform());
        tape.dropout(x, mask)
    }
}
