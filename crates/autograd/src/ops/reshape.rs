//! reshape and flatten: the same values under another shape (no copy).
//!
//! Backward: dx = dy reshaped to x's shape.

use convlab_tensor::Tensor;

use crate::tape::{Backward, Tape, Var};

struct ReshapeBackward {
    x_shape: Vec<usize>,
}

impl Backward for ReshapeBackward {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        let dx = dy
            .reshape(&self.x_shape)
            .unwrap_or_else(|e| panic!("reshape backward: {e}"));
        vec![Some(dx)]
    }
}

impl Tape {
    /// x under `shape`; panics (engine contract) if the element counts differ.
    pub fn reshape(&mut self, x: &Var, shape: &[usize]) -> Var {
        let y = x
            .value()
            .reshape(shape)
            .unwrap_or_else(|e| panic!("reshape: {e}"));
        self.record(y, &[x], || ReshapeBackward {
            x_shape: x.shape().to_vec(),
        })
    }

    /// (N, ...) -> (N, product of the rest), like Keras's Flatten.
    pub fn flatten(&mut self, x: &Var) -> Var {
        let n = x.shape().first().copied().unwrap_or(1);
        let rest = x.shape().iter().skip(1).product();
        self.reshape(x, &[n, rest])
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::testing::{assert_grads, random};
    use crate::gradcheck::GradcheckOptions;

    #[test]
    fn flatten_gradients() {
        let opts = GradcheckOptions {
            step: 0.5,
            atol: 1e-5,
            rtol: 1e-5,
            seed: 1,
            norm_tolerance: None,
            kink_tolerance: None,
        };
        assert_grads(|t, v| t.flatten(&v[0]), &[random(&[2, 3, 2, 4], 5)], opts);
    }
}
