//! Property tests: the CIFAR-10 batch reader and the tar reader on random, mutated and truncated
//! input. Whatever the bytes, each returns a value or an error, never a panic; the batch reader
//! accepts exactly the inputs of the right size with labels in range, and what it accepts
//! encodes back to the same bytes.
//!
//! Cases: 3000 + 2000 + 300 + 3000 + 2000.

use crate::common;

use common::cifar::{good_entries, tar_gz, LAYOUT};
use convlab_datasets::cifar10::batch::{encode_batch, read_batch_bytes, BatchLayout};
use convlab_datasets::tar::{build_archive, TarReader};
use flate2::read::MultiGzDecoder;
use proptest::prelude::*;

/// A small layout: 1 to 3 records of 1x1 to 3x3 images with 1 to 3 channels, 1 to 10 classes.
fn layout() -> impl Strategy<Value = BatchLayout> {
    (1usize..=3, 1usize..=3, 1usize..=3, 1usize..=3, 1u8..=10).prop_map(
        |(records, rows, cols, channels, classes)| BatchLayout {
            records,
            rows,
            cols,
            channels,
            classes,
        },
    )
}

/// Reads `bytes` and, if accepted, checks it re-encodes to itself.
fn round_trips_if_accepted(bytes: &[u8], layout: &BatchLayout, exact: bool) -> bool {
    match read_batch_bytes("prop", bytes, layout, exact) {
        Ok((images, labels)) => {
            assert_eq!(encode_batch(&images, &labels).expect("encode"), bytes);
            true
        }
        Err(_) => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    /// Accepted exactly when the length is right (exact: `records` records; otherwise any
    /// whole, non-zero number) and every label is below `classes`.
    #[test]
    fn random_bytes_are_accepted_exactly_when_they_are_a_batch(
        layout in layout(),
        bytes in prop::collection::vec(prop_oneof![0u8..10, any::<u8>()], 0..120),
        exact in any::<bool>(),
    ) {
        let record = layout.record_len();
        let whole = !bytes.is_empty() && bytes.len() % record == 0;
        let right_size = if exact { bytes.len() as u64 == layout.file_len() } else { whole };
        let labels_ok = bytes.chunks(record).all(|r| r[0] < layout.classes);
        prop_assert_eq!(round_trips_if_accepted(&bytes, &layout, exact), right_size && labels_ok);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// A valid batch with one byte changed: a label byte out of range is refused, anything else
    /// is accepted as exactly the changed bytes.
    #[test]
    fn one_changed_byte(layout in layout(), seed in any::<u64>(), at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let record = layout.record_len();
        let mut bytes: Vec<u8> = (0..layout.file_len() as usize)
            .map(|i| if i % record == 0 { (seed as usize + i) as u8 % layout.classes } else { (seed >> (i % 56)) as u8 })
            .collect();
        let i = at.index(bytes.len());
        bytes[i] = to;
        let is_label = i % record == 0;
        prop_assert_eq!(round_trips_if_accepted(&bytes, &layout, true), !is_label || to < layout.classes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Every proper prefix of a valid batch, and the batch with bytes appended, is refused.
    #[test]
    fn every_truncation_and_extension_is_refused(layout in layout(), extra in prop::collection::vec(any::<u8>(), 1..8)) {
        let record = layout.record_len();
        let bytes: Vec<u8> = (0..layout.file_len() as usize)
            .map(|i| if i % record == 0 { 0 } else { i as u8 })
            .collect();
        prop_assert!(round_trips_if_accepted(&bytes, &layout, true));
        for cut in 0..bytes.len() {
            prop_assert!(read_batch_bytes("prop", &bytes[..cut], &layout, true).is_err(), "cut at {}", cut);
        }
        let longer = [&bytes[..], &extra[..]].concat();
        prop_assert!(read_batch_bytes("prop", &longer, &layout, true).is_err());
    }
}

/// Walks a tar stream to its end, reading every entry's data: the (path, data) of each, or the
/// problem.
fn walk(tar_stream: impl std::io::Read) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut tar = TarReader::new(tar_stream, 1 << 20);
    let mut entries = Vec::new();
    while let Some(entry) = tar.next_entry().map_err(|e| e.to_string())? {
        let mut data = Vec::new();
        tar.copy_data(&mut data).map_err(|e| format!("{e:?}"))?;
        entries.push((entry.path, data));
    }
    tar.finish().map_err(|e| e.to_string())?;
    Ok(entries)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    /// Random bytes, and a valid archive with one byte changed: the tar reader never panics.
    /// A valid archive cut short is refused unless the cut falls after its end-of-archive block.
    #[test]
    fn the_tar_reader_never_panics_and_refuses_truncation(
        data in prop::collection::vec(any::<u8>(), 0..1600),
        at in any::<prop::sample::Index>(),
        to in any::<u8>(),
    ) {
        let _ = walk(&data[..]);
        let archive = build_archive(&[("a/b.bin", b'0', &data[..data.len().min(700)]), ("c", b'5', b"")]);
        let mut changed = archive.clone();
        changed[at.index(archive.len())] = to;
        let _ = walk(&changed[..]);
        let cut = at.index(archive.len());
        let end_block_read = archive.len() - 512;
        prop_assert_eq!(walk(&archive[..cut]).is_ok(), cut >= end_block_read, "cut at {}", cut);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// The toy archive gzipped, with one bit flipped anywhere, read through gzip and tar as the
    /// downloader reads it: refused, or (a flip in a field gzip ignores, such as its timestamp)
    /// exactly the original entries.
    #[test]
    fn a_flipped_bit_in_the_tar_gz(at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let good = tar_gz(&good_entries());
        let mut bad = good.clone();
        let i = at.index(bad.len());
        bad[i] ^= 1 << bit;
        if let Ok(entries) = walk(MultiGzDecoder::new(&bad[..])) {
            prop_assert_eq!(entries, walk(MultiGzDecoder::new(&good[..])).expect("the good archive"));
        }
    }
}

#[test]
fn the_toy_layout_is_the_one_the_common_module_writes() {
    assert_eq!(LAYOUT.record_len(), common::cifar::RECORD);
}
