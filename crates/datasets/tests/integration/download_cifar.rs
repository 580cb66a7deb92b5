//! CIFAR-10's download against the scripted HTTP server on 127.0.0.1: a toy `.tar.gz` laid out
//! like the real one is fetched, checked against its published hash and unpacked. Hostile and
//! damaged archives (a `../evil` entry, absolute paths, links, wrong sizes, a gzip bomb) are
//! refused whole, and whatever happens the cache holds nothing but the lock or the six verified
//! batches, and nothing is written anywhere else.
#![cfg(feature = "download")]

use crate::common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::cifar::{self, batch_bytes, good_entries, tar_gz, NAMES};
use common::server::{Reply, Server};
use common::{entries, TempDir};
use convlab_datasets::cifar10::{self, CifarSpec};
use convlab_datasets::download::{fetch_archive, DownloadProblem};
use convlab_datasets::source::Origin;
use convlab_datasets::verify::sha256_hex;
use convlab_datasets::{ArchiveProblem, BatchProblem, DatasetError, DownloadConfig, LoadOptions};

fn config(mirrors: Vec<String>) -> DownloadConfig {
    DownloadConfig {
        mirrors: Some(mirrors),
        timeout: Duration::from_secs(2),
        max_bytes: 1 << 20,
    }
}

fn download_only(cache_root: &std::path::Path, mirrors: Vec<String>) -> LoadOptions {
    LoadOptions {
        data_dir: None,
        env_dir: None,
        cache_root: Some(cache_root.to_path_buf()),
        system_dir: false,
        verify: true,
        download: Some(config(mirrors)),
    }
}

/// What a good download leaves: the lock and the six batches.
fn six_batches_and_the_lock() -> Vec<String> {
    let mut expected = vec![".lock".to_string()];
    let mut names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    names.sort();
    expected.extend(names);
    expected
}

#[test]
fn a_good_archive_is_unpacked_into_the_cache_and_then_loads_from_there() {
    let archive = tar_gz(&good_entries());
    let server = Server::start(vec![(
        "/m/toy-binary.tar.gz".into(),
        Reply::Body(archive.clone()),
    )]);
    let spec = cifar::spec_for(&archive, Vec::new());
    let cache = TempDir::new("cifar-dl-good");
    let options = download_only(cache.path(), vec![server.mirror("m")]);

    let ((x_train, y_train), (x_test, _)) = cifar10::load(&spec, &options).expect("download");
    assert_eq!(
        (x_train.shape(), x_test.shape()),
        ([15, 2, 3, 3], [3, 2, 3, 3])
    );
    assert_eq!(y_train[4], cifar::label(1, 1));
    // Only the batches: no archive, no batches.meta.txt or readme.html, no directory.
    let dir = cache.path().join("toycifar");
    assert_eq!(entries(&dir), six_batches_and_the_lock());
    assert_eq!(
        std::fs::read(dir.join("data_batch_3.bin")).expect("read"),
        batch_bytes(2)
    );

    drop(server);
    let located = cifar10::locate(&spec, &options).expect("cached");
    assert_eq!(located.origin, Origin::Cache);
}

/// Serves `archive` from one mirror with a spec whose published hash is `published_from`'s;
/// expects the download to fail, checks the cache holds only the lock and nothing escaped;
/// returns the rejection.
fn refused(tag: &str, archive: Vec<u8>, published_from: &[u8]) -> DatasetError {
    let server = Server::start(vec![("/m/toy-binary.tar.gz".into(), Reply::Body(archive))]);
    let spec: CifarSpec = cifar::spec_for(published_from, Vec::new());
    let tmp = TempDir::new(tag);
    let dir = tmp.path().join("cache/toycifar");
    let err = fetch_archive(&spec, &dir, &config(vec![server.mirror("m")]))
        .expect_err("the download must fail");
    assert_eq!(
        entries(&dir),
        [".lock"],
        "{tag}: the cache must hold no file"
    );
    assert_eq!(
        entries(tmp.path()),
        ["cache"],
        "{tag}: nothing written beside the cache"
    );
    assert_eq!(entries(&tmp.path().join("cache")), ["toycifar"], "{tag}");
    let message = err.to_string();
    assert!(message.contains("toy-binary.tar.gz"), "{tag}: {message}");
    match err {
        DatasetError::Download { mut attempts, .. } if attempts.len() == 1 => {
            match attempts.remove(0).problem {
                DownloadProblem::Rejected(e) => *e,
                other => panic!("{tag}: {other:?}"),
            }
        }
        other => panic!("{tag}: expected one rejected attempt, got {other:?}"),
    }
}

