//! The download path against a scripted HTTP server on 127.0.0.1 (see `common::server`): good
//! files, corrupt files, truncated and stalled responses, 404s. Whatever happens, the cache must
//! end up holding only verified files under their real names, and each failure must say what
//! went wrong.
#![cfg(feature = "download")]

use crate::common;

use std::time::{Duration, Instant};

use common::server::{Reply, Server};
use common::{entries, toy, TempDir, Toy};
use convlab_datasets::download::{fetch_missing, DownloadProblem};
use convlab_datasets::idx::gzip;
use convlab_datasets::source::Origin;
use convlab_datasets::{load, DatasetError, DownloadConfig, LoadOptions};

/// The client gives up on a silent server after this long; stalling replies wait longer.
const TIMEOUT: Duration = Duration::from_secs(2);
const STALL: Duration = Duration::from_secs(6);

fn config(mirrors: Vec<String>) -> DownloadConfig {
    DownloadConfig {
        mirrors: Some(mirrors),
        timeout: TIMEOUT,
        max_bytes: 1 << 20,
    }
}

/// The toy's four files, gzipped, under `/<dir>/`.
fn good_routes(toy: &Toy, dir: &str) -> Vec<(String, Reply)> {
    toy.files
        .iter()
        .map(|(name, plain)| (format!("/{dir}/{name}.gz"), Reply::Body(gzip(plain))))
        .collect()
}

/// Options that search nothing but an empty cache, then download from `mirrors`.
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

const TOY_FILES_GZ: [&str; 4] = [
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
];

#[test]
fn good_mirror_fills_the_cache_and_the_next_load_needs_no_network() {
    let toy = toy();
    let server = Server::start(good_routes(&toy, "good"));
    let cache = TempDir::new("dl-good");
    let options = download_only(cache.path(), vec![server.mirror("good")]);

    let ((x_train, y_train), (x_test, y_test)) = load(&toy.spec, &options).expect("download");
    assert_eq!((x_train.n, x_test.n), (6, 3));
    assert_eq!(y_train, common::TOY_TRAIN_LABELS);
    assert_eq!(y_test, common::TOY_TEST_LABELS);
    let mut expected: Vec<&str> = vec![".lock"];
    expected.extend(TOY_FILES_GZ);
    assert_eq!(entries(&cache.path().join("toy")), expected);

    // Served from the cache now, even with the server gone.
    let requests = server.requests.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(requests, 4);
    drop(server);
    let located = convlab_datasets::source::locate(&toy.spec, &options).expect("cached");
    assert_eq!(located.origin, Origin::Cache);
    load(&toy.spec, &options).expect("load from cache");
}

#[test]
fn a_bad_mirror_is_skipped_for_a_good_one() {
    let toy = toy();
    let mut routes = good_routes(&toy, "good");
    for (name, plain) in &toy.files {
        let mut bad = gzip(plain);
        let last = bad.len() - 10;
        bad[last] ^= 0x40; // inside the CRC-32 trailer: gzip itself reports this
        routes.push((format!("/bad/{name}.gz"), Reply::Body(bad)));
    }
    let server = Server::start(routes);
    let cache = TempDir::new("dl-skip");
    let options = download_only(
        cache.path(),
        vec![server.mirror("bad"), server.mirror("good")],
    );
    let located = convlab_datasets::source::locate(&toy.spec, &options).expect("second mirror");
    assert_eq!(located.origin, Origin::Downloaded);
    load(&toy.spec, &options).expect("verified files");
}

/// Runs a download from one mirror serving `reply` for the first file (the others are good) and
/// returns the problem reported for that file; checks that the cache holds nothing but the lock.
fn failing_download(tag: &str, reply: Reply) -> DownloadProblem {
    let toy = toy();
    let first = &toy.files[0].0;
    let mut routes = vec![(format!("/m/{first}.gz"), reply)];
    routes.extend(good_routes(&toy, "m"));
    let server = Server::start(routes);
    let cache = TempDir::new(tag);
    let dir = cache.path().join("toy");
    // A leftover from a process that died mid-download must not survive either.
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join(format!(".{first}.gz.part")), b"junk").expect("leftover");

    let start = Instant::now();
    let err = fetch_missing(&toy.spec, &dir, &config(vec![server.mirror("m")]))
        .expect_err("the download must fail");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{tag}: took {:?}",
        start.elapsed()
    );
    assert_eq!(
        entries(&dir),
        [".lock"],
        "{tag}: the cache must hold no file"
    );
    let message = err.to_string();
    assert!(message.contains(first.as_str()), "{tag}: {message}");
    assert!(
        message.contains(&server.mirror("m")),
        "{tag}: names the URL: {message}"
    );
    match err {
        DatasetError::Download { mut attempts, .. } if attempts.len() == 1 => {
            attempts.remove(0).problem
        }
        other => panic!("{tag}: expected one failed attempt, got {other:?}"),
    }
}

#[test]
fn not_found_404_is_reported() {
    let problem = failing_download("dl-404", Reply::Status(404));
    assert!(
        matches!(problem, DownloadProblem::Status(404)),
        "{problem:?}"
    );
}

