//! convlab-tensor: the numeric core of convlab.
//!
//! An n-d f32 `Tensor` (row-major, shared storage), a checked GEMM over `matrixmultiply` (and an
//! unpacked AVX-512 one for small products, `gemm::small_gemm`), and the kernels every layer
//! needs, each forward beside its backward:
//! - `conv2d`: convolution, channels-last, by im2col + GEMM, directly, or by Winograd;
//! - `pool2d`: max and average pooling;
//! - `conv_relu_pool`: convolution, ReLU and max pooling fused, a few images at a time;
//! - `plan`: the one place that chooses which of these runs a layer;
//! - `peak`: this machine's measured FMA peak, which `convlab bench` gives shares of;
//! - `isa`: which vector instructions the kernels use, detected at run time (`CONVLAB_MAX_ISA`);
//! - `elementwise`, `reduce`, `softmax`: the small kernels of activations and losses;
//! - `rng`: the seeded generator every random draw in convlab comes from;
//! - `busy_wait`: keeps the pool's threads looking for work through a training or inference
//!   loop instead of falling asleep between kernels.
//!
//! ```
//! use convlab_tensor::conv2d::conv2d_forward;
//! use convlab_tensor::{Conv2dGeometry, ConvAlgorithm, Padding, Tensor};
//!
//! // One 4x4 grey image, one 3x3 kernel of ones, `same` padding: each output sums a window.
//! let x = Tensor::new(&[1, 4, 4, 1], (1..=16).map(|v| v as f32).collect()).unwrap();
//! let w = Tensor::new(&[3, 3, 1, 1], vec![1.0; 9]).unwrap();
//! let g = Conv2dGeometry::new(x.shape(), w.shape(), (1, 1), Padding::Same).unwrap();
//! let y = conv2d_forward(&g, &x, &w, None, ConvAlgorithm::Im2col);
//! assert_eq!(y.shape(), [1, 4, 4, 1]);
//! assert_eq!(y.data()[0], 1.0 + 2.0 + 5.0 + 6.0); // the corner sees four pixels
//! // Every algorithm computes the same function (to rounding):
//! let direct = conv2d_forward(&g, &x, &w, None, ConvAlgorithm::Direct);
//! assert_eq!(direct.data(), y.data());
//! ```
//!
//! Conventions: tensors are NHWC, kernels (KH, KW, C_in, C_out) like Keras, `same` padding by
//! TensorFlow's rule. Kernels run on rayon's thread pool (`RAYON_NUM_THREADS=1` makes them serial).
//! Shapes that come from a person are checked and return `TensorError`; a kernel handed tensors
//! that do not match its geometry panics with the op name and every shape.
//!
//! - `reference`: every op of the network as plain f64 loops, the definition the fast kernels are
//!   tested against, with its own f64 gradient check (`reference::numerical`).
//!
//! Read in this order: `reference` (what each op computes), `tensor`, `gemm` (`mod`, `small`),
//! `conv2d` (`mod`, `im2col`, `direct`, `winograd`), `pool2d`, then the small kernels.

pub mod busy_wait;
pub mod conv2d;
pub mod conv_relu_pool;
pub mod elementwise;
pub mod error;
pub mod gemm;
pub mod isa;
pub mod peak;
pub mod plan;
pub mod pool2d;
pub mod recycle;
pub mod reduce;
pub mod reference;
pub mod rng;
pub mod softmax;
mod tensor;

pub use conv2d::{Conv2dGeometry, Conv2dGrads, ConvAlgorithm, Padding};
pub use error::TensorError;
pub use pool2d::Pool2dGeometry;
pub use tensor::Tensor;
