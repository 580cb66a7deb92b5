//! The "not found" message: where the loader looked, what went wrong, and what to do.

use std::fmt::Write;
use std::path::Path;

use super::{DirState, DATA_ENV};
use crate::error::DatasetError;
use crate::spec::DatasetSpec;

/// The search so far, line by line.
pub(super) struct Report<'a> {
    spec: &'a DatasetSpec,
    looked: Vec<String>,
}

impl<'a> Report<'a> {
    pub(super) fn new(spec: &'a DatasetSpec) -> Self {
        Report {
            spec,
            looked: Vec::new(),
        }
    }

    pub(super) fn not_given(&mut self, place: &str) {
        self.looked.push(format!("{place}: not set"));
    }

    /// Records what `dir` holds; returns its files if it has all four.
    pub(super) fn check(
        &mut self,
        label: &str,
        dir: &Path,
        state: DirState,
    ) -> Option<[std::path::PathBuf; 4]> {
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
            self.spec.title
        );
        self.finish(&what, None)
    }

    pub(super) fn download_failed(self, cache: &Path, e: &DatasetError) -> DatasetError {
        let headline = format!("{} was not found", self.spec.title);
        let download = format!("downloading into {} failed: {e}", cache.display());
        self.finish(&headline, Some(download))
    }

    pub(super) fn no_download(self, why: &str) -> DatasetError {
        let headline = format!("{} was not found", self.spec.title);
        let download = format!("no download was tried: {why}");
        self.finish(&headline, Some(download))
    }

    fn finish(self, headline: &str, download: Option<String>) -> DatasetError {
        let spec = self.spec;
        let names: Vec<&str> = spec.files().iter().map(|f| f.name.as_str()).collect();
        let mut m = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(m, "{headline}.");
        let _ = writeln!(m, "Looked for {} (each plain or .gz) in:", names.join(", "));
        for line in &self.looked {
            let _ = writeln!(m, "  - {line}");
        }
        if let Some(download) = download {
            let _ = writeln!(m, "{download}");
        }
        let _ = writeln!(m, "To fix it, do one of:");
        if let Some(package) = spec.apt_package {
            let _ = writeln!(m, "  - install it: apt-get install {package}");
        }
        let _ = writeln!(
            m,
            "  - set {DATA_ENV}=/path to a directory holding the four files (or a {}/ \
             subdirectory holding them)",
            spec.name
        );
        let _ = write!(
            m,
            "  - pass --data DIR (LoadOptions::data_dir) naming such a directory"
        );
        DatasetError::NotFound {
            dataset: spec.title.to_string(),
            message: m,
        }
    }
}
