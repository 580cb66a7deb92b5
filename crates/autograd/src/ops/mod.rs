//! One file per operation: the recording function (a method on `Tape`), a named backward struct
//! holding exactly the state its backward needs, and the op's gradient tests.

mod add;
mod avg_pool2d;
mod conv2d;
mod conv2d_relu_max_pool2d;
mod cross_entropy;
mod dropout;
mod matmul;
mod max_pool2d;
mod mul;
mod reduce;
mod relu;
mod reshape;
mod sigmoid;
mod softmax;
mod tanh;

pub use conv2d_relu_max_pool2d::{ConvSpec, PoolSpec};
pub use dropout::dropout_mask;
