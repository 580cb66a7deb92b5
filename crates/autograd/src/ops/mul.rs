//! Elementwise product `a * b` and scaling `s * x`.
//!
//! Backward: da = dy * b, db = dy * a; d(s x) = s dy.

use convlab_tensor::{elementwise, Tensor};

use crate::tape::{Backward, Tape, Var};

struct MulBackward {
    a: Tensor,
    b: Tensor,
}

impl Backward for MulBackward {
    fn name(&self) -> &'static str {
        "mul"
    }
    fn backward(&self, dy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![
            needs[0].then(|| elementwise::mul(dy, &self.b)),
            needs[1].then(|| elementwise::mul(dy, &self.a)),
        ]
    }
}

struct ScaleBackward {
    s: f32,
}

impl Backward for ScaleBackward {
    fn name(&self) -> &'static str {
        "scale"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(elementwise::scale(dy, self.s))]
    }
}

impl Tape {
    /// a * b elementwise, same shapes.
    pub fn mul(&mut self, a: &Var, b: &Var) -> Var {
        let y = elementwise::mul(a.value(), b.value());
        self.record(y, &[a, b], || MulBackward {
            a: a.value().clone(),
            b: b.value().clone(),
        })
    }

    /// s * x.
    pub fn scale(&mut self, x: &Var, s: f32) -> Var {
        let y = elementwise::scale(x.value(), s);
        self.record(y, &[x], || ScaleBackward { s })
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
        fn mul_and_scale_gradients(len in 1usize..20, s in -3.0f32..3.0, seed in any::<u64>()) {
            // mul is linear in each input separately; a central difference is exact for it.
            let opts = GradcheckOptions { step: 0.5, atol: 1e-4, rtol: 1e-4, seed, norm_tolerance: None, kink_tolerance: None };
            let inputs = [random(&[len], seed), random(&[len], seed + 1)];
            assert_grads(|t, v| t.mul(&v[0], &v[1]), &inputs, opts);
            assert_grads(|t, v| t.scale(&v[0], s), &inputs[..1], opts);
        }
    }
}
