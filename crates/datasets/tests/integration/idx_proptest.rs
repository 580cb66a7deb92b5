//! Property tests: the IDX reader on random, mutated and truncated files, plain and gzipped.
//! Whatever the bytes, it returns a value or an error (never a panic), and when it does accept a
//! file, that file is exactly what it says it is.
//!
//! Cases: 4000 + 3000 + 2000 + 3000 + 3000 + 400 (the last each truncating one file at every
//! length, plain and gzipped: about 200,000 reads).

use convlab_datasets::idx::{encode_idx, gzip, read_idx_bytes, DataType, IdxArray};
use proptest::prelude::*;

/// A valid IDX file as bytes: a type, 1 to 3 dimensions of 1 to 4, and random payload bytes.
fn valid_file() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(DataType::ALL.to_vec()),
        prop::collection::vec(1u32..=4, 1..=3),
    )
        .prop_flat_map(|(dtype, dims)| {
            let len = dims.iter().product::<u32>() as usize * dtype.size();
            prop::collection::vec(any::<u8>(), len).prop_map(move |payload| {
                let mut bytes = vec![0, 0, dtype.code(), dims.len() as u8];
                dims.iter()
                    .for_each(|d| bytes.extend_from_slice(&d.to_be_bytes()));
                bytes.extend_from_slice(&payload);
                bytes
            })
        })
}

/// What the reader returned for `bytes`, re-encoded; `None` for an error.
fn accepted(bytes: &[u8]) -> Option<Vec<u8>> {
    read_idx_bytes("prop", bytes)
        .ok()
        .map(|a: IdxArray| encode_idx(&a))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]
    /// Random bytes, often starting like an IDX or gzip file so the reader gets past the magic.
    #[test]
    fn random_bytes_never_panic(
        prefix in prop::sample::select(vec![&b""[..], b"\x00\x00", b"\x00\x00\x08", b"\x00\x00\x0d\x01", b"\x1f\x8b", b"\x1f\x8b\x08\x00"]),
        tail in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let bytes = [prefix, &tail[..]].concat();
        // If a plain file is accepted, it re-encodes to itself: no byte was ignored.
        if let Some(re) = accepted(&bytes) {
            if !bytes.starts_with(b"\x1f\x8b") {
                prop_assert_eq!(re, bytes);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    /// A header with arbitrary type byte and dimensions, and a short payload: accepted exactly
    /// when the header is valid and the payload is precisely the size it declares.
    #[test]
    fn headers_are_checked_against_the_payload(
        type_code in prop_oneof![Just(0x08u8), Just(0x0d), any::<u8>()],
        dims in prop::collection::vec(prop_oneof![0u32..4, any::<u32>()], 0..5),
        payload_len in 0usize..64,
    ) {
        let mut bytes = vec![0, 0, type_code, dims.len() as u8];
        dims.iter().for_each(|d| bytes.extend_from_slice(&d.to_be_bytes()));
        bytes.resize(bytes.len() + payload_len, 0x5a);
        let declared = DataType::from_code(type_code).and_then(|t| {
            dims.iter().try_fold(t.size() as u64, |acc, &d| acc.checked_mul(d as u64))
        });
        let valid = !dims.is_empty() && !dims.contains(&0) && declared == Some(payload_len as u64);
        prop_assert_eq!(accepted(&bytes).is_some(), valid);
        prop_assert_eq!(accepted(&gzip(&bytes)).is_some(), valid);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn valid_files_round_trip_plain_and_gzipped(bytes in valid_file()) {
        prop_assert_eq!(accepted(&bytes), Some(bytes.clone()));
        prop_assert_eq!(accepted(&gzip(&bytes)), Some(bytes));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    /// One flipped bit in a plain file: refused, or accepted as exactly the flipped bytes.
    #[test]
    fn bit_flips_in_plain_files(bytes in valid_file(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut flipped = bytes;
        let i = at.index(flipped.len());
        flipped[i] ^= 1 << bit;
        if let Some(re) = accepted(&flipped) {
            prop_assert_eq!(re, flipped);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    /// One flipped bit in a gzipped file: refused, or (a flip in a field gzip ignores, such as the
    /// timestamp) the original contents; gzip's CRC-32 catches every flip in the data.
    #[test]
    fn bit_flips_in_gzipped_files(bytes in valid_file(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut gz = gzip(&bytes);
        let i = at.index(gz.len());
        gz[i] ^= 1 << bit;
        if let Some(re) = accepted(&gz) {
            prop_assert_eq!(re, bytes);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// Every proper prefix of a valid file, and the file with bytes appended, is refused.
    #[test]
    fn every_truncation_and_extension_is_refused(bytes in valid_file(), extra in prop::collection::vec(any::<u8>(), 1..8)) {
        for cut in 0..bytes.len() {
            prop_assert!(accepted(&bytes[..cut]).is_none(), "plain cut at {}", cut);
        }
        let gz = gzip(&bytes);
        for cut in 0..gz.len() {
            prop_assert!(accepted(&gz[..cut]).is_none(), "gzip cut at {} of {}", cut, gz.len());
        }
        let longer = [&bytes[..], &extra[..]].concat();
        prop_assert!(accepted(&longer).is_none());
        prop_assert!(accepted(&gzip(&longer)).is_none());
        prop_assert!(accepted(&[&gz[..], &extra[..]].concat()).is_none());
    }
}
