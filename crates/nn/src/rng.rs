//! The seeded generator lives in the tensor crate (`convlab_tensor::rng`), where the gradient
//! checks and kernel tests use it too; re-exported here because models, dropout and shuffling
//! are where most readers meet it.

pub use convlab_tensor::rng::Rng;
