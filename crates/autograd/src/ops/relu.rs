//! relu(x) = max(x, 0).
//!
//! Backward: dx = dy where y > 0, else 0. At exactly x = 0 the derivative is defined as 0 (the
//! subgradient TensorFlow and PyTorch use), so a unit sitting on the kink passes no gradient.

use convlab_tensor::{elementwise, Tensor};

use crate::tape::{Backward, Tape, Var};

struct ReluBackward {
    /// The output: y > 0 is exactly the mask of units that pass gradient.
    y: Tensor,
}

impl Backward for ReluBackward {
    fn name(&self) -> &'static str {
        "relu"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(elementwise::relu_backward(&self.y, dy))]
    }
}

impl Tape {
    pub fn relu(&mut self, x: &Var) -> Var {
        let y = elementwise::relu(x.value());
        let saved = y.clone();
        self.record(y, &[x], || ReluBackward { y: saved })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::gradcheck::testing::{assert_grads, away_from_zero};
    use crate::gradcheck::GradcheckOptions;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn relu_gradients(len in 1usize..30, seed in any::<u64>()) {
            // Inputs at least 0.1 from the kink, step 0.05: no difference straddles it.
            let opts = GradcheckOptions { step: 0.05, atol: 1e-4, rtol: 1e-4, seed, norm_tolerance: None, kink_tolerance: None };
            assert_grads(|t, v| t.relu(&v[0]), &[away_from_zero(&[len], seed, 0.1)], opts);
        }
    }
}
