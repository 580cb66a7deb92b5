//! Replacing a file so that a crash or a failed write never leaves half of it: a reader (or the
//! next run resuming from a checkpoint) sees the old file or the new one. Checkpoints, and the
//! command line's pictures and CSV files, are all written through `write_atomic`.
//!
//! The bytes go to a temporary file in the target's own directory (a rename is atomic only within
//! one file system), which is flushed to disk and then renamed over the target; the directory is
//! flushed last so that the rename itself survives a crash. On any error the temporary file is
//! removed; callers wrap the OS error with the target's name and what it was.
//!
//! A rename replaces whatever the name points at, so the target is checked first
//! (`check_target`): it must be absent or a regular file that is not read-only. `/dev/null`, a
//! FIFO, a directory or a symbolic link are refused instead of being replaced by a regular file,
//! and a file its owner made read-only is respected as `cp` respects it, even by root.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes temporary names unique between threads of one process; the pid separates processes.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with what `write` writes (through a buffer).
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path does not end in a file name",
        )
    })?;
    // `Path::parent` of a bare file name is "", which means the current directory.
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    check_target(path)?;
    let tmp = temp_path(dir, &name.to_string_lossy());
    let written = write_synced(&tmp, write).and_then(|()| fs::rename(&tmp, path));
    if let Err(error) = written {
        // Best effort: the temporary file does not exist if creating it was what failed.
        let _ = fs::remove_file(&tmp);
        return Err(error);
    }
    sync_dir(dir)
}

/// Whether `write_atomic` may replace `path`: it must not exist, or be a regular file with a
/// write permission bit set. The error says what the path is instead (callers add the path).
pub fn check_target(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let kind = meta.file_type();
    let refuse = |kind, what: &str| Err(io::Error::new(kind, what.to_string()));
    if kind.is_symlink() {
        return refuse(
            io::ErrorKind::InvalidInput,
            "it is a symbolic link, which convlab does not replace: give the path of the file itself",
        );
    }
    if kind.is_dir() {
        return refuse(io::ErrorKind::IsADirectory, "it is a directory");
    }
    if !kind.is_file() {
        return refuse(
            io::ErrorKind::InvalidInput,
            "it is not a regular file (a device, FIFO or socket), which convlab does not replace",
        );
    }
    if meta.permissions().readonly() {
        return refuse(
            io::ErrorKind::PermissionDenied,
            "the file is read-only: make it writable or choose another path",
        );
    }
    Ok(())
}

/// A hidden name beside the target, e.g. `.model.safetensors.tmp-4242-0`.
fn temp_path(dir: &Path, name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.tmp-{}-{n}", process::id()))
}

fn write_synced(
    tmp: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    // `create_new` refuses to follow or reuse anything already there.
    let file = OpenOptions::new().write(true).create_new(true).open(tmp)?;
    let mut buffered = BufWriter::with_capacity(1 << 16, file);
    write(&mut buffered)?;
    let file = buffered
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
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
    use crate::checkpoint::{decode, encode, write_checkpoint_to, CheckpointError};
    use crate::{Conv2D, Dense, Flatten, Sequential};

    /// A fresh directory under the system temp dir, removed by the test at its end.
    fn scratch_dir(tag: &str) -> PathBuf {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("convlab-ckpt-{tag}-{}-{n}", process::id()));
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

    /// Passes `budget` bytes through, then fails every write, as a full disk would.
    struct FailAfter<'a> {
        inner: &'a mut dyn Write,
        budget: usize,
    }

    impl Write for FailAfter<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::Error::other("injected failure"));
            }
            let n = buf.len().min(self.budget);
            self.budget -= n;
            self.inner.write(&buf[..n])
        }
        fn flush(&mut self) -> io::Result<()> {
            self.inner.flush()
        }
    }

    fn small_model(seed: u64) -> Sequential {
        let mut model = Sequential::new(&[4, 4, 1]).seed(seed);
        model.add(Conv2D::new(2, 3)).unwrap();
        model.add(Flatten::new()).unwrap();
        model.add(Dense::new(3)).unwrap();
        model
    }

    /// For every k short of the whole file, a write that fails after k bytes leaves the previous
    /// checkpoint intact and no temporary file behind.
    #[test]
    fn a_write_failing_after_any_byte_keeps_the_old_checkpoint() {
        let dir = scratch_dir("fail-after");
        let path = dir.join("model.safetensors");
        let old = encode(&small_model(1), None).unwrap();
        fs::write(&path, &old).unwrap();
        let new_model = small_model(2);
        let len = encode(&new_model, None).unwrap().len();
        for budget in 0..len {
            let result = write_atomic(&path, |w| {
                let mut failing = FailAfter { inner: w, budget };
                write_checkpoint_to(&mut failing, &new_model, None).map_err(|e| match e {
                    CheckpointError::Stream(source) => source,
                    other => panic!("unexpected error {other}"),
                })
            });
            let err = result.expect_err("the injected failure must surface");
            assert!(err.to_string().contains("injected failure"), "{err}");
            assert_eq!(fs::read(&path).unwrap(), old, "budget {budget}");
            assert_eq!(entries(&dir), ["model.safetensors"], "budget {budget}");
        }
        // With enough budget the same path succeeds and the new model is what loads.
        write_atomic(&path, |w| {
            let mut enough = FailAfter {
                inner: w,
                budget: len,
            };
            write_checkpoint_to(&mut enough, &new_model, None).map_err(io::Error::other)
        })
        .unwrap();
        let (loaded, _) = decode("model.safetensors", &fs::read(&path).unwrap()).unwrap();
        assert_eq!(loaded.weights(), new_model.weights());
        assert_eq!(entries(&dir), ["model.safetensors"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn target_that_is_a_directory_fails_and_cleans_up() {
        // rename cannot replace a non-empty directory with a file, so the temp file must go.
        let dir = scratch_dir("isdir");
        let target = dir.join("taken");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), b"x").unwrap();
        assert!(write_atomic(&target, |w| w.write_all(b"x")).is_err());
        assert_eq!(entries(&dir), ["taken"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn devices_links_and_read_only_files_are_refused_and_kept() {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let dir = scratch_dir("refused");
        // A character device: as root a rename would replace /dev/null with a regular file.
        let err = write_atomic(Path::new("/dev/null"), |w| w.write_all(b"x")).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());

        let file = dir.join("kept.csv");
        fs::write(&file, b"old").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o444)).unwrap();
        let err = write_atomic(&file, |w| w.write_all(b"new")).unwrap_err();
        assert!(err.to_string().contains("read-only"), "{err}");
        assert_eq!(fs::read(&file).unwrap(), b"old");

        let link = dir.join("link.csv");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let err = write_atomic(&link, |w| w.write_all(b"new")).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(entries(&dir), ["kept.csv", "link.csv"]);
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn path_without_file_name_is_an_error() {
        let err = write_atomic(Path::new("/"), |w| w.write_all(b"x")).unwrap_err();
        assert!(err.to_string().contains("file name"), "{err}");
    }
}
