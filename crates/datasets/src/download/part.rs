//! The two things every download into the cache needs: the cache directory's lock, and
//! temporary files that become real files only by an atomic rename.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::DatasetError;

/// Creates `cache_dir` and locks `<cache_dir>/.lock`; the lock is held until the returned file
/// is dropped, or the process dies (the kernel releases it, so a lock cannot go stale).
pub(super) fn lock_cache_dir(cache_dir: &Path) -> Result<File, DatasetError> {
    fs::create_dir_all(cache_dir).map_err(|e| DatasetError::io(cache_dir, e))?;
    let lock_path = cache_dir.join(".lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| DatasetError::io(&lock_path, e))?;
    lock.lock().map_err(|e| DatasetError::io(&lock_path, e))?;
    Ok(lock)
}

/// A temporary file that deletes itself unless renamed into place.
pub(super) struct PartFile {
    pub(super) path: PathBuf,
    pub(super) file: File,
    persisted: bool,
}

impl PartFile {
    pub(super) fn create(path: PathBuf) -> Result<PartFile, DatasetError> {
        // Truncates a leftover from a process that died mid-download: we hold the lock, so no
        // one else is writing it.
        let file = File::create(&path).map_err(|e| DatasetError::io(&path, e))?;
        Ok(PartFile {
            path,
            file,
            persisted: false,
        })
    }

    /// Renames the verified file to its final name (atomic within one directory).
    pub(super) fn persist(mut self, final_path: &Path) -> Result<(), DatasetError> {
        fs::rename(&self.path, final_path).map_err(|e| DatasetError::io(final_path, e))?;
        self.persisted = true;
        // Make the rename itself durable; a failure here loses nothing already verified.
        if let Some(dir) = final_path.parent() {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}
