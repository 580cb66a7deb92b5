//! Downloading a dataset's files into the user cache, safely.
//!
//! Each IDX file is fetched from the dataset's mirrors in turn (`<mirror><name>.gz`) into a
//! temporary file beside its final name, verified (the SHA-256 of the `.gz` as published where
//! it is on record, then the decompressed size and, where known, SHA-256), and only then renamed
//! into place: the cache never holds a partial or unverified file under a real name. CIFAR-10 is
//! one archive, checked the same way and then unpacked with care (`archive`). A lock file
//! (`<cache>/.lock`, locked with `File::lock`, which the kernel releases if the process dies, so
//! a lock cannot go stale) keeps two processes from writing the same files at once.
//!
//! - `http`: one GET with timeouts and a size cap; `part`: the lock and the temporary files;
//! - `cache`: the IDX files; `archive`: CIFAR-10's `.tar.gz`.
//!
//! The HTTP part is behind the `download` cargo feature (on by default). `DownloadConfig` exists
//! either way, so options that mention it compile without the feature.

#[cfg(feature = "download")]
mod archive;
#[cfg(feature = "download")]
mod cache;
#[cfg(feature = "download")]
mod http;
#[cfg(feature = "download")]
mod part;

use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use crate::cifar10::CifarSpec;
use crate::error::DatasetError;
use crate::spec::DatasetSpec;

/// How to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadConfig {
    /// Base URLs to try in order, each followed by `<name>.gz` (CIFAR-10: its archive's name);
    /// `None` uses the dataset's published mirrors (tests point this at a local server).
    pub mirrors: Option<Vec<String>>,
    /// Longest wait to connect, for the response headers, and for each read of the body: a
    /// server that stalls this long is given up on.
    pub timeout: Duration,
    /// Largest response accepted, in bytes (the largest real file is CIFAR-10's 170 MB archive).
    pub max_bytes: u64,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        DownloadConfig {
            mirrors: None,
            timeout: Duration::from_secs(30),
            max_bytes: 256 << 20,
        }
    }
}

/// One mirror that did not give a good file, and why.
#[derive(Debug)]
pub struct DownloadAttempt {
    pub url: String,
    pub problem: DownloadProblem,
}

/// Why a mirror's response was not used.
#[derive(Debug, Error)]
pub enum DownloadProblem {
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("timed out ({0})")]
    Timeout(String),
    #[error("the response ended after {received} of the {expected} bytes it announced")]
    Truncated { received: u64, expected: u64 },
    #[error("the response is larger than the {cap}-byte limit")]
    TooLarge { cap: u64 },
    #[error("{0}")]
    Transport(String),
    /// The bytes arrived but are not the expected file.
    #[error("rejected: {0}")]
    Rejected(Box<DatasetError>),
}

/// Makes sure `cache_dir` holds all four files of `spec`, downloading those it lacks; returns
/// their paths in `DatasetSpec::files` order.
pub fn fetch_missing(
    spec: &DatasetSpec,
    cache_dir: &Path,
    config: &DownloadConfig,
) -> Result<[PathBuf; 4], DatasetError> {
    #[cfg(feature = "download")]
    {
        cache::fetch_missing(spec, cache_dir, config)
    }
    #[cfg(not(feature = "download"))]
    {
        let _ = (spec, cache_dir, config);
        Err(DatasetError::argument(
            "download",
            "this build of convlab-datasets has no `download` feature",
        ))
    }
}

/// Makes sure `cache_dir` holds the batches of `spec`, downloading and unpacking its archive if
/// any is missing.
pub fn fetch_archive(
    spec: &CifarSpec,
    cache_dir: &Path,
    config: &DownloadConfig,
) -> Result<(), DatasetError> {
    #[cfg(feature = "download")]
    {
        archive::fetch_archive(spec, cache_dir, config)
    }
    #[cfg(not(feature = "download"))]
    {
        let _ = (spec, cache_dir, config);
        Err(DatasetError::argument(
            "download",
            "this build of convlab-datasets has no `download` feature",
        ))
    }
}

/// `<mirror><file>`, with exactly one slash between them.
pub fn join_url(mirror: &str, file: &str) -> String {
    format!("{}/{file}", mirror.trim_end_matches('/'))
}
