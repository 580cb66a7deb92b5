//! Any bytes handed to the checkpoint loader: a model or an error, never a panic, never an
//! allocation beyond the input's size.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = convlab_nn::checkpoint::decode("fuzz input", data);
});
