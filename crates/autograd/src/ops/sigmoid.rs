//! sigmoid(x) = 1 / (1 + e^-x), computed without overflow for large |x|.
//!
//! Backward: dx = dy * y * (1 - y), from the saved output.

use convlab_tensor::{elementwise, Tensor};

use crate::tape::{Backward, Tape, Var};

struct SigmoidBackward {
    y: Tensor,
}

impl Backward for SigmoidBackward {
    fn name(&self) -> &'static str {
        "sigmoid"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(elementwise::sigmoid_backward(&self.y, dy))]
    }
}

impl Tape {
    pub fn sigmoid(&mut self, x: &Var) -> Var {
        let y = elementwise::sigmoid(x.value());
        let saved = y.clone();
        self.record(y, &[x], || SigmoidBackward { y: saved })
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
        fn sigmoid_gradients(len in 1usize..30, scale in 0.1f32..4.0, seed in any::<u64>()) {
            let opts = GradcheckOptions { step: 1e-2, atol: 1e-4, rtol: 1e-3, seed, norm_tolerance: None, kink_tolerance: None };
            let mut x = random(&[len], seed);
            x.data_mut().iter_mut().for_each(|v| *v *= scale);
            assert_grads(|t, v| t.sigmoid(&v[0]), &[x], opts);
        }
    }
}
