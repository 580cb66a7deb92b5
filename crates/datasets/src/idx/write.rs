//! Encoding IDX files: the inverse of `read`, used to make fixtures and to hash a loaded file.

use std::fs;
use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;

use super::{IdxArray, IdxData};
use crate::error::DatasetError;

/// Whether `write_idx` compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

/// The header bytes: 00 00, the type byte, the rank, then each dimension as a big-endian u32.
pub fn encode_header(array: &IdxArray) -> Vec<u8> {
    let dims = array.dims();
    let mut out = Vec::with_capacity(4 + 4 * dims.len());
    // `IdxArray::new` guarantees 1..=255 dimensions, each at most u32::MAX.
    out.extend_from_slice(&[0, 0, array.dtype().code(), dims.len() as u8]);
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out
}

/// The whole file, uncompressed.
pub fn encode_idx(array: &IdxArray) -> Vec<u8> {
    let mut out = encode_header(array);
    match array.data() {
        IdxData::U8(v) => out.extend_from_slice(v),
        IdxData::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
        IdxData::I16(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        IdxData::I32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        IdxData::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        IdxData::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
    }
    out
}

/// Gzip-compresses bytes in memory, as `gzip -6` would.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail; only running out of memory could stop it.
    let written = encoder.write_all(bytes);
    written
        .and_then(|()| encoder.finish())
        .expect("gzip into memory cannot fail")
}

/// Writes `array` to `path`, gzip-compressed or plain.
pub fn write_idx(
    path: impl AsRef<Path>,
    array: &IdxArray,
    compression: Compression,
) -> Result<(), DatasetError> {
    let plain = encode_idx(array);
    let bytes = match compression {
        Compression::None => plain,
        Compression::Gzip => gzip(&plain),
    };
    fs::write(path.as_ref(), bytes).map_err(|e| DatasetError::io(path.as_ref(), e))
}
