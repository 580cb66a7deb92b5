//! Writing an IDX dataset's downloads into the cache: lock, temporary file, verify, rename.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::http::{get_into, GetError};
use super::part::{lock_cache_dir, PartFile};
use super::{join_url, DownloadAttempt, DownloadConfig, DownloadProblem};
use crate::error::DatasetError;
use crate::idx::read_idx_named;
use crate::source::find_file;
use crate::spec::{DatasetSpec, FileSpec};
use crate::verify::{require_published, verify};

pub(super) fn fetch_missing(
    spec: &DatasetSpec,
    cache_dir: &Path,
    config: &DownloadConfig,
) -> Result<[PathBuf; 4], DatasetError> {
    let lock = lock_cache_dir(cache_dir)?;
    let mirrors = config.mirrors.as_ref().unwrap_or(&spec.mirrors);
    // Another process may have fetched a file while we waited for the lock.
    let get = |file: &FileSpec| match find_file(cache_dir, &file.name) {
        Some(path) => Ok(path),
        None => fetch_one(file, cache_dir, mirrors, config),
    };
    let [train_x, train_y, test_x, test_y] = spec.files();
    let paths = [get(train_x)?, get(train_y)?, get(test_x)?, get(test_y)?];
    drop(lock);
    Ok(paths)
}

/// Tries each mirror until one gives a verified file; returns its final path.
fn fetch_one(
    file: &FileSpec,
    dir: &Path,
    mirrors: &[String],
    config: &DownloadConfig,
) -> Result<PathBuf, DatasetError> {
    let mut attempts = Vec::new();
    for mirror in mirrors {
        let url = join_url(mirror, &format!("{}.gz", file.name));
        match try_mirror(&url, file, dir, config)? {
            Ok(path) => return Ok(path),
            Err(problem) => attempts.push(DownloadAttempt { url, problem }),
        }
    }
    Err(DatasetError::Download {
        file: file.name.clone(),
        attempts,
    })
}

/// The outer error is local and stops everything (the cache cannot be written); the inner one
/// is the mirror's, and the next mirror is tried.
fn try_mirror(
    url: &str,
    file: &FileSpec,
    dir: &Path,
    config: &DownloadConfig,
) -> Result<Result<PathBuf, DownloadProblem>, DatasetError> {
    let part = PartFile::create(dir.join(format!(".{}.gz.part", file.name)))?;
    let local = |e| DatasetError::io(&part.path, e);
    let mut out = BufWriter::new(part.file.try_clone().map_err(local)?);
    match get_into(url, config, &mut out) {
        Ok(_) => {}
        Err(GetError::Remote(problem)) => return Ok(Err(problem)),
        Err(GetError::Local(e)) => return Err(local(e)),
    }
    out.into_inner()
        .map_err(|e| local(e.into_error()))?
        .sync_all()
        .map_err(local)?;

    // The bytes must be the published .gz where its hash is on record, and in any case
    // decompress to the right IDX file.
    let name = "the downloaded file";
    let published = match &file.published {
        Some(published) => require_published(name, &part.path, published),
        None => Ok(()),
    };
    let checked = published
        .and_then(|()| read_idx_named(&part.path, name))
        .and_then(|array| verify(name, file, &array));
    if let Err(e) = checked {
        return Ok(Err(DownloadProblem::Rejected(Box::new(e))));
    }
    // Keep the bytes as they came (usually gzip) under the name their content deserves.
    let gzipped = is_gzip_file(&part.path).map_err(local)?;
    let name = if gzipped {
        format!("{}.gz", file.name)
    } else {
        file.name.clone()
    };
    let final_path = dir.join(name);
    part.persist(&final_path)?;
    Ok(Ok(final_path))
}

fn is_gzip_file(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut magic = [0u8; 2];
    let n = File::open(path)?.read(&mut magic)?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}
