//! Verification: is this the file the dataset's authors published?
//!
//! Two hashes can answer it. The SHA-256 of the file *as published* (the `.gz`, or CIFAR-10's
//! `.tar.gz`) is what mirrors and TensorFlow Datasets record, and every download must match it;
//! a local `.gz` that matches it is the published file. But a copy that was recompressed (Debian
//! rewrote the gzip headers of Fashion-MNIST's files) no longer matches while its contents are
//! the same, so where the SHA-256 of the *decompressed* IDX bytes is known, that is checked
//! instead. Where neither hash applies (MNIST or KMNIST recompressed, or stored plain), only the
//! decompressed size and the IDX structure can be checked, and `Verified::Structure` says so.
//!
//! A loaded array is re-encoded for the content check: the reader rejects trailing bytes, so
//! header + payload is exactly the decompressed file. For u8 data that means hashing the payload
//! in place, no copy.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::DatasetError;
use crate::idx::{encode_header, encode_idx, IdxArray, IdxData};
use crate::spec::{FileSpec, Published};

/// What a successful check established about one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The file is byte for byte the one published (its SHA-256 is on record).
    AsPublished,
    /// The decompressed bytes have the SHA-256 on record.
    Contents,
    /// No hash applies: the decompressed size and the format were checked, nothing more.
    Structure,
}

/// Checks one loaded IDX file: the decompressed size always; then, the first that applies, the
/// published hash (for a `.gz` of the published size), the hash of the contents, or nothing more.
/// `path` is the file the array was read from.
pub fn verify_file(
    path: &Path,
    spec: &FileSpec,
    array: &IdxArray,
) -> Result<Verified, DatasetError> {
    let file = path.display().to_string();
    let (header, payload) = decompressed_parts(array);
    check_size(&file, spec, &header, &payload)?;
    if let Some(published) = &spec.published {
        // A recompressed copy almost always differs in length, so this rarely costs a hash.
        if compare_published(path, published)?.is_none() {
            return Ok(Verified::AsPublished);
        }
    }
    match &spec.sha256 {
        Some(expected) => {
            check_contents(&file, expected, &header, &payload)?;
            Ok(Verified::Contents)
        }
        None => Ok(Verified::Structure),
    }
}

/// Checks the decompressed size, then the SHA-256 of the contents where the spec has one: what
/// can be checked of bytes whose compressed form is not at hand. `file` names them in errors.
pub fn verify(file: &str, spec: &FileSpec, array: &IdxArray) -> Result<(), DatasetError> {
    let (header, payload) = decompressed_parts(array);
    check_size(file, spec, &header, &payload)?;
    match &spec.sha256 {
        Some(expected) => check_contents(file, expected, &header, &payload),
        None => Ok(()),
    }
}

/// Fails unless the file at `path` is byte for byte `published`; `file` names it in the error.
pub fn require_published(
    file: &str,
    path: &Path,
    published: &Published,
) -> Result<(), DatasetError> {
    match compare_published(path, published)? {
        None => Ok(()),
        Some((actual_size, actual_sha256)) => Err(DatasetError::NotAsPublished {
            file: file.to_string(),
            published: published.name.clone(),
            expected_size: published.size,
            expected_sha256: published.sha256.clone(),
            actual_size,
            actual_sha256,
        }),
    }
}

/// `None` if the file at `path` is `published`; else its size and, if that was right, its
/// SHA-256 (a file of the wrong size is not hashed).
pub fn compare_published(
    path: &Path,
    published: &Published,
) -> Result<Option<(u64, Option<String>)>, DatasetError> {
    let size = std::fs::metadata(path)
        .map_err(|e| DatasetError::io(path, e))?
        .len();
    if size != published.size {
        return Ok(Some((size, None)));
    }
    let actual = sha256_file(path).map_err(|e| DatasetError::io(path, e))?;
    if actual.eq_ignore_ascii_case(&published.sha256) {
        Ok(None)
    } else {
        Ok(Some((size, Some(actual))))
    }
}

/// The IDX header and payload of `array`, as the decompressed file holds them.
fn decompressed_parts(array: &IdxArray) -> (Vec<u8>, Cow<'_, [u8]>) {
    let header = encode_header(array);
    let payload = match array.data() {
        IdxData::U8(bytes) => Cow::Borrowed(&bytes[..]),
        _ => Cow::Owned(encode_idx(array)[header.len()..].to_vec()),
    };
    (header, payload)
}

fn check_size(
    file: &str,
    spec: &FileSpec,
    header: &[u8],
    payload: &[u8],
) -> Result<(), DatasetError> {
    let size = (header.len() + payload.len()) as u64;
    if size == spec.size {
        Ok(())
    } else {
        Err(DatasetError::SizeMismatch {
            file: file.to_string(),
            expected: spec.size,
            actual: size,
        })
    }
}

fn check_contents(
    file: &str,
    expected: &str,
    header: &[u8],
    payload: &[u8],
) -> Result<(), DatasetError> {
    let actual = sha256_hex(&[header, payload]);
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(DatasetError::HashMismatch {
            file: file.to_string(),
            expected: expected.to_string(),
            actual,
        })
    }
}

/// SHA-256 of the concatenated parts, as lowercase hex.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hex(&hasher.finalize())
}

/// SHA-256 of a file's bytes, read in 1 MiB pieces (never the whole file in memory).
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
