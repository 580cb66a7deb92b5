//! Every picture, plot and CSV file reaches disk whole or not at all: written through
//! `convlab_nn::atomic::write_atomic` (a temporary file beside the target, fsync, rename, fsync
//! of the directory), the same path checkpoints take.

use std::path::Path;

use super::error::DrawError;

/// Replaces `path` with `bytes` atomically; on failure the previous file is untouched and the
/// error names `path` and the OS error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DrawError> {
    convlab_nn::atomic::write_atomic(path, |w| w.write_all(bytes)).map_err(|cause| {
        DrawError::Write {
            path: path.to_path_buf(),
            cause,
        }
    })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io;
    use std::path::PathBuf;
    use std::process;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    static COUNTER: AtomicU64 = AtomicU64::new(0);

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
