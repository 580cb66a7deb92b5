//! Stochastic gradient descent with optional momentum and Nesterov momentum, as Keras:
//! ```text
//! velocity = momentum * velocity - lr * g
//! w += velocity                              (plain momentum)
//! w += momentum * velocity - lr * g          (nesterov)
//! ```
//! With momentum 0 this is w -= lr * g. Keras's defaults: lr 0.01, momentum 0.

use convlab_tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::zeros_like;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    pub learning_rate: f32,
    pub momentum: f32,
    pub nesterov: bool,
    #[serde(skip)]
    pub velocity: Vec<Tensor>,
}

impl Sgd {
    pub fn new(learning_rate: f32) -> Self {
        Sgd {
            learning_rate,
            momentum: 0.0,
            nesterov: false,
            velocity: Vec::new(),
        }
    }

    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    pub(super) fn step(&mut self, weights: &mut [&mut Tensor], grads: &[&Tensor]) {
        if self.velocity.len() != weights.len() {
            self.velocity = zeros_like(weights);
        }
        let (lr, mu) = (self.learning_rate, self.momentum);
        for ((w, g), vel) in weights.iter_mut().zip(grads).zip(&mut self.velocity) {
            let (w, vel) = (w.data_mut(), vel.data_mut());
            for ((w, &g), vel) in w.iter_mut().zip(g.data()).zip(vel.iter_mut()) {
                *vel = mu * *vel - lr * g;
                *w += if self.nesterov {
                    mu * *vel - lr * g
                } else {
                    *vel
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_accumulates() {
        let mut sgd = Sgd::new(0.1).momentum(0.9);
        let mut w = Tensor::full(&[1], 0.0);
        let g = Tensor::full(&[1], 1.0);
        sgd.step(&mut [&mut w], &[&g]); // v = -0.1, w = -0.1
        sgd.step(&mut [&mut w], &[&g]); // v = -0.19, w = -0.29
        assert!((w.data()[0] + 0.29).abs() < 1e-6);
        let mut nag = Sgd::new(0.1).momentum(0.9).nesterov(true);
        let mut w = Tensor::full(&[1], 0.0);
        nag.step(&mut [&mut w], &[&g]); // v = -0.1, w += 0.9 * -0.1 - 0.1 = -0.19
        assert!((w.data()[0] + 0.19).abs() < 1e-6);
    }
}
