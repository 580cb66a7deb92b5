//! A toy dataset in CIFAR-10's binary format: five training batches and one test batch of 3
//! records each, 2x3 RGB images (rows and columns differ, so a mix-up of the two shows), and the
//! tar.gz its download would fetch.

use convlab_datasets::cifar10::{BatchLayout, CifarSpec};
use convlab_datasets::idx::gzip;
use convlab_datasets::tar::build_archive;
use convlab_datasets::verify::sha256_hex;
use convlab_datasets::Published;

pub const LAYOUT: BatchLayout = BatchLayout {
    records: 3,
    rows: 2,
    cols: 3,
    channels: 3,
    classes: 10,
};

/// Bytes in one record: 1 label + 3 planes of 6.
pub const RECORD: usize = 19;

/// The label of record `r` of batch `f` (0..5 training, 5 the test batch).
pub fn label(f: usize, r: usize) -> u8 {
    ((f * 3 + r) * 7 % 10) as u8
}

/// The byte for channel `k` of pixel `p` (row-major) of record `r` of batch `f`: distinct for
/// every (f, r, k, p), so any misplaced byte shows.
pub fn value(f: usize, r: usize, k: usize, p: usize) -> u8 {
    (f * 54 + r * 18 + k * 6 + p) as u8
}

/// Batch `f` as the format lays it out: per record, the label, then the red, green and blue
/// planes, written by hand here rather than by the crate's encoder.
pub fn batch_bytes(f: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for r in 0..3 {
        out.push(label(f, r));
        for k in 0..3 {
            for p in 0..6 {
                out.push(value(f, r, k, p));
            }
        }
    }
    out
}

pub const NAMES: [&str; 6] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
];

/// The toy's spec, with the archive `archive` (its size and hash become the published ones) and
/// `mirrors`.
pub fn spec_for(archive: &[u8], mirrors: Vec<String>) -> CifarSpec {
    CifarSpec {
        name: "toycifar",
        title: "Toy CIFAR",
        train_files: NAMES[..5].iter().map(|s| s.to_string()).collect(),
        test_files: vec![NAMES[5].to_string()],
        layout: LAYOUT,
        archive: Published {
            name: "toy-binary.tar.gz".to_string(),
            size: archive.len() as u64,
            sha256: sha256_hex(&[archive]),
        },
        archive_dir: "cifar-10-batches-bin",
        mirrors,
    }
}

/// The six batches written into `dir`.
pub fn write_batches(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for (f, name) in NAMES.iter().enumerate() {
        std::fs::write(dir.join(name), batch_bytes(f)).expect("write batch");
    }
}

/// The entries of a good archive, as the real one has them: the directory, the six batches
/// and the two small files that are not unpacked.
pub fn good_entries() -> Vec<(String, u8, Vec<u8>)> {
    let mut entries = vec![("cifar-10-batches-bin/".to_string(), b'5', Vec::new())];
    for (f, name) in NAMES.iter().enumerate() {
        entries.push((format!("cifar-10-batches-bin/{name}"), b'0', batch_bytes(f)));
    }
    entries.push((
        "cifar-10-batches-bin/batches.meta.txt".to_string(),
        b'0',
        b"airplane\nautomobile\n".to_vec(),
    ));
    entries.push((
        "cifar-10-batches-bin/readme.html".to_string(),
        b'0',
        b"<meta>".to_vec(),
    ));
    entries
}

/// `entries` as a tar.gz.
pub fn tar_gz(entries: &[(String, u8, Vec<u8>)]) -> Vec<u8> {
    let borrowed: Vec<(&str, u8, &[u8])> = entries
        .iter()
        .map(|(n, f, d)| (n.as_str(), *f, d.as_slice()))
        .collect();
    gzip(&build_archive(&borrowed))
}
