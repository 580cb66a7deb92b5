//! The one error type of this crate.
//!
//! Everything here reads files a person handed us (or a mirror served), so nothing panics on bad
//! input: each problem becomes a `DatasetError` that names the file and says what is wrong with it.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::download::DownloadAttempt;

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The bytes are not a well-formed IDX file.
    #[error("{file}: {problem}")]
    Idx { file: String, problem: IdxProblem },

    /// A well-formed IDX file of the wrong element type or rank for what it should hold.
    #[error("{file}: expected {expected}, found {found}")]
    Layout {
        file: String,
        expected: &'static str,
        found: String,
    },

    #[error("{file}: label {label} at index {index} is not a class (there are {classes} classes)")]
    LabelOutOfRange {
        file: String,
        index: usize,
        label: u8,
        classes: u8,
    },

    #[error("{images_file} holds {images} images but {labels_file} holds {labels} labels")]
    CountMismatch {
        images_file: String,
        images: usize,
        labels_file: String,
        labels: usize,
    },

    #[error("{train_file} holds {train_rows}x{train_cols} images but {test_file} holds {test_rows}x{test_cols} images: the training and test images must be the same size")]
    ImageSizeMismatch {
        train_file: String,
        train_rows: usize,
        train_cols: usize,
        test_file: String,
        test_rows: usize,
        test_cols: usize,
    },

    /// Images of another shape than the dataset's, e.g. [60000, 1, 784] where MNIST is
    /// [N, 28, 28].
    #[error(
        "{file}: the images are {} (rows x cols x channels), but {dataset} images are {}",
        shape_text(found),
        shape_text(expected)
    )]
    ItemShape {
        file: String,
        dataset: &'static str,
        expected: [usize; 3],
        found: [usize; 3],
    },

    /// Verification: the decompressed file has the wrong length.
    #[error(
        "{file}: verification failed: the decompressed file is {actual} bytes, expected {expected}"
    )]
    SizeMismatch {
        file: String,
        expected: u64,
        actual: u64,
    },

    /// Verification: the decompressed file has the wrong SHA-256.
    #[error(
        "{file}: verification failed: SHA-256 of the decompressed file is {actual}, expected \
         {expected}"
    )]
    HashMismatch {
        file: String,
        expected: String,
        actual: String,
    },

    /// Verification: a download (or a local copy) is not the file its authors published.
    #[error(
        "{file}: verification failed: it is not {published} as published ({}; expected \
         {expected_size} bytes with SHA-256 {expected_sha256})",
        describe_copy(*actual_size, actual_sha256.as_deref())
    )]
    NotAsPublished {
        file: String,
        /// The published file's name, e.g. `cifar-10-binary.tar.gz`.
        published: String,
        expected_size: u64,
        expected_sha256: String,
        actual_size: u64,
        /// `None` when the size already differed and the file was not hashed.
        actual_sha256: Option<String>,
    },

    /// The bytes are not a well-formed CIFAR-10 binary batch.
    #[error("{file}: {problem}")]
    Batch { file: String, problem: BatchProblem },

    /// A tar archive that is damaged, or holds something this reader refuses to unpack.
    #[error("{file}: {problem}")]
    Archive {
        file: String,
        problem: ArchiveProblem,
    },

    /// A dataset name no loader knows.
    #[error("unknown dataset {name:?}: the datasets are {known}")]
    UnknownDataset { name: String, known: String },

    /// No mirror gave a good copy of one file.
    #[error("could not download {file}:{}", list_attempts(attempts))]
    Download {
        file: String,
        attempts: Vec<DownloadAttempt>,
    },

    /// No place had the dataset and downloading did not help; the message is the full advice.
    #[error("{message}")]
    NotFound { dataset: String, message: String },

    /// An argument from the caller (a split fraction, a batch size, an index) is out of range.
    #[error("{what}: {problem}")]
    Argument { what: &'static str, problem: String },

    #[error(transparent)]
    Tensor(#[from] convlab_tensor::TensorError),
}

/// What is wrong with an IDX file's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdxProblem {
    #[error(
        "the file ends after {available} bytes, inside the {needed}-byte header \
         (magic, data type, dimensions)"
    )]
    ShortHeader { needed: usize, available: usize },

    #[error("bad magic: an IDX file starts with 00 00, this one with {0:02x} {1:02x}")]
    BadMagic(u8, u8),

    #[error(
        "unknown data type byte 0x{0:02x} (known: 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, \
         0x0d f32, 0x0e f64)"
    )]
    UnknownDataType(u8),

    #[error("the header declares zero dimensions")]
    NoDimensions,

    #[error("dimension {axis} of {dims:?} is zero")]
    ZeroDimension { axis: usize, dims: Vec<u64> },

    #[error("dimensions {dims:?} describe more than the {cap}-byte limit of this reader")]
    TooLarge { dims: Vec<u64>, cap: u64 },

    #[error(
        "the header declares {expected} payload bytes (dimensions {dims:?}) but the file holds \
         {actual}"
    )]
    Truncated {
        dims: Vec<u64>,
        expected: u64,
        actual: u64,
    },

    #[error(
        "the header declares {expected} payload bytes but a gzip file of {compressed} bytes \
         decompresses to at most {bound}"
    )]
    ImpossibleGzip {
        expected: u64,
        compressed: u64,
        bound: u64,
    },

    /// `more`: the reader stopped counting at `count`; there are at least that many.
    #[error(
        "{count}{} trailing bytes after the {payload}-byte payload",
        if *more { " or more" } else { "" }
    )]
    TrailingBytes {
        payload: u64,
        count: u64,
        more: bool,
    },

    #[error("corrupt or truncated gzip data: {0}")]
    Gzip(String),

    /// An array handed to the writer that cannot be an IDX file.
    #[error("cannot write: {0}")]
    Unwritable(String),
}

