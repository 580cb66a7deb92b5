//! sum and mean of all elements, to a scalar of shape [].
//!
//! Backward: dx = dy broadcast to x's shape (times 1/len for the mean).

use convlab_tensor::{reduce, Tensor};

use crate::tape::{Backward, Tape, Var};

struct SumBackward {
    x_shape: Vec<usize>,
    /// 1 for a sum, 1/len for a mean.
    factor: f32,
}

impl Backward for SumBackward {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(Tensor::full(&self.x_shape, dy.item() * self.factor))]
    }
}

impl Tape {
    pub fn sum(&mut self, x: &Var) -> Var {
        let y = Tensor::scalar(reduce::sum_all(x.value()));
        self.record(y, &[x], || SumBackward {
            x_shape: x.shape().to_vec(),
            factor: 1.0,
        })
    }

    /// Mean of all elements; the mean of an empty tensor is NaN.
    pub fn mean(&mut self, x: &Var) -> Var {
        let factor = 1.0 / x.value().len() as f32;
        let y = Tensor::scalar(reduce::sum_all(x.value()) * factor);
        self.record(y, &[x], || SumBackward {
            x_shape: x.shape().to_vec(),
            factor,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::gradcheck::testing::{assert_grads, random};
    use crate::gradcheck::GradcheckOptions;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn sum_and_mean_gradients(rows in 1usize..5, cols in 1usize..7, seed in any::<u64>()) {
            let opts = GradcheckOptions { step: 0.5, atol: 1e-5, rtol: 1e-4, seed, norm_tolerance: None, kink_tolerance: None };
            let x = [random(&[rows, cols], seed)];
            assert_grads(|t, v| t.sum(&v[0]), &x, opts);
            assert_grads(|t, v| t.mean(&v[0]), &x, opts);
        }
    }
}
