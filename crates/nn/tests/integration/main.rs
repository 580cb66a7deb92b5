//! The nn crate's integration tests as one binary: each test binary links the crates again
//! (with the release profile's LTO, 10-30 s apiece), so five files as modules of one binary save
//! CI minutes. `checkpoint.rs` replaces the global allocator and stays a binary of its own.
//! One file's tests: `cargo test --release -p convlab-nn --test integration training::`.

mod callbacks;
mod keras_json;
mod model;
mod network_check;
mod training;
