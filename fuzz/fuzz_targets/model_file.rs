//! Any text handed to the model-file reader (TOML, or Keras JSON when it starts with `{`): a
//! checked architecture or an error naming the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = convlab_nn::model_file::ModelFile::parse("fuzz input", text);
    }
});
