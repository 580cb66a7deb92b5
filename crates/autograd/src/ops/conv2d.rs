//! 2-D convolution on the tape, by either algorithm (see convlab_tensor::conv2d for the formula,
//! shapes and padding rule), and the same convolution with a fused ReLU.
//!
//! Backward: dx, dw, db from the tensor kernels of the same algorithm; the saved state is x and w
//! (shared storage, not copies) and the geometry. The fused op also keeps its output y: ReLU's
//! backward is dy masked where y <= 0, which the kernel applies block by block.

use convlab_tensor::conv2d::{
    conv2d_backward, conv2d_forward, conv2d_relu_backward, conv2d_relu_forward,
};
use convlab_tensor::{Conv2dGeometry, ConvAlgorithm, Padding, Tensor};

use crate::tape::{Backward, Tape, Var};

struct Conv2dBackward {
    geometry: Conv2dGeometry,
    algorithm: ConvAlgorithm,
    x: Tensor,
    w: Tensor,
    /// The output y, if ReLU is fused into this op.
    relu_y: Option<Tensor>,
}

impl Backward for Conv2dBackward {
    fn name(&self) -> &'static str {
        if self.relu_y.is_some() {
            "conv2d+relu"
        } else {
            "conv2d"
        }
    }
    fn backward(&self, dy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        let (g, x, w, algorithm) = (&self.geometry, &self.x, &self.w, self.algorithm);
        let grads = match &self.relu_y {
            Some(y) => conv2d_relu_backward(g, x, w, y, dy, algorithm, needs[0]),
            None => conv2d_backward(g, x, w, dy, algorithm, needs[0]),
        };
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
        self.conv2d_op(x, w, b, strides, padding, algorithm, false)
    }

    /// y = relu(conv2d(x, w) + b) as one op: the same values and gradients as `conv2d` then
    /// `relu`, with one pass over y fewer each way (Keras's `Conv2D(..., activation="relu")`).
    pub fn conv2d_relu(
        &mut self,
        x: &Var,
        w: &Var,
        b: Option<&Var>,
        strides: (usize, usize),
        padding: Padding,
        algorithm: ConvAlgorithm,
    ) -> Var {
        self.conv2d_op(x, w, b, strides, padding, algorithm, true)
    }

    #[allow(clippy::too_many_arguments)]
    fn conv2d_op(
        &mut self,
        x: &Var,
        w: &Var,
        b: Option<&Var>,
        strides: (usize, usize),
        padding: Padding,
        algorithm: ConvAlgorithm,
        relu: bool,
    ) -> Var {
        let geometry = Conv2dGeometry::new(x.shape(), w.shape(), strides, padding)
            .unwrap_or_else(|e| panic!("{e} (x {:?}, w {:?})", x.shape(), w.shape()));
        let (xv, wv, bv) = (x.value(), w.value(), b.map(Var::value));
        let y = if relu {
            conv2d_relu_forward(&geometry, xv, wv, bv, algorithm)
        } else {
            conv2d_forward(&geometry, xv, wv, bv, algorithm)
        };
        let relu_y = relu.then(|| y.clone());
        let mut inputs = vec![x, w];
        inputs.extend(b);
        self.record(y, &inputs, || Conv2dBackward {
            geometry,
            algorithm,
            x: xv.clone(),
            w: wv.clone(),
            relu_y,
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn conv2d_relu_gradients(
            (n, hw, c, co) in (1usize..3, 2usize..6, 1usize..4, 1usize..4),
            direct in any::<bool>(),
            with_bias in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let algorithm = if direct { ConvAlgorithm::Direct } else { ConvAlgorithm::Im2col };
            // Piecewise linear: a large step is exact except where it crosses the ReLU's kink,
            // and those elements are skipped (their one-sided slopes disagree).
            let opts = GradcheckOptions { step: 1e-2, atol: 1e-3, rtol: 1e-2, seed, norm_tolerance: None, kink_tolerance: Some(1e-3) };
            let inputs = [
                random(&[n, hw, hw, c], seed),
                random(&[3, 3, c, co], seed + 1),
                random(&[co], seed + 2),
            ];
            assert_grads(
                |t, v| {
                    let b = with_bias.then_some(&v[2]);
                    t.conv2d_relu(&v[0], &v[1], b, (1, 1), Padding::Same, algorithm)
                },
                &inputs,
                opts,
            );
        }
    }

    /// The case CI drew on 2026-12-04: the weight step crossed two ReLU kinks on opposite sides,
    /// whose effects cancelled in the one-sided slopes (caught now by the half steps).
    #[test]
    fn conv2d_relu_gradients_two_kinks_cancelling() {
        let seed = 5233217898278621469;
        let opts = GradcheckOptions {
            step: 1e-2,
            atol: 1e-3,
            rtol: 1e-2,
            seed,
            norm_tolerance: None,
            kink_tolerance: Some(1e-3),
        };
        let inputs = [
            random(&[2, 4, 4, 2], seed),
            random(&[3, 3, 2, 3], seed + 1),
            random(&[3], seed + 2),
        ];
        assert_grads(
            |t, v| {
                t.conv2d_relu(
                    &v[0],
                    &v[1],
                    None,
                    (1, 1),
                    Padding::Same,
                    ConvAlgorithm::Im2col,
                )
            },
            &inputs,
            opts,
        );
    }
}
