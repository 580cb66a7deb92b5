//! The reference path: every op of the chapter's network written the plainest way, in f64.
//!
//! Read these first. Each function is the definition of its op as loops over named dimensions:
//! no threads, no SIMD, no buffer pool, no `unsafe`, no cleverness, one screen each, forward
//! beside backward (llm.c's reference layer). They are slow on purpose. Everything fast in
//! convlab (im2col, direct, Winograd, the fused ops) is tested against them, and
//! `ConvAlgorithm::Reference` runs a whole training through them (`--conv reference`).
//!
//! Conventions: every array is a flat `&[f64]` in row-major order with its shape written beside
//! it; NHWC images, kernels (KH, KW, C, CO) as Keras stores them; the geometry structs of the
//! fast kernels (`Conv2dGeometry`, `Pool2dGeometry`) carry the sizes, so both paths agree on what
//! `same` padding means (TensorFlow's rule, `conv2d::output_size`).
//!
//! - `conv2d.rs`: convolution forward, and its three gradients dx, dw, db;
//! - `pool2d.rs`: max and average pooling, forward and backward;
//! - `dense.rs`: y = x·W + b and its gradients;
//! - `activations.rs`: ReLU and softmax; `loss.rs`: sparse categorical cross-entropy;
//!   `dropout.rs`: dropout with a given mask;
//! - `numerical.rs`: the gradient check every function here passes (central differences in f64,
//!   element by element, PyTorch's `gradcheck` tolerances);
//! - `agreement.rs`: every fast kernel and fused op against these, with a bound from f32
//!   rounding; `report.rs`: what a check reports.

mod activations;
pub mod agreement;
pub mod checks;
mod conv2d;
mod dense;
mod dropout;
mod loss;
pub mod numerical;
mod pool2d;
pub mod report;

pub use activations::{relu_backward, relu_forward, softmax_backward, softmax_forward};
pub use conv2d::{conv2d_backward_b, conv2d_backward_w, conv2d_backward_x, conv2d_forward};
pub use dense::{dense_backward_b, dense_backward_w, dense_backward_x, dense_forward};
pub use dropout::{dropout_backward, dropout_forward};
pub use loss::{
    softmax_cross_entropy_backward, sparse_categorical_crossentropy_backward,
    sparse_categorical_crossentropy_forward,
};
pub use pool2d::{
    avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward,
};

/// The input index that output position `o` reads at window tap `k` along one axis, or None
/// where the tap falls in the padding: `o * stride + k - pad`.
fn tap(o: usize, stride: usize, k: usize, pad: usize, size: usize) -> Option<usize> {
    let i = (o * stride + k).checked_sub(pad)?;
    (i < size).then_some(i)
}

/// Panics, naming the op, unless `data` holds exactly the values of `shape`.
fn expect_len(op: &str, what: &str, data: &[f64], shape: &[usize]) {
    let len: usize = shape.iter().product();
    assert!(
        data.len() == len,
        "reference {op}: {what} has {} values, but its shape {shape:?} needs {len}",
        data.len()
    );
}

#[cfg(test)]
mod agreement_tests;
#[cfg(test)]
mod tests;
