//! Inverted dropout: y = x * mask, where mask holds 0 (dropped) or 1 / (1 - rate) (kept), so
//! the expected value of y is x and inference needs no rescaling: it is the identity, and the
//! layer simply does not call this op then.
//!
//! The mask is drawn by the caller (the layer owns the seeded generator) and saved here, since the
//! backward must drop exactly the same units: dx = dy * mask.

use convlab_tensor::{elementwise, Tensor};

use crate::tape::{Backward, Tape, Var};

struct DropoutBackward {
    mask: Tensor,
}

impl Backward for DropoutBackward {
    fn name(&self) -> &'static str {
        "dropout"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(elementwise::mul(dy, &self.mask))]
    }
}

impl Tape {
    /// x * mask, with `mask` of x's shape (0 or 1 / (1 - rate)).
    pub fn dropout(&mut self, x: &Var, mask: Tensor) -> Var {
        let y = elementwise::mul(x.value(), &mask);
        self.record(y, &[x], || DropoutBackward { mask })
    }
}

/// A dropout mask of `len` values from uniform draws in [0, 1): dropped where draw < rate.
pub fn dropout_mask(shape: &[usize], rate: f32, uniform01: impl FnMut() -> f32) -> Tensor {
    let keep = 1.0 / (1.0 - rate);
    let mut draw = uniform01;
    let len = shape.iter().product();
    let mask = (0..len)
        .map(|_| if draw() < rate { 0.0 } else { keep })
        .collect();
    Tensor::from_vec("dropout_mask", shape, mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::testing::{assert_grads, random};
    use crate::gradcheck::GradcheckOptions;

    #[test]
    fn dropout_gradients_follow_the_saved_mask() {
        let mut i = 0u32;
        let mask = dropout_mask(&[3, 5], 0.4, || {
            i += 1;
            (i % 5) as f32 / 5.0
        });
        // Draws 0.2, 0.4, 0.6, 0.8, 0.0 repeat: 0.2 and 0.0 are dropped.
        assert_eq!(
            &mask.data()[..5],
            &[0.0, 1.0 / 0.6, 1.0 / 0.6, 1.0 / 0.6, 0.0]
        );
        let opts = GradcheckOptions {
            step: 0.5,
            atol: 1e-5,
            rtol: 1e-4,
            seed: 2,
            norm_tolerance: None,
            kink_tolerance: None,
        };
        assert_grads(
            |t, v| t.dropout(&v[0], mask.clone()),
            &[random(&[3, 5], 9)],
            opts,
        );
    }
}
