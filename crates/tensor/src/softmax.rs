//! Softmax and log-softmax over the last axis, stable for any logits.
//!
//! log_softmax(z)_i = z_i - m - ln(sum_j e^(z_j - m)) with m = max_j z_j: every exponent is <= 0, so
//! nothing overflows, and the largest term is exactly 1, so the log never sees 0.

use crate::error::shape_panic;
use crate::Tensor;

fn rows_of(op: &str, x: &Tensor) -> usize {
    match x.shape().last() {
        Some(&c) if c > 0 => c,
        _ => shape_panic(op, "needs a non-empty last axis", &[("x", x.shape())]),
    }
}

/// log_softmax over the last axis.
pub fn log_softmax(x: &Tensor) -> Tensor {
    let c = rows_of("log_softmax", x);
    let mut out = x.data().to_vec();
    for row in out.chunks_exact_mut(c) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_sum = row.iter().map(|&z| (z - m).exp()).sum::<f32>().ln();
        row.iter_mut().for_each(|z| *z = *z - m - log_sum);
    }
    Tensor::from_vec("log_softmax", x.shape(), out)
}

/// dx = dy - softmax * sum(dy) per row, from the output y = log_softmax(x).
pub fn log_softmax_backward(y: &Tensor, dy: &Tensor) -> Tensor {
    let c = rows_of("log_softmax backward", y);
    if y.shape() != dy.shape() {
        shape_panic(
            "log_softmax backward",
            "shapes must match",
            &[("y", y.shape()), ("dy", dy.shape())],
        );
    }
    let mut dx = dy.data().to_vec();
    for (dx_row, y_row) in dx.chunks_exact_mut(c).zip(y.data().chunks_exact(c)) {
        let total: f32 = dx_row.iter().sum();
        for (d, &ly) in dx_row.iter_mut().zip(y_row) {
            *d -= ly.exp() * total;
        }
    }
    Tensor::from_vec("log_softmax backward", y.shape(), dx)
}

/// softmax over the last axis.
pub fn softmax(x: &Tensor) -> Tensor {
    let c = rows_of("softmax", x);
    let mut out = x.data().to_vec();
    for row in out.chunks_exact_mut(c) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.iter_mut().for_each(|z| *z = (*z - m).exp());
        let sum: f32 = row.iter().sum();
        row.iter_mut().for_each(|p| *p /= sum);
    }
    Tensor::from_vec("softmax", x.shape(), out)
}

/// dx = y * (dy - sum(dy * y)) per row, from the output y = softmax(x).
pub fn softmax_backward(y: &Tensor, dy: &Tensor) -> Tensor {
    let c = rows_of("softmax backward", y);
    if y.shape() != dy.shape() {
        shape_panic(
            "softmax backward",
            "shapes must match",
            &[("y", y.shape()), ("dy", dy.shape())],
        );
    }
    let mut dx = dy.data().to_vec();
    for (dx_row, y_row) in dx.chunks_exact_mut(c).zip(y.data().chunks_exact(c)) {
        let dot: f32 = dx_row.iter().zip(y_row).map(|(d, y)| d * y).sum();
        for (d, &p) in dx_row.iter_mut().zip(y_row) {
            *d = p * (*d - dot);
        }
    }
    Tensor::from_vec("softmax backward", y.shape(), dx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_is_stable_for_huge_logits() {
        let x = Tensor::new(&[2, 3], vec![1000., 0., -1000., -1000., -1000., -1000.]).unwrap();
        let y = log_softmax(&x);
        assert!(y.data().iter().all(|v| !v.is_nan()), "{y:?}");
        assert_eq!(y.data()[0], 0.0);
        assert_eq!(y.data()[1], -1000.0);
        let third = -(3.0f32).ln();
        assert!(y.data()[3..].iter().all(|&v| (v - third).abs() < 1e-6));
        let p = softmax(&x);
        assert_eq!(&p.data()[..3], &[1.0, 0.0, 0.0]);
    }
}
