//! The IDX reader and writer: round trips of every element type, and each kind of bad file
//! named in the issue, one by one, with the problem the reader must report.

use crate::common;

use common::TempDir;
use convlab_datasets::idx::{
    encode_idx, gzip, read_idx, read_idx_bytes, write_idx, Compression, DataType, IdxArray, IdxData,
};
use convlab_datasets::{DatasetError, IdxProblem};

fn arrays() -> Vec<IdxArray> {
    let data = [
        IdxData::U8(vec![0, 1, 127, 128, 254, 255]),
        IdxData::I8(vec![i8::MIN, -1, 0, 1, 2, i8::MAX]),
        IdxData::I16(vec![i16::MIN, -300, 0, 1, 300, i16::MAX]),
        IdxData::I32(vec![i32::MIN, -70_000, 0, 1, 70_000, i32::MAX]),
        IdxData::F32(vec![f32::MIN, -1.5, -0.0, 1e-30, f32::INFINITY, f32::MAX]),
        IdxData::F64(vec![
            f64::MIN,
            -1.5,
            0.0,
            1e-300,
            f64::NEG_INFINITY,
            f64::MAX,
        ]),
    ];
    data.into_iter()
        .map(|d| IdxArray::new(vec![2, 3], d).expect("valid"))
        .collect()
}

#[test]
fn every_type_round_trips_plain_and_gzipped_in_memory_and_on_disk() {
    let tmp = TempDir::new("idx-roundtrip");
    for array in arrays() {
        let plain = encode_idx(&array);
        assert_eq!(&plain[..4], &[0, 0, array.dtype().code(), 2]);
        assert_eq!(plain.len(), 4 + 8 + 6 * array.dtype().size());
        assert_eq!(read_idx_bytes("plain", &plain).expect("plain"), array);
        assert_eq!(read_idx_bytes("gz", &gzip(&plain)).expect("gz"), array);
        for (compression, name) in [
            (Compression::None, "a.idx"),
            (Compression::Gzip, "a.idx.gz"),
        ] {
            let path = tmp.path().join(name);
            write_idx(&path, &array, compression).expect("write");
            assert_eq!(read_idx(&path).expect("read"), array);
        }
    }
    // Gzip is recognised by content, not by name.
    let path = tmp.path().join("gzipped-without-suffix");
    write_idx(&path, &arrays()[0], Compression::Gzip).expect("write");
    assert_eq!(read_idx(&path).expect("sniffed"), arrays()[0]);
}

/// The problem reported for `bytes`, read plain.
fn problem(bytes: &[u8]) -> IdxProblem {
    match read_idx_bytes("test.idx", bytes) {
        Err(DatasetError::Idx { file, problem }) => {
            assert_eq!(file, "test.idx");
            problem
        }
        other => panic!("expected an IDX problem, got {other:?}"),
    }
}

fn header(type_code: u8, dims: &[u32]) -> Vec<u8> {
    let mut h = vec![0, 0, type_code, dims.len() as u8];
    dims.iter()
        .for_each(|d| h.extend_from_slice(&d.to_be_bytes()));
    h
}

#[test]
fn each_bad_header_is_named() {
    let short = ShortOf {
        needed: 4,
        available: 0,
    };
    assert_eq!(problem(b""), short.problem());
    assert_eq!(
        problem(b"\x00\x00\x08"),
        ShortOf {
            needed: 4,
            available: 3
        }
        .problem()
    );
    assert_eq!(
        problem(b"\x00\x00\x08\x02\x00\x00\x00\x01"),
        ShortOf {
            needed: 12,
            available: 8
        }
        .problem()
    );
    assert_eq!(
        problem(b"\x01\x00\x08\x01\x00\x00\x00\x01\x07"),
        IdxProblem::BadMagic(1, 0)
    );
    assert_eq!(
        problem(&header(0x0a, &[1])),
        IdxProblem::UnknownDataType(0x0a)
    );
    assert_eq!(problem(&header(0x08, &[])), IdxProblem::NoDimensions);
    assert_eq!(
        problem(&header(0x08, &[3, 0])),
        IdxProblem::ZeroDimension {
            axis: 1,
            dims: vec![3, 0]
        }
    );
    assert!(matches!(
        problem(&header(0x0e, &[u32::MAX, u32::MAX, u32::MAX])),
        IdxProblem::TooLarge { .. }
    ));
    // Four billion 28x28 images: far past the reader's cap, refused before reading on.
    assert!(matches!(
        problem(&header(0x08, &[4_000_000_000, 28, 28])),
        IdxProblem::TooLarge { .. }
    ));
}

