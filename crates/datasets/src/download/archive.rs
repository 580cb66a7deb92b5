//! CIFAR-10's download: one `.tar.gz`, checked against its published SHA-256, then the six
//! batches alone unpacked into the cache.
//!
//! The hash is checked before a byte is unpacked, so the published archive is the only one that
//! reaches the tar reader from the real mirrors. The rules below hold for any archive all the
//! same (a test mirror, a future spec): only the six names `<archive_dir>/<batch>` are written,
//! each to a temporary file of the cache directory under a name this code chooses, never one
//! the archive chooses; an entry whose path is absolute or climbs out with `..`, and any link,
//! device or FIFO, makes the whole archive refused; a batch entry must be a regular file of the
//! exact batch size, and each unpacked batch is read back (length, every label) before the six
//! are renamed into place. The decompressed stream is capped at the six batches plus 16 MiB, so
//! a gzip bomb costs a bounded read. Nothing else in the archive (`batches.meta.txt`,
//! `readme.html`) is written anywhere.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::http::{get_into, GetError};
use super::part::{lock_cache_dir, PartFile};
use super::{join_url, DownloadAttempt, DownloadConfig, DownloadProblem};
use crate::cifar10::batch::check_batch;
use crate::cifar10::CifarSpec;
use crate::error::{ArchiveProblem, DatasetError};
use crate::tar::{safe_path, CopyError, Kind, TarReader};
use crate::verify::require_published;

/// Room in the tar stream beyond the batches themselves: headers, padding, the small files.
const ARCHIVE_SLACK: u64 = 16 << 20;

/// Makes sure `cache_dir` holds the six batches, downloading and unpacking the archive if it
/// lacks any.
pub(super) fn fetch_archive(
    spec: &CifarSpec,
    cache_dir: &Path,
    config: &DownloadConfig,
) -> Result<(), DatasetError> {
    let lock = lock_cache_dir(cache_dir)?;
    // Another process may have unpacked them while we waited for the lock.
    if spec.files().all(|name| cache_dir.join(name).is_file()) {
        return Ok(());
    }
    let mirrors = config.mirrors.as_ref().unwrap_or(&spec.mirrors);
    let mut attempts = Vec::new();
    for mirror in mirrors {
        let url = join_url(mirror, &spec.archive.name);
        match try_mirror(&url, spec, cache_dir, config)? {
            Ok(()) => {
                drop(lock);
                return Ok(());
            }
            Err(problem) => attempts.push(DownloadAttempt { url, problem }),
        }
    }
    Err(DatasetError::Download {
        file: spec.archive.name.clone(),
        attempts,
    })
}

/// The outer error is local (the cache cannot be written) and stops everything; the inner one
/// is the mirror's, and the next mirror is tried.
fn try_mirror(
    url: &str,
    spec: &CifarSpec,
    dir: &Path,
    config: &DownloadConfig,
) -> Result<Result<(), DownloadProblem>, DatasetError> {
    let part = PartFile::create(dir.join(format!(".{}.part", spec.archive.name)))?;
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
    let rejected = |e| Ok(Err(DownloadProblem::Rejected(Box::new(e))));
    if let Err(e) = require_published("the downloaded file", &part.path, &spec.archive) {
        return rejected(e);
    }
    let batches = match unpack(&part.path, spec, dir)? {
        Ok(batches) => batches,
        Err(e) => return rejected(e),
    };
    for (batch, final_path) in batches {
        batch.persist(&final_path)?;
    }
    // `part`, the archive, is deleted here: the cache keeps the batches only.
    Ok(Ok(()))
}

/// The six batches unpacked into temporary files of `dir` and checked, with their final paths.
/// Outer error: local; inner: the archive's.
fn unpack(
    archive: &Path,
    spec: &CifarSpec,
    dir: &Path,
) -> Result<Result<Vec<(PartFile, PathBuf)>, DatasetError>, DatasetError> {
    let archive_name = &spec.archive.name;
    let refuse = |problem| Ok(Err(DatasetError::archive(archive_name, problem)));
    let file = File::open(archive).map_err(|e| DatasetError::io(archive, e))?;
    let batch_len = spec.layout.file_len();
    let wanted: Vec<(String, &String)> = spec
        .files()
        .map(|name| (format!("{}/{name}", spec.archive_dir), name))
        .collect();
    let limit = batch_len * wanted.len() as u64 + ARCHIVE_SLACK;
    let gunzip = MultiGzDecoder::new(BufReader::with_capacity(1 << 18, file));
    let mut tar = TarReader::new(gunzip, limit);

    let mut taken: Vec<Option<(PartFile, PathBuf)>> = wanted.iter().map(|_| None).collect();
    loop {
        let entry = match tar.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(problem) => return refuse(problem),
        };
        let Some(path) = safe_path(&entry.path) else {
            return refuse(ArchiveProblem::UnsafePath { path: entry.path });
        };
        let kind = entry.kind.describe();
        match entry.kind {
            Kind::Symlink | Kind::HardLink => {
                return refuse(ArchiveProblem::Link { path, kind });
            }
            Kind::Other(b'3' | b'4' | b'6') => {
                return refuse(ArchiveProblem::NotAFile { path, kind });
            }
            _ => {}
        }
        // Anything but a batch is passed over: read, never written.
        let Some(index) = wanted.iter().position(|(p, _)| *p == path) else {
            continue;
        };
        if entry.kind != Kind::File {
            return refuse(ArchiveProblem::NotAFile { path, kind });
        }
        if taken[index].is_some() {
            return refuse(ArchiveProblem::Duplicate { path });
        }
        if entry.size != batch_len {
            return refuse(ArchiveProblem::WrongSize {
                path,
                expected: batch_len,
                actual: entry.size,
            });
        }
        let name = wanted[index].1;
        let part = PartFile::create(dir.join(format!(".{name}.part")))?;
        let local = |e| DatasetError::io(&part.path, e);
        let mut out = BufWriter::new(part.file.try_clone().map_err(local)?);
        match tar.copy_data(&mut out) {
            Ok(()) => {}
            Err(CopyError::Archive(problem)) => return refuse(problem),
            Err(CopyError::Write(e)) => return Err(local(e)),
        }
        out.into_inner()
            .map_err(|e| local(e.into_error()))?
            .sync_all()
            .map_err(local)?;
        taken[index] = Some((part, dir.join(name)));
    }
    // The rest of the stream: gzip's CRC-32 of everything is checked at its very end.
    if let Err(problem) = tar.finish() {
        return refuse(problem);
    }
    let missing: Vec<String> = wanted
        .iter()
        .zip(&taken)
        .filter(|(_, t)| t.is_none())
        .map(|((path, _), _)| path.clone())
        .collect();
    if !missing.is_empty() {
        return refuse(ArchiveProblem::Missing { names: missing });
    }
    let batches: Vec<(PartFile, PathBuf)> = taken.into_iter().flatten().collect();
    for ((path, _), (part, _)) in wanted.iter().zip(&batches) {
        let name = format!("{archive_name}: {path}");
        if let Err(e) = check_batch(&part.path, &name, &spec.layout) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(batches))
}
