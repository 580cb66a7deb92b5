//! Decoding IDX files, plain or gzip-compressed, without trusting the header.
//!
//! The header comes from the file, so nothing is allocated from it until it is checked: its
//! payload size must be below `MAX_PAYLOAD_BYTES`, and no larger than what the file could hold (the
//! file's length when plain; 1032 times the compressed length when gzipped, the most that deflate
//! can expand). The payload is then read through `Read::take`, so a lying header costs at most
//! the bytes that really arrive.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::{DataType, IdxArray, IdxData};
use crate::error::{DatasetError, IdxProblem};

/// The largest payload this reader accepts: 4 GiB, far above the 47 MB of the largest MNIST file.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 32;

/// The most a deflate stream can expand its input (zlib's documented 1032:1: a 258-byte match
/// coded in 2 bits).
const MAX_DEFLATE_RATIO: u64 = 1032;

/// How many trailing bytes the reader counts before it stops and says "or more".
const TRAILING_COUNT_CAP: u64 = 1 << 20;

/// Where the bytes come from, which decides what the file can hold and what an I/O error means.
#[derive(Clone, Copy)]
enum Input {
    /// Plain IDX bytes, `len` in all.
    Plain { len: u64 },
    /// A gzip stream of `compressed_len` bytes.
    Gzip { compressed_len: u64 },
}

fn is_gzip(first_bytes: &[u8]) -> bool {
    first_bytes.starts_with(&[0x1f, 0x8b])
}

/// Reads an IDX file, plain or gzip-compressed (told apart by the gzip magic, not the name).
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DatasetError> {
    let path = path.as_ref();
    read_idx_named(path, &path.display().to_string())
}

/// `read_idx`, with `name` standing for the file in errors about its contents.
pub(crate) fn read_idx_named(path: &Path, name: &str) -> Result<IdxArray, DatasetError> {
    let io_error = |e| DatasetError::io(path, e);
    // Only a regular file: opening a FIFO would wait for a writer forever.
    if !std::fs::metadata(path).map_err(io_error)?.is_file() {
        return Err(io_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a directory, FIFO, device or socket)",
        )));
    }
    let mut file = File::open(path).map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    let mut magic = [0u8; 2];
    let got = read_full(&mut file, &mut magic).map_err(io_error)?;
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    if is_gzip(&magic[..got]) {
        let compressed = BufReader::with_capacity(1 << 18, file);
        let input = Input::Gzip {
            compressed_len: len,
        };
        decode(name, input, MultiGzDecoder::new(compressed))
    } else {
        decode(name, Input::Plain { len }, BufReader::new(file))
    }
}

/// Decodes IDX bytes held in memory, plain or gzip-compressed; `name` labels errors.
pub fn read_idx_bytes(name: &str, bytes: &[u8]) -> Result<IdxArray, DatasetError> {
    let len = bytes.len() as u64;
    if is_gzip(bytes) {
        let input = Input::Gzip {
            compressed_len: len,
        };
        decode(name, input, MultiGzDecoder::new(bytes))
    } else {
        decode(name, Input::Plain { len }, bytes)
    }
}

