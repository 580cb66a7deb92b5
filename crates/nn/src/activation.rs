//! Activations a layer can apply to its output, as Keras's `activation=` argument.

use convlab_autograd::{Tape, Var};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Activation {
    /// The identity (Keras's "linear", the default).
    #[default]
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    /// Over the last axis. Followed by a cross-entropy loss, training fuses the two and feeds the
    /// loss the logits (see the loss module).
    Softmax,
}

impl Activation {
    pub fn apply(self, tape: &mut Tape, x: &Var) -> Var {
        match self {
            Activation::Linear => x.clone(),
            Activation::Relu => tape.relu(x),
            Activation::Sigmoid => tape.sigmoid(x),
            Activation::Tanh => tape.tanh(x),
            Activation::Softmax => tape.softmax(x),
        }
    }
}
