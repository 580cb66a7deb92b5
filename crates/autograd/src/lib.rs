//! convlab-autograd: reverse-mode automatic differentiation over convlab's tensor kernels.
//!
//! Read `tape.rs` first (the whole mechanism, about 200 lines), then any op in `ops/`: each file
//! is one operation's forward (a method on `Tape`), its backward struct, and its gradient tests.
//! `gradcheck.rs` is the numerical checker the tests and `convlab gradcheck` use.
//!
//! ```
//! use convlab_autograd::Tape;
//! use convlab_tensor::Tensor;
//!
//! let mut tape = Tape::new();
//! let x = tape.leaf(Tensor::new(&[3], vec![1.0, -2.0, 3.0]).unwrap());
//! let y = tape.relu(&x);
//! let loss = tape.sum(&y);
//! let grads = tape.backward(&loss).unwrap();
//! assert_eq!(grads.get(&x).unwrap().data(), &[1.0, 0.0, 1.0]);
//! ```

pub mod checks;
pub mod gradcheck;
mod ops;
mod tape;

pub use ops::{dropout_mask, ConvSpec, PoolSpec};
pub use tape::{Backward, Gradients, ParamId, Tape, Var};

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AutogradError {
    #[error("backward needs a scalar loss, got a value of shape {shape:?}")]
    NonScalarLoss { shape: Vec<usize> },
    #[error("gradient of shape {gradient:?} given for a value of shape {value:?}")]
    GradientShape {
        value: Vec<usize>,
        gradient: Vec<usize>,
    },
    #[error("label {label} at index {index} is out of range for {classes} classes")]
    LabelOutOfRange {
        index: usize,
        label: usize,
        classes: usize,
    },
    #[error("{labels} labels for {rows} rows of logits")]
    LabelCount { labels: usize, rows: usize },
}
