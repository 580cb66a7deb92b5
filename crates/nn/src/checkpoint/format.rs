//! The safetensors byte layout, written and read from scratch
//! (reference: <https://github.com/huggingface/safetensors#format>).
//!
//! ```text
//! bytes [0, 8)        N, the header's length: u64, little-endian
//! bytes [8, 8 + N)    the header: UTF-8 JSON, padded with spaces so the data starts 8-byte aligned
//!                     {"__metadata__": {"convlab.format": "1", ...},
//!                      "conv2d/kernel": {"dtype": "F32", "shape": [3, 3, 1, 32],
//!                                        "data_offsets": [0, 1152]}, ...}
//! bytes [8 + N, end)  the data section: each tensor's values row-major as f32 little-endian, at
//!                     its data_offsets (relative to the section's start); together the tensors
//!                     tile the section exactly, with no gap and no overlap
//! ```
//!
//! Why not the `safetensors` crate: the format is this small, and owning the reader lets every
//! defect become a `Problem` that says what is wrong, and keeps every allocation visibly bounded
//! by the file: a size taken from the header is checked against the bytes actually present
//! before anything is allocated from it.

use std::collections::BTreeMap;
use std::io::{self, Write};

use convlab_tensor::error::checked_product;
use convlab_tensor::Tensor;
use serde::Serialize;

use super::error::Problem;
use super::header::{Header, TensorInfo, METADATA_KEY};

/// The only dtype convlab writes or reads.
const F32: &str = "F32";

/// A header longer than this is refused before it is parsed (the Hugging Face reader's limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// A file ready to be written: its header, and the tensors' values in data-section order.
pub(super) struct Encoded<'a> {
    header: String,
    values: Vec<&'a [f32]>,
}

/// A tensor entry as written (borrowing, unlike the reader's `TensorInfo`).
#[derive(Serialize)]
struct EntryOut<'a> {
    dtype: &'static str,
    shape: &'a [usize],
    data_offsets: [u64; 2],
}

impl<'a> Encoded<'a> {
    /// Lays out `tensors` one after another, in the order given. Names must be distinct and not
    /// `__metadata__` (the caller checks).
    pub fn new(metadata: &BTreeMap<&str, String>, tensors: &[(String, &'a Tensor)]) -> Self {
        let mut header = format!("{{{}:{}", json(&METADATA_KEY), json(metadata));
        let mut offset = 0u64;
        for (name, tensor) in tensors {
            let end = offset + 4 * tensor.len() as u64;
            let entry = EntryOut {
                dtype: F32,
                shape: tensor.shape(),
                data_offsets: [offset, end],
            };
            header.push_str(&format!(",{}:{}", json(name), json(&entry)));
            offset = end;
        }
        header.push('}');
        // 8 + N a multiple of 8 puts every f32 on an aligned address, so readers can map the
        // data in place (the format allows trailing spaces in the header for exactly this).
        let padded = header.len().next_multiple_of(8);
        header.extend(std::iter::repeat_n(' ', padded - header.len()));
        let values = tensors.iter().map(|(_, t)| t.data()).collect();
        Encoded { header, values }
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        let data: usize = self.values.iter().map(|v| v.len()).sum();
        8 + self.header.len() as u64 + 4 * data as u64
    }

    /// Streams the file into `w` (which should be buffered), without building it in memory.
    pub fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(&(self.header.len() as u64).to_le_bytes())?;
        w.write_all(self.header.as_bytes())?;
        let mut buf = [0u8; 4096];
        for values in &self.values {
            for chunk in values.chunks(buf.len() / 4) {
                for (dst, v) in buf.chunks_exact_mut(4).zip(chunk) {
                    dst.copy_from_slice(&v.to_le_bytes());
                }
                w.write_all(&buf[..4 * chunk.len()])?;
            }
        }
        Ok(())
    }
}

/// Plain strings, string maps and numbers always serialise.
fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("strings and numbers serialise to JSON")
}

/// A tensor found in a file: its name, shape, and bytes, checked but not yet converted.
pub(super) struct RawTensor<'b> {
    pub name: String,
    pub shape: Vec<usize>,
    pub bytes: &'b [u8],
}

impl RawTensor<'_> {
    /// The values; allocates exactly this tensor's share of the file.
    pub fn to_tensor(&self) -> Tensor {
        let data = self
            .bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        // `parse` checked that the bytes hold exactly the shape's values.
        Tensor::from_vec("checkpoint tensor", &self.shape, data)
    }
}

/// A parsed file: its metadata, and its tensors in header order.
pub(super) struct Parsed<'b> {
    pub metadata: BTreeMap<String, String>,
    pub tensors: Vec<RawTensor<'b>>,
}

