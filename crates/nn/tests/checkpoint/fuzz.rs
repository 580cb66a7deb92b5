//! Property tests: whatever is done to a small valid checkpoint, decoding returns a model or an
//! error, never panics, and never makes an allocation larger than the file (or 4 KiB, the small
//! bookkeeping any parse needs), so no size written in the file is trusted before it is checked.
//! A file that does load is a consistent checkpoint: it encodes and decodes back to itself.
//!
//! Cases: truncation at every length of two files (1,068 + 1,824 = 2,892 decodes, printed with
//! --nocapture); 3,000 sets of 1 to 8 bit flips; 3,000 sets of header byte overwrites;
//! 2,000 garbage files with random header lengths; 2,000 random JSON-ish headers; 2,000 sets of
//! random numbers written into the architecture.

use convlab_nn::checkpoint::{decode, encode, CheckpointError};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Value};

use crate::support::{assemble, largest_allocation, small_file, small_model, Raw};

/// Decodes `bytes`, checking the allocation bound and, on success, the round trip.
fn decode_checked(bytes: &[u8]) -> Result<(), CheckpointError> {
    let (result, largest) = largest_allocation(|| decode("fuzz", bytes));
    let bound = bytes.len().max(4096);
    assert!(
        largest <= bound,
        "decoding {} bytes allocated {largest} at once",
        bytes.len()
    );
    let (model, state) = result?;
    let again = encode(&model, state.as_ref()).expect("a loaded model saves");
    let (model2, state2) = decode("again", &again).expect("a saved model loads");
    assert_eq!(encode(&model2, state2.as_ref()).unwrap(), again);
    Ok(())
}

#[test]
fn truncation_at_every_length_is_an_error() {
    let mut decodes = 0;
    for with_state in [false, true] {
        let file = small_file(with_state);
        for len in 0..file.len() {
            assert!(decode_checked(&file[..len]).is_err(), "length {len}");
            decodes += 1;
        }
        assert!(decode_checked(&file).is_ok());
        // A byte too many is as wrong as a byte too few.
        let mut longer = file.clone();
        longer.push(0);
        assert!(decode_checked(&longer).is_err());
    }
    println!("truncation: {decodes} truncated files, every length of both");
}

fn flips() -> impl Strategy<Value = (bool, Vec<(prop::sample::Index, u8)>)> {
    (
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..=8),
    )
}

/// The numbers of the small model's architecture, by JSON pointer.
const NUMBERS: [&str; 10] = [
    "/input_shape/0",
    "/input_shape/1",
    "/input_shape/2",
    "/layers/0/filters",
    "/layers/0/kernel_size/0",
    "/layers/0/kernel_size/1",
    "/layers/0/strides/0",
    "/layers/0/strides/1",
    "/layers/2/units",
    "/seed",
];

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..10).prop_map(|v| json!(v)),
        (0u64..4096).prop_map(|v| json!(v)),
        (1u64 << 20..1u64 << 40).prop_map(|v| json!(v)),
        any::<u64>().prop_map(|v| json!(v)),
        Just(json!(u64::MAX)),
        any::<i64>().prop_map(|v| json!(v)),
    ]
}

/// `cases` per property; failures are kept beside this file (proptest's default looks for a
/// lib.rs above it, which an integration test's module does not have).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(3000))]

    /// Flips anywhere: in the length field, the header or the data.
    #[test]
    fn bit_flips_never_panic((with_state, flips) in flips()) {
        let mut file = small_file(with_state);
        for (index, bit) in &flips {
            let i = index.index(file.len());
            file[i] ^= 1 << bit;
        }
        let _ = decode_checked(&file);
    }

    /// Overwrites in the header only, where every byte matters.
    #[test]
    fn header_overwrites_never_panic(
        with_state in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..=4),
    ) {
        let mut file = small_file(with_state);
        let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
        for (index, byte) in &edits {
            file[8 + index.index(n)] = *byte;
        }
        let _ = decode_checked(&file);
    }
}

proptest! {
    #![proptest_config(config(2000))]

    /// Random bytes after a random header length, often absurd, sometimes exactly the rest.
    #[test]
    fn garbage_with_any_header_length_is_an_error(
        declared in prop_oneof![any::<u64>(), 0u64..512, Just(u64::MAX)],
        exact in any::<bool>(),
        garbage in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let declared = if exact { garbage.len() as u64 } else { declared };
        let mut bytes = declared.to_le_bytes().to_vec();
        bytes.extend(&garbage);
        prop_assert!(decode_checked(&bytes).is_err());
    }

    /// Headers from JSON's own alphabet, so the parser gets past the first byte.
    #[test]
    fn json_like_headers_are_errors(
        header in "[{}\\[\\]\":,0-9a-zA-Z_./ -]{0,300}",
        data in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        prop_assert!(decode_checked(&assemble(&header, &data)).is_err());
    }

    /// Any numbers in the architecture, with the weights unchanged: a file of about a kilobyte
    /// must not get to ask for gigabytes of weights.
    #[test]
    fn architecture_numbers_never_panic_or_overallocate(
        edits in prop::collection::vec((prop::sample::select(NUMBERS.to_vec()), number()), 1..=3),
    ) {
        let mut raw = Raw::of(&small_model(5), None);
        let mut arch = raw.architecture();
        for (pointer, value) in &edits {
            *arch.pointer_mut(pointer).unwrap() = value.clone();
        }
        raw.set_architecture(&arch);
        let _ = decode_checked(&raw.bytes());
    }
}