/// What is wrong with a CIFAR-10 binary batch: records of one label byte then the pixels.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BatchProblem {
    #[error(
        "the file ends after {actual} bytes, inside record {} of {records} (each record is \
         {record_len} bytes: a label byte and the pixels), so it holds {} bytes too few",
        actual / record_len,
        records * record_len - actual
    )]
    Truncated {
        records: u64,
        record_len: u64,
        actual: u64,
    },

    #[error(
        "the file holds {extra} bytes after its {records} records of {record_len} bytes \
         (it should end at byte {})",
        records * record_len
    )]
    TrailingBytes {
        records: u64,
        record_len: u64,
        extra: u64,
    },

    /// Only without verification, where any whole number of records is accepted.
    #[error(
        "the file is {actual} bytes, which is not a whole, non-zero number of {record_len}-byte \
         records (it ends {} bytes into record {})",
        actual % record_len,
        actual / record_len
    )]
    NotWholeRecords { record_len: u64, actual: u64 },

    #[error("the file is {actual} bytes, over the {cap}-byte limit of this reader")]
    TooLarge { actual: u64, cap: u64 },

    #[error(
        "record {record} (byte offset {offset}) has label {label}, but there are only \
         {classes} classes"
    )]
    LabelOutOfRange {
        record: u64,
        offset: u64,
        label: u8,
        classes: u8,
    },
}

/// What is wrong with a tar archive, or what in it is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArchiveProblem {
    #[error("corrupt or truncated gzip data: {0}")]
    Gzip(String),

    #[error("the tar stream ends at byte {offset}, inside {inside}")]
    Truncated { offset: u64, inside: &'static str },

    #[error("the header at byte {offset} of the tar stream has a wrong checksum (not a tar file, or a damaged one)")]
    BadChecksum { offset: u64 },

    #[error("the header at byte {offset} of the tar stream has an unreadable {field} field")]
    BadField { offset: u64, field: &'static str },

    #[error("entry {path:?} names a place outside the archive's directory (an absolute path or a `..`); nothing is unpacked from such an archive")]
    UnsafePath { path: String },

    #[error("entry {path:?} is a {kind}; the published archive holds none, and links are never unpacked")]
    Link { path: String, kind: &'static str },

    #[error("entry {path:?} is a {kind}, not a regular file")]
    NotAFile { path: String, kind: &'static str },

    #[error("entry {path:?} appears twice")]
    Duplicate { path: String },

    #[error("entry {path:?} is {actual} bytes, expected {expected}")]
    WrongSize {
        path: String,
        expected: u64,
        actual: u64,
    },

    #[error(
        "the archive holds more than the {cap} bytes a good one can (a damaged or hostile file)"
    )]
    TooLarge { cap: u64 },

    #[error("the archive lacks {}", names.join(", "))]
    Missing { names: Vec<String> },
}

/// `28x28x1`.
fn shape_text(shape: &[usize; 3]) -> String {
    let [h, w, c] = shape;
    format!("{h}x{w}x{c}")
}

/// "123 bytes" or "123 bytes with SHA-256 ab..": what a copy that is not the published file is.
fn describe_copy(size: u64, sha256: Option<&str>) -> String {
    match sha256 {
        Some(hash) => format!("{size} bytes with SHA-256 {hash}"),
        None => format!("{size} bytes"),
    }
}

fn list_attempts(attempts: &[DownloadAttempt]) -> String {
    if attempts.is_empty() {
        return " no mirror was configured".to_string();
    }
    attempts
        .iter()
        .map(|a| format!("\n  {}: {}", a.url, a.problem))
        .collect()
}

impl DatasetError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        DatasetError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn idx(file: &str, problem: IdxProblem) -> Self {
        DatasetError::Idx {
            file: file.to_string(),
            problem,
        }
    }

    pub(crate) fn batch(file: &str, problem: BatchProblem) -> Self {
        DatasetError::Batch {
            file: file.to_string(),
            problem,
        }
    }

    #[cfg_attr(not(feature = "download"), allow(dead_code))]
    pub(crate) fn archive(file: &str, problem: ArchiveProblem) -> Self {
        DatasetError::Archive {
            file: file.to_string(),
            problem,
        }
    }

    pub(crate) fn argument(what: &'static str, problem: impl Into<String>) -> Self {
        DatasetError::Argument {
            what,
            problem: problem.into(),
        }
    }
}