/// Checks the layout of `bytes` and finds every tensor in it.
pub(super) fn parse(bytes: &[u8]) -> Result<Parsed<'_>, Problem> {
    let Some((len_field, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(Problem::TooShort { len: bytes.len() });
    };
    let declared = u64::from_le_bytes(*len_field);
    if declared > MAX_HEADER_BYTES {
        return Err(Problem::HeaderTooLarge {
            declared,
            limit: MAX_HEADER_BYTES,
        });
    }
    if declared > rest.len() as u64 {
        return Err(Problem::HeaderBeyondFile {
            declared,
            available: rest.len(),
        });
    }
    // Below the file's length, so it fits usize.
    let (header, data) = rest.split_at(declared as usize);
    let header: Header =
        serde_json::from_slice(header).map_err(|e| Problem::HeaderJson(e.to_string()))?;
    let tensors = locate(header.tensors, data)?;
    Ok(Parsed {
        metadata: header.metadata,
        tensors,
    })
}

/// Checks each entry against the data section, then that together they tile it.
fn locate(entries: Vec<(String, TensorInfo)>, data: &[u8]) -> Result<Vec<RawTensor<'_>>, Problem> {
    for (name, info) in &entries {
        check_entry(name, info, data.len())?;
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries[i].1.data_offsets);
    let mut covered = 0u64;
    for i in order {
        let (name, info) = &entries[i];
        let [begin, end] = info.data_offsets;
        if begin != covered {
            return Err(Problem::NotContiguous {
                name: name.clone(),
                begin,
                expected: covered,
            });
        }
        covered = end;
    }
    if covered != data.len() as u64 {
        return Err(Problem::Uncovered {
            covered,
            len: data.len(),
        });
    }
    Ok(entries
        .into_iter()
        .map(|(name, info)| {
            // Both offsets were checked to lie within `data`.
            let [begin, end] = info.data_offsets.map(|o| o as usize);
            RawTensor {
                name,
                shape: info.shape,
                bytes: &data[begin..end],
            }
        })
        .collect())
}

fn check_entry(name: &str, info: &TensorInfo, data_len: usize) -> Result<(), Problem> {
    if info.dtype != F32 {
        return Err(Problem::Dtype {
            name: name.to_string(),
            dtype: info.dtype.clone(),
        });
    }
    let [begin, end] = info.data_offsets;
    if end < begin {
        return Err(Problem::OffsetsReversed {
            name: name.to_string(),
            begin,
            end,
        });
    }
    if end > data_len as u64 {
        return Err(Problem::OffsetsOutOfRange {
            name: name.to_string(),
            end,
            len: data_len,
        });
    }
    let overflow = || Problem::ShapeOverflow {
        name: name.to_string(),
        shape: info.shape.clone(),
    };
    let count = checked_product("tensor", &info.shape).map_err(|_| overflow())?;
    let needed = u64::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(4))
        .ok_or_else(overflow)?;
    if needed != end - begin {
        return Err(Problem::SizeMismatch {
            name: name.to_string(),
            shape: info.shape.clone(),
            needed,
            spanned: end - begin,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_an_aligned_header_and_reads_it_back_bit_for_bit() {
        // A NaN with a payload and a negative zero: the values must survive as bits, not numbers.
        let odd = [f32::from_bits(0x7fc0_1234), -0.0, 1.5];
        let a = Tensor::new(&[3], odd.to_vec()).unwrap();
        let b = Tensor::new(&[1, 2], vec![7.0, -8.0]).unwrap();
        let metadata = BTreeMap::from([("k", "v".to_string())]);
        let encoded = Encoded::new(&metadata, &[("a".into(), &a), ("b/c".into(), &b)]);
        let mut bytes = Vec::new();
        encoded.write_to(&mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, encoded.len());
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!((8 + n) % 8, 0);
        assert_eq!(bytes.len() - 8 - n, 20);

        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.metadata["k"], "v");
        let names: Vec<&str> = parsed.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b/c"]);
        let back = parsed.tensors[0].to_tensor();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(back.data()), bits(&odd));
        assert_eq!(parsed.tensors[1].to_tensor(), b);
    }

    #[test]
    fn tensors_may_appear_in_any_header_order_but_must_tile_the_data() {
        let header = r#"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},
                         "a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend([0u8; 8]);
        assert_eq!(parse(&bytes).unwrap().tensors.len(), 2);
        bytes.extend([0u8; 4]);
        assert!(matches!(
            parse(&bytes),
            Err(Problem::Uncovered {
                covered: 8,
                len: 12
            })
        ));
    }
}
