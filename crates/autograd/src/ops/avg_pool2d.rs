//! Average pooling on the tape (see convlab_tensor::pool2d): the mean of each window's real
//! cells; the backward shares dy equally among them. Nothing but the geometry is saved.

use convlab_tensor::pool2d::{avg_pool2d_backward, avg_pool2d_forward};
use convlab_tensor::{Padding, Pool2dGeometry, Tensor};

use crate::tape::{Backward, Tape, Var};

struct AvgPool2dBackward {
    geometry: Pool2dGeometry,
}

impl Backward for AvgPool2dBackward {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(avg_pool2d_backward(&self.geometry, dy))]
    }
}

impl Tape {
    /// Mean over windows of `pool_size`; panics with the geometry error on impossible shapes.
    pub fn avg_pool2d(
        &mut self,
        x: &Var,
        pool_size: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Var {
        let geometry = Pool2dGeometry::new(x.shape(), pool_size, strides, padding)
            .unwrap_or_else(|e| panic!("avg_pool2d: {e} (x {:?})", x.shape()));
        let y = avg_pool2d_forward(&geometry, x.value());
        self.record(y, &[x], || AvgPool2dBackward { geometry })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::gradcheck::testing::{assert_grads, random};
    use crate::gradcheck::GradcheckOptions;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn avg_pool2d_gradients(
            (n, h, w, c) in (1usize..3, 1usize..7, 1usize..7, 1usize..3),
            pool in 1usize..4,
            stride in 1usize..3,
            same in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let padding = if same || pool > h || pool > w { Padding::Same } else { Padding::Valid };
            let opts = GradcheckOptions { step: 0.5, atol: 1e-5, rtol: 1e-4, seed, norm_tolerance: None, kink_tolerance: None };
            assert_grads(
                |t, v| t.avg_pool2d(&v[0], (pool, pool), (stride, stride), padding),
                &[random(&[n, h, w, c], seed)],
                opts,
            );
        }
    }
}
