//! The IDX file format of MNIST and Fashion-MNIST (<http://yann.lecun.com/exdb/mnist/>).
//!
//! ```text
//! offset  size     field
//! 0       2        0x00 0x00
//! 2       1        data type: 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64
//! 3       1        number of dimensions d
//! 4       4 * d    each dimension, a big-endian u32
//! 4 + 4d  ...      the values, big-endian, row-major (the last dimension varies fastest)
//! ```
//!
//! Files are read plain or gzip-compressed (recognised by the gzip magic bytes 1f 8b, never by
//! the name). `read` decodes, `write` encodes (tests use it to make small fixtures).

mod read;
mod write;

#[cfg(feature = "download")]
pub(crate) use read::read_idx_named;
pub use read::{read_idx, read_idx_bytes, MAX_PAYLOAD_BYTES};
pub use write::{encode_header, encode_idx, gzip, write_idx, Compression};

use crate::error::{DatasetError, IdxProblem};

/// The element type named by the third byte of an IDX file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    U8,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl DataType {
    pub const ALL: [DataType; 6] = [
        DataType::U8,
        DataType::I8,
        DataType::I16,
        DataType::I32,
        DataType::F32,
        DataType::F64,
    ];

    /// The type byte in the header.
    pub fn code(self) -> u8 {
        match self {
            DataType::U8 => 0x08,
            DataType::I8 => 0x09,
            DataType::I16 => 0x0b,
            DataType::I32 => 0x0c,
            DataType::F32 => 0x0d,
            DataType::F64 => 0x0e,
        }
    }

    pub fn from_code(code: u8) -> Option<DataType> {
        DataType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DataType::U8 | DataType::I8 => 1,
            DataType::I16 => 2,
            DataType::I32 | DataType::F32 => 4,
            DataType::F64 => 8,
        }
    }
}

/// The values of an IDX file, in the file's element type.
#[derive(Debug, Clone, PartialEq)]
pub enum IdxData {
    U8(Vec<u8>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl IdxData {
    pub fn dtype(&self) -> DataType {
        match self {
            IdxData::U8(_) => DataType::U8,
            IdxData::I8(_) => DataType::I8,
            IdxData::I16(_) => DataType::I16,
            IdxData::I32(_) => DataType::I32,
            IdxData::F32(_) => DataType::F32,
            IdxData::F64(_) => DataType::F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            IdxData::U8(v) => v.len(),
            IdxData::I8(v) => v.len(),
            IdxData::I16(v) => v.len(),
            IdxData::I32(v) => v.len(),
            IdxData::F32(v) => v.len(),
            IdxData::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An n-d array read from (or to be written to) an IDX file.
///
/// The fields are private so that every `IdxArray` is writable: 1 to 255 dimensions, each
/// between 1 and `u32::MAX`, and exactly as many values as their product.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    dims: Vec<usize>,
    data: IdxData,
}

impl IdxArray {
    pub fn new(dims: Vec<usize>, data: IdxData) -> Result<IdxArray, DatasetError> {
        let unwritable = |why: String| {
            Err(DatasetError::idx(
                "IdxArray::new",
                IdxProblem::Unwritable(why),
            ))
        };
        if dims.is_empty() || dims.len() > 255 {
            return unwritable(format!(
                "an IDX file has 1 to 255 dimensions, not {}",
                dims.len()
            ));
        }
        if let Some(axis) = dims
            .iter()
            .position(|&d| d == 0 || d as u64 > u32::MAX as u64)
        {
            return unwritable(format!(
                "dimension {axis} of {dims:?} is not in 1..=u32::MAX"
            ));
        }
        let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if count != Some(data.len()) {
            return unwritable(format!(
                "dimensions {dims:?} do not hold {} values",
                data.len()
            ));
        }
        Ok(IdxArray { dims, data })
    }

    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    pub fn dtype(&self) -> DataType {
        self.data.dtype()
    }

    pub fn data(&self) -> &IdxData {
        &self.data
    }

    pub fn into_data(self) -> IdxData {
        self.data
    }

    /// The values if the file held bytes (the type of every MNIST and Fashion-MNIST file).
    pub fn into_u8(self) -> Option<(Vec<usize>, Vec<u8>)> {
        match self.data {
            IdxData::U8(v) => Some((self.dims, v)),
            _ => None,
        }
    }
}
