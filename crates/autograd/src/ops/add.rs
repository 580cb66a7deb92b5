//! Addition: `a + b` for equal shapes, and `x + bias` with the bias (C) broadcast over every
//! leading axis of x (.., C): Dense rows and NHWC pixels alike.
//!
//! Backward: da = dy, db = dy; for the bias, dbias = dy summed over the broadcast axes.

use convlab_tensor::{elementwise, reduce, Tensor};

use crate::tape::{Backward, Tape, Var};

struct AddBackward;

impl Backward for AddBackward {
    fn name(&self) -> &'static str {
        "add"
    }
    fn backward(&self, dy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        needs.iter().map(|&n| n.then(|| dy.clone())).collect()
    }
}

struct AddBiasBackward;

impl Backward for AddBiasBackward {
    fn name(&self) -> &'static str {
        "add_bias"
    }
    fn backward(&self, dy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![
            needs[0].then(|| dy.clone()),
            needs[1].then(|| reduce::sum_to_last_axis(dy)),
        ]
    }
}

impl Tape {
    /// a + b, same shapes (panics naming both shapes otherwise).
    pub fn add(&mut self, a: &Var, b: &Var) -> Var {
        let y = elementwise::add(a.value(), b.value());
        self.record(y, &[a, b], || AddBackward)
    }

    /// x (.., C) + bias (C).
    pub fn add_bias(&mut self, x: &Var, bias: &Var) -> Var {
        let y = elementwise::add_bias(x.value(), bias.value());
        self.record(y, &[x, bias], || AddBiasBackward)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::gradcheck::testing::{assert_grads, random};
    use crate::gradcheck::GradcheckOptions;

    // Linear ops: a large step leaves only rounding error, so tolerances stay tight.
    const LINEAR: GradcheckOptions = GradcheckOptions {
        step: 0.5,
        atol: 1e-4,
        rtol: 1e-4,
        seed: 3,
        norm_tolerance: None,
        kink_tolerance: None,
    };

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn add_gradients(rows in 1usize..5, cols in 1usize..6, seed in any::<u64>()) {
            let inputs = [random(&[rows, cols], seed), random(&[rows, cols], seed + 1)];
            assert_grads(|t, v| t.add(&v[0], &v[1]), &inputs, LINEAR);
        }

        #[test]
        fn add_bias_gradients_rows_and_nhwc(n in 1usize..3, h in 1usize..4, c in 1usize..5, seed in any::<u64>()) {
            let bias = random(&[c], seed + 1);
            assert_grads(|t, v| t.add_bias(&v[0], &v[1]), &[random(&[n, c], seed), bias.clone()], LINEAR);
            assert_grads(|t, v| t.add_bias(&v[0], &v[1]), &[random(&[n, h, h, c], seed), bias], LINEAR);
        }
    }
}