#[test]
fn wrong_content_is_rejected_with_expected_and_actual_hashes() {
    let toy = toy();
    // A valid gzip of a valid IDX file, but not the right one (its first pixel changed).
    let mut other = toy.files[0].1.clone();
    other[16] ^= 1;
    let problem = failing_download("dl-hash", Reply::Body(gzip(&other)));
    let DownloadProblem::Rejected(e) = &problem else {
        panic!("{problem:?}")
    };
    match &**e {
        DatasetError::HashMismatch {
            expected, actual, ..
        } => {
            assert_eq!(Some(expected), toy.spec.train_images.sha256.as_ref());
            assert_ne!(actual, expected);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn corrupt_gzip_is_rejected() {
    let toy = toy();
    let mut bad = gzip(&toy.files[0].1);
    let middle = bad.len() / 2;
    bad[middle] ^= 0xff;
    let problem = failing_download("dl-corrupt", Reply::Body(bad));
    assert!(
        matches!(problem, DownloadProblem::Rejected(_)),
        "{problem:?}"
    );
}

#[test]
fn truncated_response_is_reported() {
    let toy = toy();
    let body = gzip(&toy.files[0].1);
    let claimed = body.len() + 100;
    let problem = failing_download("dl-trunc", Reply::Truncated { body, claimed });
    match problem {
        DownloadProblem::Truncated { expected, .. } => assert_eq!(expected, claimed as u64),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_server_that_never_answers_times_out() {
    let problem = failing_download("dl-stall-head", Reply::StallBeforeHeaders(STALL));
    assert!(
        matches!(problem, DownloadProblem::Timeout(_)),
        "{problem:?}"
    );
}

#[test]
fn a_server_that_stalls_mid_body_times_out() {
    let toy = toy();
    let body = gzip(&toy.files[0].1);
    let sent = body.len() / 2;
    let reply = Reply::StallInBody {
        body,
        sent,
        stall: STALL,
    };
    let problem = failing_download("dl-stall-body", reply);
    assert!(
        matches!(problem, DownloadProblem::Timeout(_)),
        "{problem:?}"
    );
}

#[test]
fn responses_over_the_cap_are_refused() {
    let big = vec![0x1f; 2 << 20]; // twice the 1 MiB cap of `config`
    let problem = failing_download("dl-big", Reply::Body(big));
    assert!(
        matches!(problem, DownloadProblem::TooLarge { .. }),
        "{problem:?}"
    );
}

#[test]
fn two_downloads_at_once_fetch_each_file_once() {
    let toy = toy();
    let routes = toy
        .files
        .iter()
        .map(|(name, plain)| {
            let reply = Reply::SlowBody(gzip(plain), Duration::from_millis(100));
            (format!("/slow/{name}.gz"), reply)
        })
        .collect();
    let server = Server::start(routes);
    let cache = TempDir::new("dl-race");
    let dir = cache.path().join("toy");
    let config = config(vec![server.mirror("slow")]);
    std::thread::scope(|s| {
        let a = s.spawn(|| fetch_missing(&toy.spec, &dir, &config));
        let b = s.spawn(|| fetch_missing(&toy.spec, &dir, &config));
        let (a, b) = (a.join().expect("thread a"), b.join().expect("thread b"));
        assert_eq!(a.expect("a"), b.expect("b"));
    });
    // The lock made the second caller wait and then find the files.
    assert_eq!(
        server.requests.load(std::sync::atomic::Ordering::Relaxed),
        4
    );
    let options = download_only(cache.path(), vec![]);
    load(&toy.spec, &options).expect("cache holds verified files");
}

#[test]
fn when_nothing_works_the_error_says_what_to_do_and_where_it_looked() {
    let toy = toy();
    let server = Server::start(Vec::new()); // every path is a 404
    let cache = TempDir::new("dl-none");
    let mut options = download_only(cache.path(), vec![server.mirror("x")]);
    options.env_dir = Some(cache.path().join("no-such-env-dir"));
    let message = load(&toy.spec, &options)
        .expect_err("nothing to load")
        .to_string();
    for needle in [
        "Toy was not found",
        "apt-get install dataset-toy",
        "CONVLAB_DATA=/path",
        "--data DIR",
        "no-such-env-dir",
        &cache.path().join("toy").display().to_string(),
        "HTTP status 404",
    ] {
        assert!(
            message.contains(needle),
            "missing {needle:?} in:\n{message}"
        );
    }
    assert_eq!(entries(&cache.path().join("toy")), [".lock"]);
}

/// `plain` gzipped at another level: the same contents, other bytes.
fn gzip_fast(plain: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(plain).expect("gzip");
    e.finish().expect("gzip")
}

#[test]
fn where_the_published_gz_is_on_record_a_download_must_be_exactly_it() {
    let mut toy = toy();
    let (name, plain) = toy.files[0].clone();
    let published = gzip(&plain);
    toy.spec.train_images = toy.spec.train_images.clone().published(
        published.len() as u64,
        &convlab_datasets::verify::sha256_hex(&[&published]),
    );
    let recompressed = gzip_fast(&plain);
    assert_ne!(recompressed, published);

    // A mirror serving the same contents recompressed is refused, with both sizes and hashes.
    let mut routes = vec![(format!("/other/{name}.gz"), Reply::Body(recompressed))];
    routes.extend(good_routes(&toy, "good"));
    let server = Server::start(routes);
    let cache = TempDir::new("dl-published");
    let dir = cache.path().join("toy");
    let err = fetch_missing(&toy.spec, &dir, &config(vec![server.mirror("other")]))
        .expect_err("not the published bytes");
    let message = err.to_string();
    assert!(
        message.contains("it is not train-images-idx3-ubyte.gz as published"),
        "{message}"
    );
    assert_eq!(entries(&dir), [".lock"]);

    // The published bytes themselves are taken, and kept as they came.
    let paths = fetch_missing(&toy.spec, &dir, &config(vec![server.mirror("good")]))
        .expect("the published bytes");
    assert_eq!(std::fs::read(&paths[0]).expect("read"), published);
}