fn decode(name: &str, input: Input, mut r: impl Read) -> Result<IdxArray, DatasetError> {
    let fail = |problem| Err(DatasetError::idx(name, problem));
    // A read error inside a gzip stream is the stream's fault; on a plain file it is the disk's.
    let io_error = |e: io::Error| match input {
        Input::Plain { .. } => DatasetError::io(name, e),
        Input::Gzip { .. } => DatasetError::idx(name, IdxProblem::Gzip(e.to_string())),
    };

    let mut head = [0u8; 4];
    let got = read_full(&mut r, &mut head).map_err(io_error)?;
    if got < head.len() {
        return fail(IdxProblem::ShortHeader {
            needed: 4,
            available: got,
        });
    }
    let [zero0, zero1, type_code, rank] = head;
    if (zero0, zero1) != (0, 0) {
        return fail(IdxProblem::BadMagic(zero0, zero1));
    }
    let Some(dtype) = DataType::from_code(type_code) else {
        return fail(IdxProblem::UnknownDataType(type_code));
    };
    if rank == 0 {
        return fail(IdxProblem::NoDimensions);
    }

    // At most 255 * 4 bytes, so this allocation is small whatever the header says.
    let mut dim_bytes = vec![0u8; 4 * rank as usize];
    let header_len = 4 + dim_bytes.len();
    let got = read_full(&mut r, &mut dim_bytes).map_err(io_error)?;
    if got < dim_bytes.len() {
        return fail(IdxProblem::ShortHeader {
            needed: header_len,
            available: 4 + got,
        });
    }
    let dims: Vec<u64> = dim_bytes
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64)
        .collect();
    if let Some(axis) = dims.iter().position(|&d| d == 0) {
        return fail(IdxProblem::ZeroDimension { axis, dims });
    }
    let payload = dims
        .iter()
        .try_fold(dtype.size() as u64, |acc, &d| acc.checked_mul(d))
        .filter(|&bytes| bytes <= MAX_PAYLOAD_BYTES && usize::try_from(bytes).is_ok());
    let Some(payload) = payload else {
        return fail(IdxProblem::TooLarge {
            dims,
            cap: MAX_PAYLOAD_BYTES,
        });
    };

    // Reject a header that claims more than the file can hold before allocating for it.
    let capacity = match input {
        Input::Plain { len } => {
            let actual = len.saturating_sub(header_len as u64);
            if payload > actual {
                return fail(IdxProblem::Truncated {
                    dims,
                    expected: payload,
                    actual,
                });
            }
            if actual > payload {
                return fail(IdxProblem::TrailingBytes {
                    payload,
                    count: actual - payload,
                    more: false,
                });
            }
            payload
        }
        Input::Gzip { compressed_len } => {
            let bound = compressed_len.saturating_mul(MAX_DEFLATE_RATIO);
            if payload > bound {
                return fail(IdxProblem::ImpossibleGzip {
                    expected: payload,
                    compressed: compressed_len,
                    bound,
                });
            }
            // A real file compresses a few times at most; reserve that much and let a
            // highly-compressed payload grow the buffer only as its bytes really arrive.
            payload.min(compressed_len.saturating_mul(4).saturating_add(1 << 20))
        }
    };

    let mut bytes = Vec::with_capacity(capacity as usize);
    (&mut r)
        .take(payload)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if (bytes.len() as u64) < payload {
        return fail(IdxProblem::Truncated {
            dims,
            expected: payload,
            actual: bytes.len() as u64,
        });
    }
    let trailing =
        io::copy(&mut (&mut r).take(TRAILING_COUNT_CAP), &mut io::sink()).map_err(io_error)?;
    if trailing > 0 {
        return fail(IdxProblem::TrailingBytes {
            payload,
            count: trailing,
            more: trailing == TRAILING_COUNT_CAP,
        });
    }

    // Every dimension is at most u32::MAX and the payload fits usize, so these casts are exact.
    let dims = dims.into_iter().map(|d| d as usize).collect();
    Ok(IdxArray {
        dims,
        data: from_big_endian(dtype, bytes),
    })
}

/// Reads until `buf` is full or the input ends; returns how many bytes arrived. Unlike
/// `read_exact`, a clean end of input is not an error, so it can be told apart from a broken
/// gzip stream.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Turns the payload into values; `bytes.len()` is a multiple of the element size.
fn from_big_endian(dtype: DataType, bytes: Vec<u8>) -> IdxData {
    match dtype {
        // The common case (every MNIST file) keeps the buffer as it is: no copy.
        DataType::U8 => IdxData::U8(bytes),
        DataType::I8 => IdxData::I8(bytes.into_iter().map(|b| b as i8).collect()),
        DataType::I16 => IdxData::I16(
            bytes
                .chunks_exact(2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
                .collect(),
        ),
        DataType::I32 => IdxData::I32(
            bytes
                .chunks_exact(4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        DataType::F32 => IdxData::F32(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        DataType::F64 => IdxData::F64(
            bytes
                .chunks_exact(8)
                .map(|b| f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect(),
        ),
    }
}
