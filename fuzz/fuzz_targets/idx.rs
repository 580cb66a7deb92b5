//! Any bytes, plain or gzip, handed to the IDX reader: it must return a value or an error, never
//! panic, and never allocate more than the input justifies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = convlab_datasets::idx::read_idx_bytes("fuzz input", data);
});
