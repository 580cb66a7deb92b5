//! 2-D convolution on the tape, by either algorithm (see convlab_tensor::conv2d for the formula,
//! shapes and padding rule).
//!
//! Backward: dx, dw, db from the tensor kernels of the same algorithm; the saved state is x and w
//! (shared storage, not copies) and the geometry.

use convlab_tensor::conv2d::{conv2d_backward, conv2d_forward};
use convlab_tensor::{Conv2dGeometry, ConvAlgorithm, Padding, Tensor};

use crate::tape::{Backward, Tape, Var};

struct Conv2dBackward {
    geometry: Conv2dGeometry,
    algorithm: ConvAlgorithm,
    x: Tensor,
    w: Tensor,
}

impl Backward for Conv2dBackward {
    fn name(&self) -> &'static str {
        "conv2d"
    }
    fn backward(&self, dy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        let grads = conv2d_backward(
            &self.geometry,
            &self.x,
            &self.w,
            dy,
            self.algorithm,
            needs[0],
        );
        let mut out = vec![grads.dx, needs[1].then_some(grads.dw)];
        if needs.len() == 3 {
            out.push(needs[2].then_some(grads.db));
        }
        out
    }
}

impl Tape {
    /// y = conv2d(x, w) + b. x (N, H, W, C), w (KH, KW, C, CO), b (CO) or none.
    /// Panics with the geometry error if the shapes do not fit: layers check them when built.
    pub fn conv2d(
        &mut self,
        x: &Var,
        w: &Var,
        b: Option<&Var>,
        strides: (usize, usize),
        padding: Padding,
        algorithm: ConvAlgorithm,
    ) -> Var {
        let geometry = Conv2dGeometry::new(x.shape(), w.shape(), strides, padding)
            .unwrap_or_else(|e| panic!("{e} (x {:?}, w {:?})", x.shape(), w.shape()));
        let y = conv2d_forward(
            &geometry,
            x.value(),
            w.value(),
            b.map(Var::value),
            algorithm,
        );
        let mut inputs = vec![x, w];
        inputs.extend(b);
        self.record(y, &inputs, || Conv2dBackward {
            geometry,
            algorithm,
            x: x.value().clone(),
            w: w.value().clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::gradcheck::testing::{assert_grads, random};
    use crate::gradcheck::GradcheckOptions;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn conv2d_gradients(
            (n, h, w, c, co) in (1usize..3, 1usize..7, 1usize..7, 1usize..4, 1usize..4),
            (kh, kw) in (1usize..4, 1usize..4),
            stride in 1usize..3,
            same in any::<bool>(),
            direct in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let padding = if same || kh > h || kw > w { Padding::Same } else { Padding::Valid };
            let algorithm = if direct { ConvAlgorithm::Direct } else { ConvAlgorithm::Im2col };
            // Convolution is linear in x, in w and in b: a large step leaves only rounding.
            let opts = GradcheckOptions { step: 0.5, atol: 1e-4, rtol: 1e-3, seed, norm_tolerance: None, kink_tolerance: None };
            let inputs = [
                random(&[n, h, w, c], seed),
                random(&[kh, kw, c, co], seed + 1),
                random(&[co], seed + 2),
            ];
            assert_grads(
                |t, v| t.conv2d(&v[0], &v[1], Some(&v[2]), (stride, stride), padding, algorithm),
                &inputs,
                opts,
            );
        }
    }
}
