//! The datasets crate's integration tests as one binary: each test binary links the crate and
//! its dependencies again (with the release profile's LTO, 10-20 s apiece), so ten files as
//! modules of one binary save CI minutes. Tests that replace the global allocator or set
//! environment variables stay binaries of their own (`*_no_large_alloc.rs`, `places_env.rs`).
//! One file's tests: `cargo test --release -p convlab-datasets --test integration loader::`.

#[path = "../common/mod.rs"]
mod common;

mod batches;
mod cifar10;
mod cifar_proptest;
mod download;
mod download_cifar;
mod idx_format;
mod idx_proptest;
mod loader;
mod real_fashion_mnist;
mod split_sklearn;
