//! The files a training run writes, where they go, and the lock that keeps a second run away.
//!
//! Every path comes from the command line: `--checkpoint`, or the backup's own location on
//! `--resume` (never a path stored inside a file, which a copied or crafted backup could point at
//! someone else's files). Before anything is loaded, each target is checked (`check_target`:
//! absent or a writable regular file) and the directory is probed with a temporary file, so a
//! run that cannot save fails in a second, not after an epoch, and touches no earlier output.
//! While it trains, the run holds an advisory lock (`.<stem>.lock`, `File::try_lock`, released by
//! the kernel if the process dies): a second run writing the same files (the same checkpoint, or
//! one with the same stem) is refused instead of interleaving its files with the first one's. The
//! lock's name starts with a dot that the checkpoint's stem does not have, so it can never be the
//! checkpoint or one of its files.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use convlab_nn::atomic::check_target;

use crate::commands::beside;

/// The checkpoint and the files named after it.
pub struct RunFiles {
    pub checkpoint: PathBuf,
    pub history: PathBuf,
    pub backup: PathBuf,
    pub curves: PathBuf,
    pub report: PathBuf,
}

impl RunFiles {
    pub fn new(checkpoint: PathBuf) -> Self {
        RunFiles {
            history: beside(&checkpoint, "history.csv"),
            backup: beside(&checkpoint, "backup.safetensors"),
            curves: beside(&checkpoint, "curves.svg"),
            report: beside(&checkpoint, "report.html"),
            checkpoint,
        }
    }

    /// Every file the run writes.
    pub fn all(&self) -> [&PathBuf; 5] {
        [
            &self.checkpoint,
            &self.history,
            &self.backup,
            &self.curves,
            &self.report,
        ]
    }

    /// The checkpoint a backup continues: `dir/run.backup.safetensors` -> `dir/run.safetensors`.
    pub fn checkpoint_of_backup(backup: &Path) -> Result<PathBuf> {
        let stem = backup
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".backup.safetensors"))
            .filter(|stem| !stem.is_empty());
        let Some(stem) = stem else {
            anyhow::bail!(
                "--resume {}: the name does not end in .backup.safetensors, so the checkpoint it \
                 continues is unknown; give --checkpoint FILE",
                backup.display()
            );
        };
        Ok(backup.with_file_name(format!("{stem}.safetensors")))
    }

    /// Fails now, naming the path, if any output could not be written: checks every target and
    /// probes the directory (or, if it does not exist yet, the nearest one that does, where it
    /// would be created). Creates nothing and touches no existing file.
    pub fn check_writable(&self) -> Result<()> {
        for path in self.all() {
            check_target(path)
                .with_context(|| format!("--checkpoint: cannot write {}", path.display()))?;
        }
        let mut dir = self.dir();
        while !dir.exists() {
            match dir.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => dir = parent.to_path_buf(),
                _ => dir = PathBuf::from("."),
            }
        }
        anyhow::ensure!(
            dir.is_dir(),
            "--checkpoint: cannot create a directory under {}: it is not a directory",
            dir.display()
        );
        let probe = dir.join(format!(".convlab-probe-{}", std::process::id()));
        let created = OpenOptions::new().write(true).create_new(true).open(&probe);
        match created {
            Ok(file) => {
                drop(file);
                let _ = fs::remove_file(&probe);
                Ok(())
            }
            Err(e) => Err(e).with_context(|| {
                format!(
                    "--checkpoint: cannot write beside {}",
                    self.checkpoint.display()
                )
            }),
        }
    }

    /// Creates the checkpoint's directory: once the run is about to write into it, not before.
    pub fn create_dir(&self) -> Result<()> {
        let dir = self.dir();
        fs::create_dir_all(&dir).with_context(|| {
            format!(
                "--checkpoint: cannot create the directory {}",
                dir.display()
            )
        })
    }

    fn dir(&self) -> PathBuf {
        match self.checkpoint.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// Held while a run writes its files; dropping it removes the lock file and releases the lock.
pub struct RunLock {
    path: PathBuf,
    _file: File,
}

impl RunLock {
    /// Takes the lock of `checkpoint`'s run, or says which run holds it.
    pub fn acquire(checkpoint: &Path) -> Result<RunLock> {
        let path = lock_path(checkpoint);
        check_target(&path).with_context(|| format!("cannot lock {}", path.display()))?;
        // The lock file is removed when a run ends, so the file locked here may have been
        // unlinked by that run in between; then take the new one (at most a few tries).
        for _ in 0..8 {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| format!("cannot create the lock file {}", path.display()))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => anyhow::bail!(
                    "another convlab train is writing {} (it holds {}); wait for it to finish \
                     or choose another --checkpoint",
                    checkpoint.display(),
                    path.display()
                ),
                Err(TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", path.display()))
                }
            }
            if same_file(&file, &path) {
                return Ok(RunLock { path, _file: file });
            }
        }
        anyhow::bail!("cannot lock {}: it keeps being replaced", path.display())
    }
}

/// `dir/.stem.lock` for `dir/stem.ext`.
fn lock_path(checkpoint: &Path) -> PathBuf {
    let stem = checkpoint
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    checkpoint.with_file_name(format!(".{stem}.lock"))
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked, so no other run can have locked this same file.
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether `path` still names the file that `file` has open.
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_continues_the_checkpoint_beside_it() {
        let got = RunFiles::checkpoint_of_backup(Path::new("/runs/a/m.backup.safetensors"));
        assert_eq!(got.unwrap(), Path::new("/runs/a/m.safetensors"));
        for bad in ["/runs/copy.safetensors", "/runs/.backup.safetensors", "/"] {
            let err = RunFiles::checkpoint_of_backup(Path::new(bad)).unwrap_err();
            assert!(err.to_string().contains("give --checkpoint"), "{err}");
        }
    }

    #[test]
    fn a_second_lock_on_the_same_checkpoint_is_refused_until_the_first_drops() {
        let dir = std::env::temp_dir().join(format!("convlab-lock-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let checkpoint = dir.join("m.safetensors");
        let first = RunLock::acquire(&checkpoint).unwrap();
        let err = RunLock::acquire(&checkpoint).err().unwrap().to_string();
        assert!(err.contains("another convlab train is writing"), "{err}");
        drop(first);
        assert!(!dir.join(".m.lock").exists());
        // A checkpoint named like a lock is not its own lock (it would be removed at the end).
        let odd = dir.join("m.lock");
        assert_ne!(lock_path(&odd), odd);
        assert_ne!(lock_path(&dir.join(".m.lock")), dir.join(".m.lock"));
        let again = RunLock::acquire(&checkpoint).unwrap();
        drop(again);
        fs::remove_dir_all(&dir).unwrap();
    }
}
