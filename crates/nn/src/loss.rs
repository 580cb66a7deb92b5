//! Losses and the accuracy metric.
//!
//! - `SparseCategoricalCrossentropy`: integer labels. When the model ends in a softmax, the loss
//!   is computed from the logits before it by the fused, stable op (autograd's
//!   `sparse_categorical_crossentropy`); a model ending in a linear layer is taken to output
//!   logits (Keras's `from_logits=True`).
//! - `CategoricalCrossentropy`: one-hot (or soft) target rows; -mean_i sum_c y_ic log_softmax(z)_ic.
//! - `MeanSquaredError`: mean over every element of (output - target)².

use convlab_autograd::{Tape, Var};
use convlab_tensor::reduce::argmax_last_axis;
use serde::{Deserialize, Serialize};

use crate::dataset::Targets;
use crate::sequential::ForwardOutput;
use crate::TrainError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    SparseCategoricalCrossentropy,
    CategoricalCrossentropy,
    MeanSquaredError,
}

impl Loss {
    /// Keras's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::MeanSquaredError => "mean_squared_error",
        }
    }

    /// Whether the softmax of the last layer should be fused into this loss.
    pub fn fuses_softmax(self) -> bool {
        matches!(
            self,
            Loss::SparseCategoricalCrossentropy | Loss::CategoricalCrossentropy
        )
    }

    /// Whether accuracy means something for this loss.
    pub fn has_accuracy(self) -> bool {
        self.fuses_softmax()
    }

    /// The scalar loss of a batch on the tape.
    pub fn compute(
        self,
        tape: &mut Tape,
        out: &ForwardOutput,
        targets: &Targets,
    ) -> Result<Var, TrainError> {
        let logits = out.logits.as_ref().unwrap_or(&out.output);
        match (self, targets) {
            (Loss::SparseCategoricalCrossentropy, Targets::Sparse(labels)) => {
                Ok(tape.sparse_categorical_crossentropy(logits, labels)?)
            }
            (Loss::CategoricalCrossentropy, Targets::Dense(y)) => {
                check_same_shape(self, logits.shape(), y.shape())?;
                let n = y.shape()[0] as f32;
                let log_probs = tape.log_softmax(logits);
                let y = tape.constant(y.clone());
                let picked = tape.mul(&log_probs, &y);
                let total = tape.sum(&picked);
                Ok(tape.scale(&total, -1.0 / n))
            }
            (Loss::MeanSquaredError, Targets::Dense(y)) => {
                check_same_shape(self, out.output.shape(), y.shape())?;
                let minus_y = tape.constant(convlab_tensor::elementwise::scale(y, -1.0));
                let diff = tape.add(&out.output, &minus_y);
                let squared = tape.mul(&diff, &diff);
                Ok(tape.mean(&squared))
            }
            (loss, _) => Err(TrainError::TargetKind {
                loss,
                expected: if loss == Loss::SparseCategoricalCrossentropy {
                    "integer class labels"
                } else {
                    "a tensor of target rows"
                },
            }),
        }
    }
}

fn check_same_shape(loss: Loss, output: &[usize], target: &[usize]) -> Result<(), TrainError> {
    if output != target {
        return Err(TrainError::TargetShape {
            loss,
            output: output.to_vec(),
            target: target.to_vec(),
        });
    }
    Ok(())
}

/// How many rows of `output` (N, C) pick the right class.
pub fn correct_count(output: &Var, targets: &Targets) -> usize {
    let predicted = argmax_last_axis(output.value());
    match targets {
        Targets::Sparse(labels) => predicted.iter().zip(labels).filter(|(p, l)| p == l).count(),
        Targets::Dense(y) => {
            let wanted = argmax_last_axis(y);
            predicted
                .iter()
                .zip(&wanted)
                .filter(|(p, w)| p == w)
                .count()
        }
    }
}
