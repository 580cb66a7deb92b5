//! CIFAR-10 (Krizhevsky, 2009; <https://www.cs.toronto.edu/~kriz/cifar.html>): 60,000 32x32
//! colour images in 10 classes, 50,000 to train (five batches of 10,000) and 10,000 to test, from
//! the dataset's binary version.
//!
//! ```no_run
//! let ((x_train, y_train), (x_test, y_test)) = convlab_datasets::cifar10::load_data()?;
//! assert_eq!(x_train.shape(), [50_000, 32, 32, 3]); // NHWC, as Keras's cifar10.load_data()
//! # let _ = (y_train, x_test, y_test);
//! # Ok::<(), convlab_datasets::DatasetError>(())
//! ```
//!
//! The files are `data_batch_1.bin` .. `data_batch_5.bin` and `test_batch.bin` (see `batch` for
//! their format), found by the same search as the IDX sets (`source`): in a directory that holds
//! them or holds the `cifar-10-batches-bin/` directory the archive unpacks to. No system package
//! installs them. A download fetches `cifar-10-binary.tar.gz`, checks its SHA-256, and unpacks
//! the six batches alone into the cache (`download::archive`).
//!
//! Verification: only the archive's SHA-256 is on record, not the batches', so a local copy of
//! the batches is checked by structure: each exactly 30,730,000 bytes (10,000 records of 3,073),
//! every label below 10. `--no-verify` accepts any whole number of records per file.

pub mod batch;

use std::path::{Path, PathBuf};

use crate::download::DownloadConfig;
use crate::error::DatasetError;
use crate::load::LoadedData;
use crate::source::{search, DirState, LoadOptions, Located, Wanted};
use crate::spec::Published;

pub use batch::BatchLayout;

/// The class of each label value, as `batches.meta.txt` lists them.
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// A dataset in CIFAR-10's binary format: which batch files, their layout, where the archive is
/// published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarSpec {
    /// Directory name under the cache and under `CONVLAB_DATA`.
    pub name: &'static str,
    pub title: &'static str,
    pub train_files: Vec<String>,
    pub test_files: Vec<String>,
    pub layout: BatchLayout,
    /// The archive as published: name, size, SHA-256.
    pub archive: Published,
    /// The directory the archive's batches sit in, and a directory of batches may be in.
    pub archive_dir: &'static str,
    /// Base URLs the archive is published under (`<mirror><archive name>`), tried in order.
    pub mirrors: Vec<String>,
}

/// The batch files found: the training ones in order, then the test ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFiles {
    pub train: Vec<PathBuf>,
    pub test: Vec<PathBuf>,
}

impl CifarSpec {
    /// Every batch file's name, training ones first.
    pub fn files(&self) -> impl Iterator<Item = &String> {
        self.train_files.iter().chain(&self.test_files)
    }
}

/// The real CIFAR-10.
pub fn spec() -> CifarSpec {
    CifarSpec {
        name: "cifar10",
        title: "CIFAR-10",
        train_files: (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        test_files: vec!["test_batch.bin".to_string()],
        layout: BatchLayout::CIFAR10,
        // Size and SHA-256 as TensorFlow Datasets records them
        // (tensorflow/datasets, tensorflow_datasets/url_checksums/cifar10.txt:
        // "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz 170052171 c4a38c50...").
        // The same hash is in torchvision-ruby's CIFAR10 and Julia's MLDatasets. Not checked
        // against the archive here: no copy of it could be had on the machine this was written on.
        archive: Published {
            name: "cifar-10-binary.tar.gz".to_string(),
            size: 170_052_171,
            sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd".to_string(),
        },
        archive_dir: "cifar-10-batches-bin",
        mirrors: vec!["https://www.cs.toronto.edu/~kriz/".to_string()],
    }
}

/// Loads CIFAR-10 from the standard places (see `source`), downloading it if needed.
pub fn load_data() -> Result<LoadedData, DatasetError> {
    load_data_from(&LoadOptions::standard())
}

/// Loads CIFAR-10 as `options` say.
pub fn load_data_from(options: &LoadOptions) -> Result<LoadedData, DatasetError> {
    load(&spec(), options)
}

/// Finds, reads and checks a dataset in CIFAR-10's binary format: images [N, H, W, C] u8 and
/// labels, training then test.
pub fn load(spec: &CifarSpec, options: &LoadOptions) -> Result<LoadedData, DatasetError> {
    let located = locate(spec, options)?;
    let files = &located.paths;
    let (layout, exact) = (&spec.layout, options.verify);
    // The training batches are five sixths of the work; read them on a second thread.
    std::thread::scope(|s| {
        let train = s.spawn(|| batch::read_batches(&files.train, layout, exact));
        let test = batch::read_batches(&files.test, layout, exact);
        let train = train
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok((train, test?))
    })
}

/// Finds the batch files, downloading the archive if no place has them.
pub fn locate(
    spec: &CifarSpec,
    options: &LoadOptions,
) -> Result<Located<BatchFiles>, DatasetError> {
    search(spec, options)
}

/// The batches in `dir` itself, if it has them all; else the names it lacks.
fn batches_in(spec: &CifarSpec, dir: &Path) -> Result<BatchFiles, Vec<String>> {
    let path = |name: &String| Some(dir.join(name)).filter(|p| p.is_file());
    let missing: Vec<String> = spec
        .files()
        .filter(|name| path(name).is_none())
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    Ok(BatchFiles {
        train: spec.train_files.iter().map(|n| dir.join(n)).collect(),
        test: spec.test_files.iter().map(|n| dir.join(n)).collect(),
    })
}

impl Wanted for CifarSpec {
    type Files = BatchFiles;

    fn dir_name(&self) -> &'static str {
        self.name
    }

    fn title(&self) -> &'static str {
        self.title
    }

    fn system_dir(&self) -> Option<&Path> {
        None
    }

    fn apt_package(&self) -> Option<&'static str> {
        None
    }

    fn file_list(&self) -> String {
        let names: Vec<&str> = self.files().map(String::as_str).collect();
        format!(
            "{} (directly or in {}/)",
            names.join(", "),
            self.archive_dir
        )
    }

    fn files_phrase(&self) -> &'static str {
        "the six .bin batches"
    }

    fn manual_step(&self) -> Option<String> {
        let url = self.mirrors.first().map(String::as_str).unwrap_or_default();
        Some(format!(
            "download {url}{0} yourself and unpack it (tar xzf {0}) into such a directory",
            self.archive.name
        ))
    }

    /// The batches directly in `dir`, else in `dir/<archive_dir>`.
    fn inspect(&self, dir: &Path) -> DirState<BatchFiles> {
        if !dir.is_dir() {
            return DirState::NoDirectory;
        }
        let missing = match batches_in(self, dir) {
            Ok(files) => return DirState::Complete(files),
            Err(missing) => missing,
        };
        match batches_in(self, &dir.join(self.archive_dir)) {
            Ok(files) => DirState::Complete(files),
            Err(_) => DirState::Missing(missing),
        }
    }

    fn fetch(&self, cache_dir: &Path, config: &DownloadConfig) -> Result<BatchFiles, DatasetError> {
        crate::download::fetch_archive(self, cache_dir, config)?;
        batches_in(self, cache_dir).map_err(|missing| {
            DatasetError::argument(
                "cifar10::fetch",
                format!(
                    "after unpacking, {} lacks {}",
                    cache_dir.display(),
                    missing.join(", ")
                ),
            )
        })
    }
}
