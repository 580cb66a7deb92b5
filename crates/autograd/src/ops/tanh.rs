//! tanh(x).
//!
//! Backward: dx = dy * (1 - y²), from the saved output.

use convlab_tensor::{elementwise, Tensor};

use crate::tape::{Backward, Tape, Var};

struct TanhBackward {
    y: Tensor,
}

impl Backward for TanhBackward {
    fn name(&self) -> &'static str {
        "tanh"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(elementwise::tanh_backward(&self.y, dy))]
    }
}

impl Tape {
    pub fn tanh(&mut self, x: &Var) -> Var {
        let y = elementwise::tanh(x.value());
        let saved = y.clone();
        self.record(y, &[x], || TanhBackward { y: saved })
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
        fn tanh_gradients(len in 1usize..30, scale in 0.1f32..3.0, seed in any::<u64>()) {
            let opts = GradcheckOptions { step: 1e-2, atol: 1e-4, rtol: 1e-3, seed, norm_tolerance: None, kink_tolerance: None };
            let mut x = random(&[len], seed);
            x.data_mut().iter_mut().for_each(|v| *v *= scale);
            assert_grads(|t, v| t.tanh(&v[0]), &[x], opts);
        }
    }
}
