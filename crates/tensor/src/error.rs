//! Errors for shapes and arguments that come from a person or a file.
//!
//! A wrong shape *inside* the engine (an op handed tensors that its own geometry rejected) is a
//! programming error and panics with the op name and every shape; see `shape_panic`.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TensorError {
    #[error("tensor of shape {shape:?} needs {expected} values, got {actual}")]
    DataLength {
        shape: Vec<usize>,
        expected: usize,
        actual: usize,
    },
    #[error("{what}: the product of {dims:?} overflows usize")]
    Overflow { what: String, dims: Vec<usize> },
    #[error("{op}: {dim} is zero (shapes must have no zero-sized dimension)")]
    ZeroDim { op: &'static str, dim: String },
    #[error("{op}: {what} must be at least 1, got {value}")]
    ZeroStride {
        op: &'static str,
        what: &'static str,
        value: usize,
    },
    #[error("{op}: expected a {expected}-d shape, got {shape:?}")]
    Rank {
        op: &'static str,
        expected: usize,
        shape: Vec<usize>,
    },
    #[error(
        "{op}: window {window} is larger than the input {input} along {axis} with valid padding"
    )]
    WindowTooLarge {
        op: &'static str,
        axis: &'static str,
        window: usize,
        input: usize,
    },
    #[error("{op}: input has {input} channels but the kernel expects {kernel}")]
    ChannelMismatch {
        op: &'static str,
        input: usize,
        kernel: usize,
    },
    #[error("cannot reshape {from:?} ({from_len} values) to {to:?} ({to_len} values)")]
    Reshape {
        from: Vec<usize>,
        from_len: usize,
        to: Vec<usize>,
        to_len: usize,
    },
}

/// The product of `dims`, or an error naming `what` if it overflows `usize`.
pub fn checked_product(what: &str, dims: &[usize]) -> Result<usize, TensorError> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| TensorError::Overflow {
            what: what.to_string(),
            dims: dims.to_vec(),
        })
}

/// Panics with the op name and every shape involved: the engine's contract was broken.
#[track_caller]
pub fn shape_panic(op: &str, detail: &str, shapes: &[(&str, &[usize])]) -> ! {
    let listed: Vec<String> = shapes
        .iter()
        .map(|(name, s)| format!("{name} {s:?}"))
        .collect();
    panic!("{op}: {detail} ({})", listed.join(", "))
}