struct ShortOf {
    needed: usize,
    available: usize,
}

impl ShortOf {
    fn problem(self) -> IdxProblem {
        IdxProblem::ShortHeader {
            needed: self.needed,
            available: self.available,
        }
    }
}

#[test]
fn a_header_that_claims_more_than_the_file_holds_fails_at_once() {
    // A 60-byte file claiming four billion one-byte labels (under the cap, so only the file's
    // size can refute it).
    let mut lying = header(0x08, &[4_000_000_000]);
    lying.resize(60, 7);
    assert_eq!(
        problem(&lying),
        IdxProblem::Truncated {
            dims: vec![4_000_000_000],
            expected: 4_000_000_000,
            actual: 52
        }
    );
    assert!(matches!(
        problem(&gzip(&lying)),
        IdxProblem::ImpossibleGzip {
            expected: 4_000_000_000,
            ..
        }
    ));

    let mut short = header(0x0c, &[10]);
    short.extend_from_slice(&[0; 39]);
    assert_eq!(
        problem(&short),
        IdxProblem::Truncated {
            dims: vec![10],
            expected: 40,
            actual: 39
        }
    );
    // Gzipped, the payload's end is only found by reading it.
    assert_eq!(
        problem(&gzip(&short)),
        IdxProblem::Truncated {
            dims: vec![10],
            expected: 40,
            actual: 39
        }
    );
}

#[test]
fn trailing_bytes_are_refused() {
    let mut long = encode_idx(&arrays()[0]);
    long.extend_from_slice(b"xyz");
    let trailing = IdxProblem::TrailingBytes {
        payload: 6,
        count: 3,
        more: false,
    };
    assert_eq!(problem(&long), trailing);
    assert_eq!(problem(&gzip(&long)), trailing);
    // Junk after a complete gzip member is not a second member.
    let mut junk = gzip(&encode_idx(&arrays()[0]));
    junk.extend_from_slice(b"junk");
    assert!(matches!(problem(&junk), IdxProblem::Gzip(_)));
}

#[test]
fn truncated_or_corrupt_gzip_is_refused() {
    let gz = gzip(&encode_idx(&arrays()[3]));
    // Cut inside the deflate data and inside the 8-byte trailer (CRC-32, size): flate2 since
    // 1.1.11 reports both.
    for cut in [gz.len() / 2, gz.len() - 8, gz.len() - 1] {
        assert!(
            matches!(problem(&gz[..cut]), IdxProblem::Gzip(_)),
            "cut at {cut}"
        );
    }
    let mut bad_crc = gz.clone();
    let crc = bad_crc.len() - 8;
    bad_crc[crc] ^= 1;
    assert!(matches!(problem(&bad_crc), IdxProblem::Gzip(_)));
    // Just the gzip magic.
    assert!(matches!(problem(&[0x1f, 0x8b]), IdxProblem::Gzip(_)));
}

#[test]
fn errors_name_the_file() {
    let tmp = TempDir::new("idx-names");
    let path = tmp.path().join("broken-labels.idx");
    std::fs::write(&path, b"\x00\x00\x08\x01\x00\x00\x00\x05\x01").expect("write");
    let message = read_idx(&path).expect_err("truncated").to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("declares 5 payload bytes") && message.contains("holds 1"),
        "{message}"
    );

    let missing = tmp.path().join("missing.idx");
    match read_idx(&missing) {
        Err(DatasetError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn unwritable_arrays_are_refused_by_the_constructor() {
    assert!(IdxArray::new(vec![], IdxData::U8(vec![])).is_err());
    assert!(IdxArray::new(vec![2, 0], IdxData::U8(vec![])).is_err());
    assert!(IdxArray::new(vec![2, 2], IdxData::U8(vec![1, 2, 3])).is_err());
    assert!(IdxArray::new(vec![1; 256], IdxData::U8(vec![1])).is_err());
    assert!(IdxArray::new(vec![1; 255], IdxData::U8(vec![1])).is_ok());
    assert_eq!(DataType::from_code(0x0b), Some(DataType::I16));
    assert_eq!(DataType::from_code(0x0a), None);
}
