//! softmax and log_softmax over the last axis (stable for any logits; see
//! convlab_tensor::softmax).
//!
//! Backward, from the saved output y:
//! - softmax:     dx = y * (dy - sum(dy * y))
//! - log_softmax: dx = dy - softmax(x) * sum(dy), with softmax(x) = exp(y)

use convlab_tensor::{softmax, Tensor};

use crate::tape::{Backward, Tape, Var};

struct SoftmaxBackward {
    y: Tensor,
}

impl Backward for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "softmax"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(softmax::softmax_backward(&self.y, dy))]
    }
}

struct LogSoftmaxBackward {
    y: Tensor,
}

impl Backward for LogSoftmaxBackward {
    fn name(&self) -> &'static str {
        "log_softmax"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(softmax::log_softmax_backward(&self.y, dy))]
    }
}

impl Tape {
    pub fn softmax(&mut self, x: &Var) -> Var {
        let y = softmax::softmax(x.value());
        let saved = y.clone();
        self.record(y, &[x], || SoftmaxBackward { y: saved })
    }

    pub fn log_softmax(&mut self, x: &Var) -> Var {
        let y = softmax::log_softmax(x.value());
        let saved = y.clone();
        self.record(y, &[x], || LogSoftmaxBackward { y: saved })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::gradcheck::testing::{assert_grads, random};
    use crate::gradcheck::GradcheckOptions;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn softmax_gradients(rows in 1usize..4, classes in 1usize..8, scale in 0.1f32..5.0, seed in any::<u64>()) {
            let opts = GradcheckOptions { step: 1e-2, atol: 1e-4, rtol: 1e-3, seed, norm_tolerance: None, kink_tolerance: None };
            let mut x = random(&[rows, classes], seed);
            x.data_mut().iter_mut().for_each(|v| *v *= scale);
            assert_grads(|t, v| t.softmax(&v[0]), std::slice::from_ref(&x), opts);
            assert_grads(|t, v| t.log_softmax(&v[0]), &[x], opts);
        }
    }
}
