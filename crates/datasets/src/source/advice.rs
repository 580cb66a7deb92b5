//! The "not found" message: where the loader looked, what went wrong, and what to do.

use std::fmt::Write;
use std::path::Path;

use super::{DirState, Wanted, DATA_ENV};
use crate::error::DatasetError;

/// The search so far, line by line.
pub(super) struct Report<'a, W: Wanted> {
    wanted: &'a W,
    looked: Vec<String>,
}

impl<'a, W: Wanted> Report<'a, W> {
    pub(super) fn new(wanted: &'a W) -> Self {
        Report {
            wanted,
            looked: Vec::new(),
        }
    }

    pub(super) fn not_given(&mut self, place: &str) {
        self.looked.push(format!("{place}: not set"));
    }

    /// Records what `dir` holds; returns its files if it has them all.
    pub(super) fn check(
        &mut self,
        label: &str,
        dir: &Path,
        state: DirState<W::Files>,
    ) -> Option<W::Files> {
        let what = match state {
            DirState::Complete(paths) => return Some(paths),
            DirState::NoDirectory => "no such directory".to_string(),
            DirState::Missing(names) => format!("missing {}", names.join(", ")),
        };
        self.looked
            .push(format!("{label} {}: {what}", dir.display()));
        None
    }

    pub(super) fn explicit_dir_failed(self, dir: &Path) -> DatasetError {
        let what = format!(
            "the directory given with --data ({}) does not hold the {} files",
            dir.display(),
            self.wanted.title()
        );
        self.finish(&what, None)
    }

    pub(super) fn download_failed(self, cache: &Path, e: &DatasetError) -> DatasetError {
        let headline = format!("{} was not found", self.wanted.title());
        let download = format!("downloading into {} failed: {e}", cache.display());
        self.finish(&headline, Some(download))
    }

    pub(super) fn no_download(self, why: &str) -> DatasetError {
        let headline = format!("{} was not found", self.wanted.title());
        let download = format!("no download was tried: {why}");
        self.finish(&headline, Some(download))
    }

    fn finish(self, headline: &str, download: Option<String>) -> DatasetError {
        let wanted = self.wanted;
        let mut m = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(m, "{headline}.");
        let _ = writeln!(m, "Looked for {} in:", wanted.file_list());
        for line in &self.looked {
            let _ = writeln!(m, "  - {line}");
        }
        if let Some(download) = download {
            let _ = writeln!(m, "{download}");
        }
        let _ = writeln!(m, "To fix it, do one of:");
        if let Some(package) = wanted.apt_package() {
            let _ = writeln!(m, "  - install it: apt-get install {package}");
        }
        if let Some(step) = wanted.manual_step() {
            let _ = writeln!(m, "  - {step}");
        }
        let _ = writeln!(
            m,
            "  - set {DATA_ENV}=/path to a directory holding {} (or a {}/ subdirectory holding \
             them)",
            wanted.files_phrase(),
            wanted.dir_name()
        );
        let _ = write!(
            m,
            "  - pass --data DIR (LoadOptions::data_dir) naming such a directory"
        );
        DatasetError::NotFound {
            dataset: wanted.title().to_string(),
            message: m,
        }
    }
}
