//! Helpers shared by the integration tests: temporary directories, a toy dataset, a local HTTP
//! server.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod cifar;
pub mod fixture;
pub mod server;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use convlab_datasets::idx::{encode_idx, gzip, IdxArray, IdxData};
use convlab_datasets::verify::sha256_hex;
use convlab_datasets::{DatasetSpec, FileSpec};

/// A fresh directory under the system's temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("convlab-datasets-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tiny dataset in MNIST's layout: 6 training and 3 test images of 3x4 pixels.
pub struct Toy {
    pub spec: DatasetSpec,
    /// (name, plain IDX bytes) in `DatasetSpec::files` order.
    pub files: Vec<(String, Vec<u8>)>,
}

pub const TOY_TRAIN_LABELS: [u8; 6] = [9, 0, 0, 3, 0, 2];
pub const TOY_TEST_LABELS: [u8; 3] = [9, 2, 1];

/// Pixel `p` of image `i`: distinct enough that a mix-up of images shows.
pub fn toy_pixel(i: usize, p: usize) -> u8 {
    ((i * 31 + p * 7) % 256) as u8
}

fn images(n: usize) -> IdxArray {
    let pixels = (0..n)
        .flat_map(|i| (0..12).map(move |p| toy_pixel(i, p)))
        .collect();
    IdxArray::new(vec![n, 3, 4], IdxData::U8(pixels)).expect("toy images")
}

fn labels(values: &[u8]) -> IdxArray {
    IdxArray::new(vec![values.len()], IdxData::U8(values.to_vec())).expect("toy labels")
}

/// The spec of a file with these plain bytes: its real size and hash.
pub fn file_spec(name: &str, plain: &[u8]) -> FileSpec {
    FileSpec::new(name, plain.len() as u64, Some(&sha256_hex(&[plain])))
}

pub fn toy() -> Toy {
    let arrays = [
        ("train-images-idx3-ubyte", images(6)),
        ("train-labels-idx1-ubyte", labels(&TOY_TRAIN_LABELS)),
        ("t10k-images-idx3-ubyte", images(3)),
        ("t10k-labels-idx1-ubyte", labels(&TOY_TEST_LABELS)),
    ];
    let files: Vec<(String, Vec<u8>)> = arrays
        .iter()
        .map(|(name, a)| (name.to_string(), encode_idx(a)))
        .collect();
    let spec = DatasetSpec {
        name: "toy",
        title: "Toy",
        train_images: file_spec(&files[0].0, &files[0].1),
        train_labels: file_spec(&files[1].0, &files[1].1),
        test_images: file_spec(&files[2].0, &files[2].1),
        test_labels: file_spec(&files[3].0, &files[3].1),
        num_classes: 10,
        item_shape: Some([3, 4, 1]),
        mirrors: Vec::new(),
        system_dir: None,
        apt_package: Some("dataset-toy"),
    };
    Toy { spec, files }
}

impl Toy {
    /// Writes the four files into `dir`, gzipped as `<name>.gz` or plain as `<name>`.
    pub fn write(&self, dir: &Path, gzipped: bool) {
        std::fs::create_dir_all(dir).expect("create dataset dir");
        for (name, plain) in &self.files {
            if gzipped {
                std::fs::write(dir.join(format!("{name}.gz")), gzip(plain)).expect("write");
            } else {
                std::fs::write(dir.join(name), plain).expect("write");
            }
        }
    }
}

/// Names of the entries of `dir`, sorted; empty if it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
