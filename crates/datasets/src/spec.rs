//! What a dataset is made of: its four files, what each must look like, where it is published.
//!
//! `fashion_mnist::spec()` and `mnist::spec()` describe the real datasets; tests build small
//! specs of their own to exercise the loader and the downloader on toy files.

use std::path::PathBuf;

/// One file of a dataset, named without `.gz`, and what it must be once decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// For example `train-images-idx3-ubyte`; the file may be stored as this or as `<name>.gz`.
    pub name: String,
    /// Length of the decompressed IDX file in bytes.
    pub size: u64,
    /// SHA-256 of the decompressed IDX file, lowercase hex; `None` where no hash is published
    /// that we can vouch for (then verification checks the size and the header only).
    pub sha256: Option<String>,
}

impl FileSpec {
    pub fn new(name: &str, size: u64, sha256: Option<&str>) -> FileSpec {
        FileSpec {
            name: name.to_string(),
            size,
            sha256: sha256.map(str::to_string),
        }
    }
}

/// A Keras-style dataset: training and test images with their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Directory name under the cache and under `CONVLAB_DATA`, e.g. `fashion-mnist`.
    pub name: &'static str,
    /// Name for messages, e.g. `Fashion-MNIST`.
    pub title: &'static str,
    pub train_images: FileSpec,
    pub train_labels: FileSpec,
    pub test_images: FileSpec,
    pub test_labels: FileSpec,
    /// Labels must be below this.
    pub num_classes: u8,
    /// Base URLs the files are published under (`<mirror><name>.gz`), tried in order.
    pub mirrors: Vec<String>,
    /// Where a system package installs the files, if one does.
    pub system_dir: Option<PathBuf>,
    /// The Debian package that installs them, if any.
    pub apt_package: Option<&'static str>,
}

impl DatasetSpec {
    /// The four files in the order Keras returns them: train images, train labels, test images,
    /// test labels.
    pub fn files(&self) -> [&FileSpec; 4] {
        [
            &self.train_images,
            &self.train_labels,
            &self.test_images,
            &self.test_labels,
        ]
    }
}
