//! Elementwise kernels shared by the autograd ops: each a forward and, where it has one, the
//! backward beside it. Large tensors are split between rayon threads in fixed chunks.

use rayon::prelude::*;

use crate::error::shape_panic;
use crate::Tensor;

/// Tensors smaller than this are processed on one thread.
const PAR_CHUNK: usize = 1 << 15;

/// `len` zeros, written by all threads: `vec![0; len]` zeroes a reused allocation with one
/// memset on the calling thread, which profiles showed as ~5% of a training epoch when every
/// step allocates its outputs and gradients afresh.
pub fn zeros<T: Copy + Default + Send + Sync>(len: usize) -> Vec<T> {
    rayon::iter::repeat_n(T::default(), len)
        .with_min_len(PAR_CHUNK)
        .collect()
}

/// `out[i] = f(a[i])`, in parallel chunks for large tensors. The output is written once, by
/// `collect`, not zeroed first.
pub fn map(x: &Tensor, f: impl Fn(f32) -> f32 + Sync) -> Tensor {
    let out = x
        .data()
        .par_iter()
        .with_min_len(PAR_CHUNK)
        .map(|&a| f(a))
        .collect();
    Tensor::from_vec("map", x.shape(), out)
}

/// `out[i] = f(a[i], b[i])` for two tensors of the same shape; panics naming `op` otherwise.
#[track_caller]
pub fn zip_map(op: &str, a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32 + Sync) -> Tensor {
    if a.shape() != b.shape() {
        shape_panic(
            op,
            "shapes must match",
            &[("a", a.shape()), ("b", b.shape())],
        );
    }
    let out = a
        .data()
        .par_iter()
        .zip(b.data())
        .with_min_len(PAR_CHUNK)
        .map(|(&a, &b)| f(a, b))
        .collect();
    Tensor::from_vec(op, a.shape(), out)
}

#[track_caller]
pub fn add(a: &Tensor, b: &Tensor) -> Tensor {
    zip_map("add", a, b, |a, b| a + b)
}

#[track_caller]
pub fn mul(a: &Tensor, b: &Tensor) -> Tensor {
    zip_map("mul", a, b, |a, b| a * b)
}

pub fn scale(x: &Tensor, s: f32) -> Tensor {
    map(x, |v| v * s)
}

/// `a += b` in place (gradient accumulation).
#[track_caller]
pub fn add_assign(a: &mut Tensor, b: &Tensor) {
    if a.shape() != b.shape() {
        shape_panic(
            "add_assign",
            "shapes must match",
            &[("a", a.shape()), ("b", b.shape())],
        );
    }
    a.data_mut()
        .par_chunks_mut(PAR_CHUNK)
        .zip(b.data().par_chunks(PAR_CHUNK))
        .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, &b)| *a += b));
}

/// `x + bias`, with `bias` (C) broadcast over every leading axis of x (.., C): a Dense layer's rows
/// or a convolution's NHWC pixels.
#[track_caller]
pub fn add_bias(x: &Tensor, bias: &Tensor) -> Tensor {
    let c = bias.len();
    if bias.rank() != 1 || x.shape().last() != Some(&c) {
        shape_panic(
            "add_bias",
            "bias must be 1-d and match x's last axis",
            &[("x", x.shape()), ("bias", bias.shape())],
        );
    }
    let mut out = x.data().to_vec();
    out.par_chunks_mut(c.max(1) * (PAR_CHUNK / c.max(1)).max(1))
        .for_each(|chunk| {
            for row in chunk.chunks_exact_mut(c) {
                row.iter_mut().zip(bias.data()).for_each(|(v, &b)| *v += b);
            }
        });
    Tensor::from_vec("add_bias", x.shape(), out)
}

/// max(x, 0). NaN stays NaN (as in TensorFlow), so a broken weight cannot hide behind a ReLU.
pub fn relu(x: &Tensor) -> Tensor {
    map(x, relu_value)
}

/// The gradient of relu: dy where the *output* y > 0, else 0. relu'(0) is defined as 0 (as in
/// TensorFlow and PyTorch), so a unit exactly at the kink passes no gradient.
#[track_caller]
pub fn relu_backward(y: &Tensor, dy: &Tensor) -> Tensor {
    zip_map("relu backward", y, dy, relu_grad_value)
}

/// relu of one value (shared with the convolution that fuses it, so both give the same bits).
#[inline(always)]
pub fn relu_value(v: f32) -> f32 {
    if v > 0.0 || v.is_nan() {
        v
    } else {
        0.0
    }
}

/// The gradient of relu at one unit: `dy` if its output `y` is positive, else 0.
#[inline(always)]
pub fn relu_grad_value(y: f32, dy: f32) -> f32 {
    if y > 0.0 {
        dy
    } else {
        0.0
    }
}

/// 1 / (1 + e^-x), computed without overflow for large |x|.
pub fn sigmoid(x: &Tensor) -> Tensor {
    map(x, |v| {
        if v >= 0.0 {
            1.0 / (1.0 + (-v).exp())
        } else {
            let e = v.exp();
            e / (1.0 + e)
        }
    })
}

/// dx = dy * y * (1 - y), from the output y = sigmoid(x).
#[track_caller]
pub fn sigmoid_backward(y: &Tensor, dy: &Tensor) -> Tensor {
    zip_map("sigmoid backward", y, dy, |y, d| d * y * (1.0 - y))
}

pub fn tanh(x: &Tensor) -> Tensor {
    map(x, f32::tanh)
}

/// dx = dy * (1 - y²), from the output y = tanh(x).
#[track_caller]
pub fn tanh_backward(y: &Tensor, dy: &Tensor) -> Tensor {
    zip_map("tanh backward", y, dy, |y, d| d * (1.0 - y * y))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::new(shape, v.to_vec()).unwrap()
    }

    #[test]
    fn add_bias_broadcasts_over_rows() {
        let x = t(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let b = t(&[3], &[10., 20., 30.]);
        assert_eq!(add_bias(&x, &b).data(), &[11., 22., 33., 14., 25., 36.]);
    }

    #[test]
    #[should_panic(
        expected = "add_bias: bias must be 1-d and match x's last axis (x [2, 3], bias [2])"
    )]
    fn add_bias_names_shapes() {
        add_bias(&Tensor::zeros(&[2, 3]), &Tensor::zeros(&[2]));
    }

    #[test]
    fn relu_and_its_gradient_at_the_kink() {
        let x = t(&[4], &[-1., 0., 2., -0.]);
        let y = relu(&x);
        assert_eq!(y.data(), &[0., 0., 2., 0.]);
        assert!(relu(&t(&[1], &[f32::NAN])).data()[0].is_nan());
        let dx = relu_backward(&y, &t(&[4], &[1., 1., 1., 1.]));
        assert_eq!(dx.data(), &[0., 0., 1., 0.]);
    }

    #[test]
    fn sigmoid_is_stable_far_out() {
        let y = sigmoid(&t(&[3], &[-1000., 0., 1000.]));
        assert_eq!(y.data(), &[0.0, 0.5, 1.0]);
    }

    #[test]
    fn large_tensors_take_the_parallel_path() {
        let n = PAR_CHUNK * 3 + 7;
        let a = Tensor::new(&[n], (0..n).map(|i| i as f32).collect()).unwrap();
        let s = add(&a, &a);
        assert!(s
            .data()
            .iter()
            .enumerate()
            .all(|(i, &v)| v == 2.0 * i as f32));
    }
}
