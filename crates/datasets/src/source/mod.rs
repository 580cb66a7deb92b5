//! Where a dataset's files come from.
//!
//! The loader looks, in this order, in
//! 1. the directory given explicitly (`LoadOptions::data_dir`, the CLI's `--data DIR`);
//! 2. `$CONVLAB_DATA`;
//! 3. the user cache, `$XDG_CACHE_HOME/convlab/<dataset>` or `~/.cache/convlab/<dataset>`;
//! 4. the system directory a package installs, where one exists (Debian's
//!    `dataset-fashion-mnist`: `/usr/share/datasets/fashion-mnist`; no other dataset has one);
//!
//! and takes the first directory that holds all the dataset's files: for the IDX sets the four
//! files, each gzipped (`<name>.gz`) or plain (`<name>`); for CIFAR-10 the six `.bin` batches,
//! directly or in the `cifar-10-batches-bin/` directory its archive unpacks to. In 1 and 2 the
//! `<dataset>` subdirectory is tried before the directory itself, so one `CONVLAB_DATA` can hold
//! several datasets. If no place has them, the files are downloaded into the user cache (see
//! `download`). An explicit directory is a demand, not a hint: if it lacks the files, loading
//! fails there rather than quietly using data from elsewhere.
//!
//! One search serves every dataset: what differs (which files a directory must hold, how to
//! fetch them) is the `Wanted` trait, implemented by `DatasetSpec` here and `CifarSpec` in
//! `cifar10`.

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
    /// Check each file's size and hash (`--no-verify` turns it off for custom data; the
    /// structural checks on the files and labels always run).
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

/// The files found: for the IDX sets four paths in `DatasetSpec::files` order, for CIFAR-10 six.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<F = [PathBuf; 4]> {
    pub origin: Origin,
    pub paths: F,
}

/// `<dir>/<name>.gz` or else `<dir>/<name>`, whichever is a file. The gzipped one wins when both
/// are there: its CRC catches a copy cut short, which a plain file cannot show.
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(format!("{name}.gz")), dir.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

/// What a directory holds of a dataset.
pub(crate) enum DirState<F> {
    Complete(F),
    NoDirectory,
    /// The names of the files it lacks.
    Missing(Vec<String>),
}

/// What the search needs to know of a dataset, whatever its files are.
pub(crate) trait Wanted {
    /// What a directory that holds the dataset yields: its files' paths.
    type Files;
    /// The directory name under the cache and `CONVLAB_DATA`, e.g. `cifar10`.
    fn dir_name(&self) -> &'static str;
    /// For messages, e.g. `CIFAR-10`.
    fn title(&self) -> &'static str;
    fn system_dir(&self) -> Option<&Path>;
    fn apt_package(&self) -> Option<&'static str>;
    /// The files, for "Looked for ...", e.g. `train-images-idx3-ubyte, ... (each plain or .gz)`.
    fn file_list(&self) -> String;
    /// "the four files", for the advice.
    fn files_phrase(&self) -> &'static str;
    /// One more way to fix a missing dataset, if there is one.
    fn manual_step(&self) -> Option<String>;
    fn inspect(&self, dir: &Path) -> DirState<Self::Files>;
    /// Downloads what `cache_dir` lacks (under the cache's lock).
    fn fetch(&self, cache_dir: &Path, config: &DownloadConfig)
        -> Result<Self::Files, DatasetError>;
}

impl Wanted for DatasetSpec {
    type Files = [PathBuf; 4];

    fn dir_name(&self) -> &'static str {
        self.name
    }

    fn title(&self) -> &'static str {
        self.title
    }

    fn system_dir(&self) -> Option<&Path> {
        self.system_dir.as_deref()
    }

    fn apt_package(&self) -> Option<&'static str> {
        self.apt_package
    }

    fn file_list(&self) -> String {
        let names: Vec<&str> = self.files().iter().map(|f| f.name.as_str()).collect();
        format!("{} (each plain or .gz)", names.join(", "))
    }

    fn files_phrase(&self) -> &'static str {
        "the four files"
    }

    fn manual_step(&self) -> Option<String> {
        None
    }

    fn inspect(&self, dir: &Path) -> DirState<[PathBuf; 4]> {
        if !dir.is_dir() {
            return DirState::NoDirectory;
        }
        let found = self.files().map(|f| find_file(dir, &f.name));
        let missing: Vec<String> = self
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

    fn fetch(
        &self,
        cache_dir: &Path,
        config: &DownloadConfig,
    ) -> Result<[PathBuf; 4], DatasetError> {
        fetch_missing(self, cache_dir, config)
    }
}

/// Finds an IDX dataset's four files, downloading them if no place has them.
pub fn locate(spec: &DatasetSpec, options: &LoadOptions) -> Result<Located, DatasetError> {
    search(spec, options)
}

/// The search itself, the same for every dataset.
pub(crate) fn search<W: Wanted>(
    wanted: &W,
    options: &LoadOptions,
) -> Result<Located<W::Files>, DatasetError> {
    let mut report = advice::Report::new(wanted);
    let with_subdir = |dir: &Path| [dir.join(wanted.dir_name()), dir.to_path_buf()];

    if let Some(dir) = &options.data_dir {
        for candidate in with_subdir(dir) {
            let state = wanted.inspect(&candidate);
            if let Some(paths) = report.check("--data", &candidate, state) {
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
    let cache_dir = options
        .cache_root
        .as_ref()
        .map(|root| root.join(wanted.dir_name()));
    match &cache_dir {
        Some(dir) => places.push((Origin::Cache, "user cache", dir.clone())),
        None => report.not_given("user cache (neither XDG_CACHE_HOME nor HOME is set)"),
    }
    if let (true, Some(dir)) = (options.system_dir, wanted.system_dir()) {
        places.push((Origin::System, "system", dir.to_path_buf()));
    }
    for (origin, label, dir) in places {
        if let Some(paths) = report.check(label, &dir, wanted.inspect(&dir)) {
            return Ok(Located { origin, paths });
        }
    }

    match (&options.download, &cache_dir) {
        (Some(config), Some(dir)) => match wanted.fetch(dir, config) {
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
