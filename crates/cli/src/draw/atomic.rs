//! Writing a file so that a reader sees either the old content or the new, never half of either.
//!
//! The bytes go to a temporary file in the target's own directory (a rename is atomic only within
//! one file system), which is flushed to disk and then renamed over the target; the directory is
//! flushed last so that the rename itself survives a crash. The nn crate has its own version for
//! checkpoints; this one is for pictures and CSV files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::draw::DrawError;

/// Makes temporary names unique between threads of one process; the pid separates processes.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `bytes` atomically. On error the temporary file is removed and the error
/// names `path` and the OS error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DrawError> {
    let error = |cause: io::Error| DrawError::Write {
        path: path.to_path_buf(),
        cause,
    };
    let name = path.file_name().ok_or_else(|| {
        error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path does not end in a file name",
        ))
    })?;
    // `Path::parent` of a bare file name is "", which is the current directory.
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let tmp = temp_path(dir, &name.to_string_lossy());
    let written = write_synced(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if let Err(source) = written {
        // Best effort: the temporary file may not exist if creating it was what failed.
        let _ = fs::remove_file(&tmp);
        return Err(error(source));
    }
    sync_dir(dir).map_err(error)
}

/// A hidden name beside the target, e.g. `.filters.png.tmp-4242-0`.
fn temp_path(dir: &Path, name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.tmp-{}-{n}", process::id()))
}

fn write_synced(tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    // `create_new` refuses to follow or reuse a file that is already there.
    let mut file = OpenOptions::new().write(true).create_new(true).open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows cannot open a directory as a file; its rename is durable without this step.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed by the test at its end.
    fn scratch_dir(tag: &str) -> PathBuf {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("convlab-draw-{tag}-{}-{n}", process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_existing_content_and_leaves_no_temp_file() {
        let dir = scratch_dir("replace");
        let path = dir.join("plot.svg");
        fs::write(&path, b"old content that is longer than the new").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        write_atomic(&path, b"newer").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"newer");
        assert_eq!(entries(&dir), ["plot.svg"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let dir = scratch_dir("missing");
        let path = dir.join("no-such-dir").join("filters.png");
        let err = write_atomic(&path, b"x").unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(matches!(err, DrawError::Write { ref cause, .. }
            if cause.kind() == io::ErrorKind::NotFound));
        assert!(entries(&dir).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn target_that_is_a_directory_fails_and_cleans_up() {
        // rename cannot replace a non-empty directory with a file, so the temp file must go.
        let dir = scratch_dir("isdir");
        let target = dir.join("taken");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), b"x").unwrap();
        assert!(write_atomic(&target, b"x").is_err());
        assert_eq!(entries(&dir), ["taken"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn path_without_file_name_is_an_error() {
        let err = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert!(err.to_string().contains("file name"), "{err}");
    }
}
