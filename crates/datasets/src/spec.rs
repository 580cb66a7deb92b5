//! What a dataset in IDX files is made of: its four files, what each must look like, where it is
//! published.
//!
//! `fashion_mnist::spec()`, `mnist::spec()` and `kmnist::spec()` describe the real datasets
//! (CIFAR-10 has its own `cifar10::CifarSpec`); tests build small specs of their own to exercise
//! the loader and the downloader on toy files.

use std::path::PathBuf;

/// A file exactly as its authors publish it for download (usually the `.gz`): its length and
/// SHA-256. A copy that is byte-identical to the published one is the published data; a copy
/// that was recompressed (Debian's Fashion-MNIST, for one) is not byte-identical and can only be
/// checked by what it decompresses to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The file's name on the mirrors, e.g. `train-images-idx3-ubyte.gz`.
    pub name: String,
    /// Length in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

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
    /// The compressed `<name>.gz` as published, where its hash is on record: a download must be
    /// exactly this file, and a local `.gz` that is exactly this file is verified by it.
    pub published: Option<Published>,
}

impl FileSpec {
    pub fn new(name: &str, size: u64, sha256: Option<&str>) -> FileSpec {
        FileSpec {
            name: name.to_string(),
            size,
            sha256: sha256.map(str::to_string),
            published: None,
        }
    }

    /// Records the size and SHA-256 of `<name>.gz` as published.
    pub fn published(mut self, size: u64, sha256: &str) -> FileSpec {
        self.published = Some(Published {
            name: format!("{}.gz", self.name),
            size,
            sha256: sha256.to_string(),
        });
        self
    }
}

/// A Keras-style dataset in four IDX files: training and test images with their labels.
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
    /// [rows, cols, channels] every image must have, when set (a file of the right size can
    /// still declare other dimensions, such as [60000, 1, 784]).
    pub item_shape: Option<[usize; 3]>,
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
