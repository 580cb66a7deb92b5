//! Where a dataset's files come from.
//!
//! The loader looks, in this order, in
//! 1. the directory given explicitly (`LoadOptions::data_dir`, the CLI's `--data DIR`);
//! 2. `$CONVLAB_DATA`;
//! 3. the user cache, `$XDG_CACHE_HOME/convlab/<dataset>` or `~/.cache/convlab/<dataset>`;
//! 4. the system directory a package installs (Debian's `dataset-fashion-mnist`:
//!    `/usr/share/datasets/fashion-mnist`);
//!
//! and takes the first directory that holds all four files, each gzipped (`<name>.gz`) or plain
//! (`<name>`). In 1 and 2 the `<dataset>` subdirectory is tried before the directory itself, so
//! one `CONVLAB_DATA` can hold several datasets. If no place has them, the files are downloaded
//! into the user cache (see `download`). An explicit directory is a demand, not a hint: if it
//! lacks the files, loading fails there rather than quietly using data from elsewhere.

mod advice;
mod places;

pub use places::{env_data_dir, user_cache_root, DATA_ENV};

use std::path::{Path, PathBuf};

use crate::download::{fetch_missing, DownloadConfig};
use crate::error::DatasetError;
use crate::spec::DatasetSpec;

/// How to find (and whether to verify) a dataset's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Searched first, and alone when given: the CLI's `--data DIR`.
    pub data_dir: Option<PathBuf>,
    /// The value of `CONVLAB_DATA` (`standard()` reads it).
    pub env_dir: Option<PathBuf>,
    /// The cache root; the dataset lives in `<cache_root>/<dataset>`, and downloads go there.
    pub cache_root: Option<PathBuf>,
    /// Whether to look in the dataset's system directory.
    pub system_dir: bool,
    /// Check each decompressed file's size and SHA-256 (`--no-verify` turns it off for custom
    /// data; the structural checks on the IDX files and labels always run).
    pub verify: bool,
    /// How to download when no place has the files; `None` never downloads.
    pub download: Option<DownloadConfig>,
}

impl LoadOptions {
    /// The whole search: `CONVLAB_DATA`, the user cache, the system directory, then a download
    /// from the published mirrors (when built with the `download` feature), with verification.
    pub fn standard() -> LoadOptions {
        LoadOptions {
            data_dir: None,
            env_dir: env_data_dir(),
            cache_root: user_cache_root(),
            system_dir: true,
            verify: true,
            download: cfg!(feature = "download").then(DownloadConfig::default),
        }
    }

    /// Only `dir` (or its `<dataset>` subdirectory): no other place, no download.
    pub fn only_dir(dir: impl Into<PathBuf>) -> LoadOptions {
        LoadOptions {
            data_dir: Some(dir.into()),
            env_dir: None,
            cache_root: None,
            system_dir: false,
            verify: true,
            download: None,
        }
    }

    /// Sets the explicit directory (`--data DIR`); `None` leaves the search as it is.
    pub fn data_dir(mut self, dir: Option<PathBuf>) -> LoadOptions {
        self.data_dir = dir;
        self
    }

    pub fn verify(mut self, verify: bool) -> LoadOptions {
        self.verify = verify;
        self
    }
}

/// Which of the places the files came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    DataDir,
    Env,
    Cache,
    System,
    Downloaded,
}

/// The four files found, in `DatasetSpec::files` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub origin: Origin,
    pub paths: [PathBuf; 4],
}

/// `<dir>/<name>.gz` or else `<dir>/<name>`, whichever is a file. The gzipped one wins when both
/// are there: its CRC catches a copy cut short, which a plain file cannot show.
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(format!("{name}.gz")), dir.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

/// What a directory holds of a dataset.
enum DirState {
    Complete([PathBuf; 4]),
    NoDirectory,
    Missing(Vec<String>),
}

fn inspect(spec: &DatasetSpec, dir: &Path) -> DirState {
    if !dir.is_dir() {
        return DirState::NoDirectory;
    }
    let found = spec.files().map(|f| find_file(dir, &f.name));
    let missing: Vec<String> = spec
        .files()
        .iter()
        .zip(&found)
        .filter(|(_, path)| path.is_none())
        .map(|(f, _)| f.name.clone())
        .collect();
    match found {
        [Some(a), Some(b), Some(c), Some(d)] => DirState::Complete([a, b, c, d]),
        _ => DirState::Missing(missing),
    }
}

/// Finds the dataset's four files, downloading them if no place has them.
pub fn locate(spec: &DatasetSpec, options: &LoadOptions) -> Result<Located, DatasetError> {
    let mut report = advice::Report::new(spec);
    let with_subdir = |dir: &Path| [dir.join(spec.name), dir.to_path_buf()];

    if let Some(dir) = &options.data_dir {
        for candidate in with_subdir(dir) {
            if let Some(paths) = report.check("--data", &candidate, inspect(spec, &candidate)) {
                return Ok(Located {
                    origin: Origin::DataDir,
                    paths,
                });
            }
        }
        return Err(report.explicit_dir_failed(dir));
    }
    report.not_given("--data / LoadOptions::data_dir");

    let mut places: Vec<(Origin, &str, PathBuf)> = Vec::new();
    match &options.env_dir {
        Some(dir) => places.extend(with_subdir(dir).map(|d| (Origin::Env, DATA_ENV, d))),
        None => report.not_given(DATA_ENV),
    }
    let cache_dir = options.cache_root.as_ref().map(|root| root.join(spec.name));
    match &cache_dir {
        Some(dir) => places.push((Origin::Cache, "user cache", dir.clone())),
        None => report.not_given("user cache (neither XDG_CACHE_HOME nor HOME is set)"),
    }
    if let (true, Some(dir)) = (options.system_dir, &spec.system_dir) {
        places.push((Origin::System, "system", dir.clone()));
    }
    for (origin, label, dir) in places {
        if let Some(paths) = report.check(label, &dir, inspect(spec, &dir)) {
            return Ok(Located { origin, paths });
        }
    }

    match (&options.download, &cache_dir) {
        (Some(config), Some(dir)) => match fetch_missing(spec, dir, config) {
            Ok(paths) => Ok(Located {
                origin: Origin::Downloaded,
                paths,
            }),
            Err(e) => Err(report.download_failed(dir, &e)),
        },
        (Some(_), None) => Err(report.no_download("there is no cache directory to download into")),
        (None, _) => Err(report.no_download("downloading is off")),
    }
}
