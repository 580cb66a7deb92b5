//! Matrix product: y = a · b, a (M, K), b (K, N), y (M, N). A Dense layer is x · w + bias.
//!
//! Backward: da = dy · bᵀ (M, K), db = aᵀ · dy (K, N); the transposes are GEMM strides. Every
//! output is written whole by its GEMM (beta = 0), so it takes recycled storage unzeroed.

use convlab_tensor::error::shape_panic;
use convlab_tensor::gemm::{gemm, MatMut, MatRef};
use convlab_tensor::recycle;
use convlab_tensor::Tensor;

use crate::tape::{Backward, Tape, Var};

struct MatmulBackward {
    a: Tensor,
    b: Tensor,
}

impl Backward for MatmulBackward {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn backward(&self, dy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        let [m, k] = self.a.dims2("matmul backward");
        let n = self.b.dims2("matmul backward")[1];
        let da = needs[0].then(|| {
            let mut da = recycle::take(m * k);
            gemm(
                1.0,
                MatRef::row_major(dy.data(), m, n),
                MatRef::row_major(self.b.data(), k, n).t(),
                0.0,
                MatMut::row_major(&mut da, m, k),
            );
            Tensor::from_vec("matmul backward", &[m, k], da)
        });
        let db = needs[1].then(|| {
            let mut db = recycle::take(k * n);
            gemm(
                1.0,
                MatRef::row_major(self.a.data(), m, k).t(),
                MatRef::row_major(dy.data(), m, n),
                0.0,
                MatMut::row_major(&mut db, k, n),
            );
            Tensor::from_vec("matmul backward", &[k, n], db)
        });
        vec![da, db]
    }
}

impl Tape {
    /// a (M, K) · b (K, N) -> (M, N). Panics naming both shapes if they do not chain.
    pub fn matmul(&mut self, a: &Var, b: &Var) -> Var {
        let [m, k] = a.value().dims2("matmul");
        let [kb, n] = b.value().dims2("matmul");
        if k != kb {
            shape_panic(
                "matmul",
                "inner dimensions differ",
                &[("a", a.shape()), ("b", b.shape())],
            );
        }
        let mut y = recycle::take(m * n);
        gemm(
            1.0,
            MatRef::row_major(a.value().data(), m, k),
            MatRef::row_major(b.value().data(), k, n),
            0.0,
            MatMut::row_major(&mut y, m, n),
        );
        let y = Tensor::from_vec("matmul", &[m, n], y);
        self.record(y, &[a, b], || MatmulBackward {
            a: a.value().clone(),
            b: b.value().clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::gradcheck::testing::{assert_grads, random};
    use crate::gradcheck::GradcheckOptions;
    use crate::Tape;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn matmul_gradients(m in 1usize..6, k in 1usize..7, n in 1usize..6, seed in any::<u64>()) {
            let opts = GradcheckOptions { step: 0.5, atol: 1e-4, rtol: 1e-4, seed, norm_tolerance: None, kink_tolerance: None };
            let inputs = [random(&[m, k], seed), random(&[k, n], seed + 1)];
            assert_grads(|t, v| t.matmul(&v[0], &v[1]), &inputs, opts);
        }
    }

    #[test]
    #[should_panic(expected = "matmul: inner dimensions differ (a [2, 3], b [2, 2])")]
    fn mismatched_shapes_name_both() {
        let mut tape = Tape::new();
        let a = tape.leaf(random(&[2, 3], 0));
        let b = tape.leaf(random(&[2, 2], 1));
        tape.matmul(&a, &b);
    }
}
