//! Convolution, ReLU and max pooling as one op on the tape (see convlab_tensor::conv_relu_pool):
//! what a `Conv2D(activation="relu")` followed by `MaxPooling2D` records when they train.
//!
//! Backward: the pooled gradient goes to each window's winner if the pooled value is positive
//! (ReLU's mask), then through the convolution, a few images at a time. The saved state is x and
//! w (shared storage), the pooled output and the argmax; the convolution's full-size output is
//! never kept, which is the point.

use convlab_tensor::conv_relu_pool::{
    conv2d_relu_max_pool2d_backward, conv2d_relu_max_pool2d_forward, fusion_pays_off,
};
use convlab_tensor::{Conv2dGeometry, ConvAlgorithm, Padding, Pool2dGeometry, Tensor};

use crate::tape::{Backward, Tape, Var};

struct Conv2dReluMaxPool2dBackward {
    conv: Conv2dGeometry,
    pool: Pool2dGeometry,
    algorithm: ConvAlgorithm,
    x: Tensor,
    w: Tensor,
    /// The pooled output: ReLU's mask at each window's winner.
    y: Tensor,
    argmax: Vec<u32>,
}

impl Backward for Conv2dReluMaxPool2dBackward {
    fn name(&self) -> &'static str {
        "conv2d+relu+max_pool2d"
    }
    fn backward(&self, dy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        let grads = conv2d_relu_max_pool2d_backward(
            &self.conv,
            &self.pool,
            &self.x,
            &self.w,
            &self.y,
            &self.argmax,
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

/// A convolution's strides and padding, and the algorithm that computes it.
#[derive(Clone, Copy, Debug)]
pub struct ConvSpec {
    pub strides: (usize, usize),
    pub padding: Padding,
    pub algorithm: ConvAlgorithm,
}

/// A pooling's window, strides and padding.
#[derive(Clone, Copy, Debug)]
pub struct PoolSpec {
    pub pool_size: (usize, usize),
    pub strides: (usize, usize),
    pub padding: Padding,
}

impl Tape {
    /// max_pool2d(relu(conv2d(x, w) + b)) as one op: the same values as `conv2d_relu` then
    /// `max_pool2d`, and the same gradients up to float rounding, with the convolution's
    /// output made and pooled a few images at a time while it is in cache, or, for a Winograd
    /// convolution whose output tiles are the pooling's windows, pooled tile by tile; where
    /// neither pays off (`fusion_pays_off`: another Winograd convolution), the two ops. Panics
    /// with the geometry error if the shapes do not fit: layers check them when built.
    pub fn conv2d_relu_max_pool2d(
        &mut self,
        x: &Var,
        w: &Var,
        b: Option<&Var>,
        conv: ConvSpec,
        pool: PoolSpec,
    ) -> Var {
        let conv_g = Conv2dGeometry::new(x.shape(), w.shape(), conv.strides, conv.padding)
            .unwrap_or_else(|e| panic!("{e} (x {:?}, w {:?})", x.shape(), w.shape()));
        let pool_g = Pool2dGeometry::new(
            &conv_g.y_shape(),
            pool.pool_size,
            pool.strides,
            pool.padding,
        )
        .unwrap_or_else(|e| panic!("max_pool2d: {e} (x {:?})", conv_g.y_shape()));
        if !fusion_pays_off(&conv_g, &pool_g, conv.algorithm) {
            // A Winograd convolution whose tiles are not the pooling windows runs faster on the
            // whole batch (convlab_tensor's conv_relu_pool docs): the two ops, recorded one after
            // the other.
            let y = self.conv2d_relu(x, w, b, conv.strides, conv.padding, conv.algorithm);
            return self.max_pool2d(&y, pool.pool_size, pool.strides, pool.padding);
        }
        let (xv, wv, bv) = (x.value(), w.value(), b.map(Var::value));
        let recording = self.is_recording();
        let out =
            conv2d_relu_max_pool2d_forward(&conv_g, &pool_g, xv, wv, bv, conv.algorithm, recording);
        if !recording {
            // Inference: nothing will run the backward.
            return self.constant(out.y);
        }
        let y = out.y.clone();
        let mut inputs = vec![x, w];
        inputs.extend(b);
        self.record(out.y, &inputs, || Conv2dReluMaxPool2dBackward {
            conv: conv_g,
            pool: pool_g,
            algorithm: conv.algorithm,
            x: xv.clone(),
            w: wv.clone(),
            y,
            argmax: out.argmax,
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
        fn conv2d_relu_max_pool2d_gradients(
            (n, hw, c, co) in (1usize..4, 2usize..7, 1usize..4, 1usize..4),
            algorithm in prop_oneof![
                Just(ConvAlgorithm::Im2col),
                Just(ConvAlgorithm::Direct),
                Just(ConvAlgorithm::Winograd),
            ],
            (pool, stride) in (1usize..3, 1usize..3),
            with_bias in any::<bool>(),
            seed in any::<u64>(),
        ) {
            // Piecewise linear: a step is exact except where it crosses a ReLU kink or changes a
            // window's winner, and those elements are skipped (their one-sided slopes disagree).
            let opts = GradcheckOptions { step: 1e-2, atol: 1e-3, rtol: 1e-2, seed, norm_tolerance: None, kink_tolerance: Some(1e-3) };
            let inputs = [
                random(&[n, hw, hw, c], seed),
                random(&[3, 3, c, co], seed + 1),
                random(&[co], seed + 2),
            ];
            let conv = ConvSpec { strides: (1, 1), padding: Padding::Same, algorithm };
            let pool = PoolSpec { pool_size: (pool, pool), strides: (stride, stride), padding: Padding::Valid };
            assert_grads(
                |t, v| t.conv2d_relu_max_pool2d(&v[0], &v[1], with_bias.then_some(&v[2]), conv, pool),
                &inputs,
                opts,
            );
        }
    }
}
