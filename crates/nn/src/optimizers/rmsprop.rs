//! RMSprop, as Keras 3 (not centered, no momentum):
//! ```text
//! v = rho * v + (1 - rho) * g²
//! w -= lr * g / sqrt(v + epsilon)      (epsilon inside the root, as keras/optimizers/rmsprop.py)
//! ```
//! Keras's defaults: lr 1e-3, rho 0.9, epsilon 1e-7.

use convlab_tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::zeros_like;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RmsProp {
    pub learning_rate: f32,
    pub rho: f32,
    pub epsilon: f32,
    #[serde(skip)]
    pub v: Vec<Tensor>,
}

impl RmsProp {
    pub fn new(learning_rate: f32) -> Self {
        RmsProp {
            learning_rate,
            rho: 0.9,
            epsilon: 1e-7,
            v: Vec::new(),
        }
    }

    pub(super) fn step(&mut self, weights: &mut [&mut Tensor], grads: &[&Tensor]) {
        if self.v.len() != weights.len() {
            self.v = zeros_like(weights);
        }
        let (lr, rho, eps) = (self.learning_rate, self.rho, self.epsilon);
        for ((w, g), v) in weights.iter_mut().zip(grads).zip(&mut self.v) {
            let (w, v) = (w.data_mut(), v.data_mut());
            for ((w, &g), v) in w.iter_mut().zip(g.data()).zip(v.iter_mut()) {
                *v = rho * *v + (1.0 - rho) * g * g;
                *w -= lr * g / (*v + eps).sqrt();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step() {
        // v = 0.1 * 4 = 0.4; w = 1 - 0.01 * 2 / sqrt(0.4 + 1e-7) = 1 - 0.0316228.
        let mut opt = RmsProp::new(0.01);
        let mut w = Tensor::full(&[1], 1.0);
        opt.step(&mut [&mut w], &[&Tensor::full(&[1], 2.0)]);
        assert!((w.data()[0] - (1.0 - 0.031_622_78)).abs() < 1e-6);
    }

    #[test]
    fn tiny_gradients_take_tiny_steps_as_in_keras() {
        // g = 1e-4: v = 1e-9, step = 0.01 * 1e-4 / sqrt(1e-9 + 1e-7) = 3.1466e-3 (Keras puts
        // epsilon inside the root; outside it the step would be 0.01 * 1e-4 / 1.3162e-4 = 7.6e-3).
        let mut opt = RmsProp::new(0.01);
        let mut w = Tensor::full(&[1], 0.0);
        opt.step(&mut [&mut w], &[&Tensor::full(&[1], 1e-4)]);
        assert!((w.data()[0] + 3.1466e-3).abs() < 1e-6, "{}", w.data()[0]);
    }
}
