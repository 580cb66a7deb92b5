//! Verification: is this the file the dataset's authors published?
//!
//! The check is on the *decompressed* IDX bytes, because the compressed files differ between
//! sources (Debian recompresses Fashion-MNIST's .gz files) while their contents do not. A loaded
//! array is re-encoded for the check: the reader rejects trailing bytes, so header + payload is
//! exactly the decompressed file. For u8 data that means hashing the payload in place, no copy.

use sha2::{Digest, Sha256};

use crate::error::DatasetError;
use crate::idx::{encode_header, encode_idx, IdxArray, IdxData};
use crate::spec::FileSpec;

/// Checks the decompressed size, then the SHA-256 where the spec has one. `file` names the file
/// in errors.
pub fn verify(file: &str, spec: &FileSpec, array: &IdxArray) -> Result<(), DatasetError> {
    let header = encode_header(array);
    let re_encoded;
    let payload: &[u8] = match array.data() {
        IdxData::U8(bytes) => bytes,
        _ => {
            re_encoded = encode_idx(array);
            &re_encoded[header.len()..]
        }
    };
    let size = (header.len() + payload.len()) as u64;
    if size != spec.size {
        return Err(DatasetError::SizeMismatch {
            file: file.to_string(),
            expected: spec.size,
            actual: size,
        });
    }
    if let Some(expected) = &spec.sha256 {
        let actual = sha256_hex(&[&header, payload]);
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(DatasetError::HashMismatch {
                file: file.to_string(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(())
}

/// SHA-256 of the concatenated parts, as lowercase hex.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
