//! Max pooling on the tape (see convlab_tensor::pool2d for shapes and the padding rule).
//!
//! Backward: each dy goes to the input that won its window; ties go to the first maximum in
//! row-major window order, so exactly one input receives it. The saved state is only the argmax.

use convlab_tensor::pool2d::{max_pool2d_backward, max_pool2d_forward, max_pool2d_forward_values};
use convlab_tensor::{Padding, Pool2dGeometry, Tensor};

use crate::tape::{Backward, Tape, Var};

struct MaxPool2dBackward {
    geometry: Pool2dGeometry,
    argmax: Vec<u32>,
}

impl Backward for MaxPool2dBackward {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(max_pool2d_backward(&self.geometry, &self.argmax, dy))]
    }
}

impl Tape {
    /// Max over windows of `pool_size`; panics with the geometry error on impossible shapes.
    pub fn max_pool2d(
        &mut self,
        x: &Var,
        pool_size: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Var {
        let geometry = Pool2dGeometry::new(x.shape(), pool_size, strides, padding)
            .unwrap_or_else(|e| panic!("max_pool2d: {e} (x {:?})", x.shape()));
        if !self.is_recording() {
            // Inference: nothing will run the backward, so the argmax is not kept.
            let y = max_pool2d_forward_values(&geometry, x.value());
            return self.constant(y);
        }
        let out = max_pool2d_forward(&geometry, x.value());
        self.record(out.y, &[x], || MaxPool2dBackward {
            geometry,
            argmax: out.argmax,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::gradcheck::testing::assert_grads;
    use crate::gradcheck::GradcheckOptions;

    /// Distinct values at least 0.1 apart, shuffled: no window has a near-tie that a step of
    /// 0.02 could flip, so max pooling is linear around every input.
    fn spread(len: usize, seed: u64) -> Vec<f32> {
        let mut v: Vec<f32> = (0..len)
            .map(|i| i as f32 * 0.1 - len as f32 * 0.05)
            .collect();
        let mut s = seed | 1;
        for i in (1..len).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            v.swap(i, (s % (i as u64 + 1)) as usize);
        }
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn max_pool2d_gradients(
            (n, h, w, c) in (1usize..3, 1usize..7, 1usize..7, 1usize..3),
            pool in 1usize..4,
            stride in 1usize..3,
            same in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let padding = if same || pool > h || pool > w { Padding::Same } else { Padding::Valid };
            let x = Tensor::new(&[n, h, w, c], spread(n * h * w * c, seed)).unwrap();
            let opts = GradcheckOptions { step: 0.02, atol: 1e-4, rtol: 1e-3, seed, norm_tolerance: None, kink_tolerance: None };
            assert_grads(|t, v| t.max_pool2d(&v[0], (pool, pool), (stride, stride), padding), &[x], opts);
        }
    }
}
