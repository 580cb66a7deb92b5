//! Reductions: sums over axes and argmax. Sums accumulate in f64 where a long run of small values
//! would otherwise lose precision (a loss averaged over a batch).

use crate::error::shape_panic;
use crate::Tensor;

/// The sum of every element.
pub fn sum_all(x: &Tensor) -> f32 {
    x.data().iter().map(|&v| v as f64).sum::<f64>() as f32
}

/// Sums over every axis but the last: x (.., C) -> (C). A bias gradient.
pub fn sum_to_last_axis(x: &Tensor) -> Tensor {
    let Some(&c) = x.shape().last() else {
        shape_panic(
            "sum_to_last_axis",
            "needs at least 1 axis",
            &[("x", x.shape())],
        );
    };
    let mut out = vec![0.0f32; c];
    if c > 0 {
        for row in x.data().chunks_exact(c) {
            out.iter_mut().zip(row).for_each(|(o, &v)| *o += v);
        }
    }
    Tensor::from_vec("sum_to_last_axis", &[c], out)
}

/// Index of the largest value along the last axis; ties go to the first. x (.., C) -> (..).
pub fn argmax_last_axis(x: &Tensor) -> Vec<usize> {
    let Some(&c) = x.shape().last() else {
        shape_panic(
            "argmax_last_axis",
            "needs at least 1 axis",
            &[("x", x.shape())],
        );
    };
    if c == 0 {
        shape_panic(
            "argmax_last_axis",
            "last axis is empty",
            &[("x", x.shape())],
        );
    }
    x.data()
        .chunks_exact(c)
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_argmax() {
        let x = Tensor::new(&[2, 3], vec![1., 5., 5., -1., 0., -2.]).unwrap();
        assert_eq!(sum_all(&x), 8.0);
        assert_eq!(sum_to_last_axis(&x).data(), &[0., 5., 3.]);
        // Ties go to the first maximum.
        assert_eq!(argmax_last_axis(&x), vec![1, 1]);
    }
}