/// `refused`, for an archive whose hash is the published one, so the tar reader is reached.
fn refused_archive(tag: &str, entries: &[(String, u8, Vec<u8>)]) -> ArchiveProblem {
    let archive = tar_gz(entries);
    match refused(tag, archive.clone(), &archive) {
        DatasetError::Archive { file, problem } => {
            assert_eq!(file, "toy-binary.tar.gz", "{tag}");
            problem
        }
        other => panic!("{tag}: expected an archive problem, got {other:?}"),
    }
}

#[test]
fn an_archive_that_is_not_the_published_one_is_refused_before_unpacking() {
    let good = tar_gz(&good_entries());
    // The same length (a changed gzip timestamp): hashed, and the hashes differ.
    let mut same_size = good.clone();
    same_size[4] ^= 1;
    match refused("cifar-dl-hash", same_size.clone(), &good) {
        DatasetError::NotAsPublished {
            published,
            expected_sha256,
            actual_size,
            actual_sha256,
            ..
        } => {
            assert_eq!(published, "toy-binary.tar.gz");
            assert_eq!(expected_sha256, sha256_hex(&[&good]));
            assert_eq!(actual_size, good.len() as u64);
            assert_eq!(actual_sha256, Some(sha256_hex(&[&same_size])));
        }
        other => panic!("{other:?}"),
    }
    // Another length: refused on the size alone, without hashing.
    let mut other = good_entries();
    other.pop();
    let err = refused("cifar-dl-size", tar_gz(&other), &good);
    assert!(
        matches!(
            err,
            DatasetError::NotAsPublished {
                actual_sha256: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("it is not toy-binary.tar.gz as published"),
        "{err}"
    );
}

#[test]
fn paths_that_leave_the_directory_are_refused() {
    for (tag, path) in [
        ("cifar-dl-dotdot", "../evil"),
        ("cifar-dl-deep", "cifar-10-batches-bin/../../evil"),
        ("cifar-dl-abs", "/tmp/convlab-evil"),
    ] {
        let mut entries = good_entries();
        entries.insert(1, (path.to_string(), b'0', b"pwned".to_vec()));
        let problem = refused_archive(tag, &entries);
        assert_eq!(
            problem,
            ArchiveProblem::UnsafePath {
                path: path.to_string()
            },
            "{tag}"
        );
    }
    assert!(!std::path::Path::new("/tmp/convlab-evil").exists());
}

#[test]
fn links_are_refused_wherever_they_point() {
    for (tag, path, flag, kind) in [
        (
            "cifar-dl-symlink",
            "cifar-10-batches-bin/data_batch_1.bin",
            b'2',
            "symbolic link",
        ),
        (
            "cifar-dl-symlink-other",
            "cifar-10-batches-bin/passwd",
            b'2',
            "symbolic link",
        ),
        (
            "cifar-dl-hardlink",
            "cifar-10-batches-bin/test_batch.bin",
            b'1',
            "hard link",
        ),
    ] {
        let mut entries = good_entries();
        entries.insert(1, (path.to_string(), flag, Vec::new()));
        let problem = refused_archive(tag, &entries);
        assert_eq!(
            problem,
            ArchiveProblem::Link {
                path: path.to_string(),
                kind
            },
            "{tag}"
        );
    }
}

#[test]
fn batches_of_the_wrong_size_type_or_number_are_refused() {
    let mut short = good_entries();
    short[3].2.pop();
    assert_eq!(
        refused_archive("cifar-dl-size", &short),
        ArchiveProblem::WrongSize {
            path: "cifar-10-batches-bin/data_batch_3.bin".into(),
            expected: 57,
            actual: 56
        }
    );

    let mut missing = good_entries();
    missing.remove(5); // data_batch_5.bin
    assert_eq!(
        refused_archive("cifar-dl-missing", &missing),
        ArchiveProblem::Missing {
            names: vec!["cifar-10-batches-bin/data_batch_5.bin".into()]
        }
    );

    let mut twice = good_entries();
    twice.push(twice[1].clone());
    assert_eq!(
        refused_archive("cifar-dl-twice", &twice),
        ArchiveProblem::Duplicate {
            path: "cifar-10-batches-bin/data_batch_1.bin".into()
        }
    );

    let mut directory = good_entries();
    directory[1] = (
        "cifar-10-batches-bin/data_batch_1.bin/".into(),
        b'5',
        Vec::new(),
    );
    assert_eq!(
        refused_archive("cifar-dl-dir", &directory),
        ArchiveProblem::NotAFile {
            path: "cifar-10-batches-bin/data_batch_1.bin".into(),
            kind: "directory"
        }
    );

    let mut fifo = good_entries();
    fifo.push(("cifar-10-batches-bin/pipe".into(), b'6', Vec::new()));
    assert!(matches!(
        refused_archive("cifar-dl-fifo", &fifo),
        ArchiveProblem::NotAFile { kind: "FIFO", .. }
    ));
}

#[test]
fn an_unpacked_batch_with_a_bad_label_names_the_archive_and_the_member() {
    let mut entries = good_entries();
    entries[2].2[19] = 77; // the label of record 1 of data_batch_2.bin
    let archive = tar_gz(&entries);
    match refused("cifar-dl-label", archive.clone(), &archive) {
        DatasetError::Batch { file, problem } => {
            assert_eq!(
                file,
                "toy-binary.tar.gz: cifar-10-batches-bin/data_batch_2.bin"
            );
            assert_eq!(
                problem,
                BatchProblem::LabelOutOfRange {
                    record: 1,
                    offset: 19,
                    label: 77,
                    classes: 10
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_gzip_bomb_is_read_only_up_to_the_limit() {
    // 20 MiB of zeros compress to about 20 KB, well under the download cap, but the tar stream
    // may hold only the six batches plus 16 MiB.
    let mut entries = good_entries();
    entries.insert(
        1,
        (
            "cifar-10-batches-bin/zeros".into(),
            b'0',
            vec![0u8; 20 << 20],
        ),
    );
    let archive = tar_gz(&entries);
    assert!(archive.len() < 1 << 20);
    let problem = refused_archive("cifar-dl-bomb", &entries);
    assert!(
        matches!(problem, ArchiveProblem::TooLarge { .. }),
        "{problem:?}"
    );

    // And a damaged gzip stream is its own error.
    let mut damaged = tar_gz(&good_entries());
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xff;
    match refused("cifar-dl-gzip", damaged.clone(), &damaged) {
        DatasetError::Archive { problem, .. } => assert!(
            matches!(
                problem,
                ArchiveProblem::Gzip(_) | ArchiveProblem::BadChecksum { .. }
            ),
            "{problem:?}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bad_mirror_is_skipped_and_two_downloads_at_once_fetch_once() {
    let archive = tar_gz(&good_entries());
    let server = Server::start(vec![
        ("/bad/toy-binary.tar.gz".into(), Reply::Status(404)),
        (
            "/slow/toy-binary.tar.gz".into(),
            Reply::SlowBody(archive.clone(), Duration::from_millis(200)),
        ),
    ]);
    let spec = cifar::spec_for(&archive, Vec::new());
    let cache = TempDir::new("cifar-dl-race");
    let dir = cache.path().join("toycifar");
    let config = config(vec![server.mirror("bad"), server.mirror("slow")]);
    std::thread::scope(|s| {
        let a = s.spawn(|| fetch_archive(&spec, &dir, &config));
        let b = s.spawn(|| fetch_archive(&spec, &dir, &config));
        a.join().expect("thread a").expect("a");
        b.join().expect("thread b").expect("b");
    });
    // One 404 and one archive: the second caller waited on the lock and found the batches.
    assert_eq!(server.requests.load(Ordering::Relaxed), 2);
    assert_eq!(entries(&dir), six_batches_and_the_lock());
}
