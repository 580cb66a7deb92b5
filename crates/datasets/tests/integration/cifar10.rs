//! CIFAR-10's batch reader and loader on toy batches written to temporary directories (see
//! `common::cifar`): planes become NHWC, the search finds the batches where the IDX sets would be
//! found, and every damaged file is an error that names it and the record or offset.

use crate::common;

use common::cifar::{self, batch_bytes, label, value, LAYOUT, NAMES, RECORD};
use common::TempDir;
use convlab_datasets::cifar10::batch::{
    encode_batch, read_batch, read_batch_bytes, BatchLayout, MAX_BATCH_BYTES,
};
use convlab_datasets::cifar10::{self as cifar10_mod, CifarSpec};
use convlab_datasets::source::Origin;
use convlab_datasets::{BatchProblem, DatasetError, DatasetName, LoadOptions};

fn toy_spec() -> CifarSpec {
    cifar::spec_for(b"no archive", Vec::new())
}

/// Searches nothing but what the test sets.
fn nowhere() -> LoadOptions {
    LoadOptions {
        data_dir: None,
        env_dir: None,
        cache_root: None,
        system_dir: false,
        verify: true,
        download: None,
    }
}

#[test]
fn planes_become_nhwc() {
    let (x, y) = read_batch_bytes("toy", &batch_bytes(2), &LAYOUT, true).expect("toy batch");
    assert_eq!(x.shape(), [3, 2, 3, 3]);
    assert_eq!(y, [label(2, 0), label(2, 1), label(2, 2)]);
    for r in 0..3 {
        let image = x.image(r).expect("image");
        for p in 0..6 {
            for k in 0..3 {
                // Pixel p = row * 3 + col; its channels side by side.
                assert_eq!(
                    image[p * 3 + k],
                    value(2, r, k, p),
                    "record {r} pixel {p} k {k}"
                );
            }
        }
    }
    // The batch tensor has the same layout, scaled.
    let t = x.to_nhwc_f32(&[1]).expect("batch");
    assert_eq!(t.shape(), [1, 2, 3, 3]);
    assert_eq!(t.data()[3 * 4 + 2], value(2, 1, 2, 4) as f32 / 255.0);
    // And the encoder is the reader's inverse.
    assert_eq!(encode_batch(&x, &y).expect("encode"), batch_bytes(2));
}

#[test]
fn the_real_layout_is_cifar_10s() {
    let l = BatchLayout::CIFAR10;
    assert_eq!((l.record_len(), l.file_len()), (3_073, 30_730_000));
    let spec = cifar10_mod::spec();
    assert_eq!(spec.files().count(), 6);
    assert_eq!(spec.archive.name, "cifar-10-binary.tar.gz");
    assert_eq!(spec.archive.size, 170_052_171);
    assert_eq!(
        spec.archive.sha256,
        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
    );
    assert_eq!(spec.mirrors, ["https://www.cs.toronto.edu/~kriz/"]);
    assert_eq!(cifar10_mod::CLASS_NAMES[0], "airplane");
    assert_eq!(cifar10_mod::CLASS_NAMES[9], "truck");
    assert_eq!(DatasetName::Cifar10.class_names(), cifar10_mod::CLASS_NAMES);
}

#[test]
fn batches_load_directly_in_a_subdirectory_or_under_the_dataset_name() {
    let spec = toy_spec();
    let tmp = TempDir::new("cifar-places");
    cifar::write_batches(&tmp.path().join("flat"));
    cifar::write_batches(&tmp.path().join("unpacked/cifar-10-batches-bin"));
    cifar::write_batches(&tmp.path().join("env/toycifar/cifar-10-batches-bin"));
    let loads: Vec<_> = ["flat", "unpacked"]
        .iter()
        .map(|d| cifar10_mod::load(&spec, &LoadOptions::only_dir(tmp.path().join(d))).expect(d))
        .collect();
    assert_eq!(loads[0], loads[1]);
    let ((x_train, y_train), (x_test, y_test)) = &loads[0];
    assert_eq!(x_train.shape(), [15, 2, 3, 3]);
    assert_eq!(x_test.shape(), [3, 2, 3, 3]);
    // Training batches in order: record r of batch f is image 3f + r.
    for f in 0..5 {
        for r in 0..3 {
            assert_eq!(y_train[3 * f + r], label(f, r));
            assert_eq!(
                x_train.image(3 * f + r).expect("image")[0],
                value(f, r, 0, 0)
            );
        }
    }
    assert_eq!(y_test, &[label(5, 0), label(5, 1), label(5, 2)]);

    let options = LoadOptions {
        env_dir: Some(tmp.path().join("env")),
        ..nowhere()
    };
    let located = cifar10_mod::locate(&spec, &options).expect("found under $CONVLAB_DATA");
    assert_eq!(located.origin, Origin::Env);
    assert!(located.paths.test[0].ends_with("toycifar/cifar-10-batches-bin/test_batch.bin"));
}

#[test]
fn a_missing_batch_is_reported_with_what_to_do() {
    let spec = toy_spec();
    let tmp = TempDir::new("cifar-missing");
    cifar::write_batches(tmp.path());
    std::fs::remove_file(tmp.path().join("data_batch_3.bin")).expect("rm");
    let message = cifar10_mod::load(&spec, &LoadOptions::only_dir(tmp.path()))
        .expect_err("a batch is missing")
        .to_string();
    for needle in [
        "given with --data",
        "missing data_batch_3.bin",
        "cifar-10-batches-bin/",
        "tar xzf toy-binary.tar.gz",
        "CONVLAB_DATA",
    ] {
        assert!(message.contains(needle), "{needle:?} in:\n{message}");
    }
    let message = cifar10_mod::load(&spec, &nowhere())
        .expect_err("nowhere")
        .to_string();
    assert!(message.contains("downloading is off"), "{message}");
}

/// Writes the toy batches with batch `f` replaced by `bytes`; loads; returns the error.
fn load_with(tag: &str, f: usize, bytes: &[u8], verify: bool) -> (String, DatasetError) {
    let tmp = TempDir::new(tag);
    cifar::write_batches(tmp.path());
    let path = tmp.path().join(NAMES[f]);
    std::fs::write(&path, bytes).expect("write");
    let options = LoadOptions::only_dir(tmp.path()).verify(verify);
    let err = cifar10_mod::load(&toy_spec(), &options).expect_err(tag);
    (path.display().to_string(), err)
}

#[test]
fn truncated_long_and_mislabelled_batches_name_the_file_and_the_record() {
    let good = batch_bytes(1);
    let cases: Vec<(&str, Vec<u8>, BatchProblem, &str)> = vec![
        (
            "cut",
            good[..good.len() - 5].to_vec(),
            BatchProblem::Truncated {
                records: 3,
                record_len: 19,
                actual: 52,
            },
            "inside record 2 of 3",
        ),
        (
            "long",
            [&good[..], b"xy"].concat(),
            BatchProblem::TrailingBytes {
                records: 3,
                record_len: 19,
                extra: 2,
            },
            "2 bytes after its 3 records",
        ),
        (
            "empty",
            Vec::new(),
            BatchProblem::Truncated {
                records: 3,
                record_len: 19,
                actual: 0,
            },
            "inside record 0",
        ),
        (
            "label",
            {
                let mut bad = good.clone();
                bad[2 * RECORD] = 10;
                bad
            },
            BatchProblem::LabelOutOfRange {
                record: 2,
                offset: 38,
                label: 10,
                classes: 10,
            },
            "record 2 (byte offset 38) has label 10",
        ),
    ];
    for (tag, bytes, expected, phrase) in cases {
        let (path, err) = load_with(&format!("cifar-{tag}"), 1, &bytes, true);
        let message = err.to_string();
        match err {
            DatasetError::Batch { file, problem } => {
                assert_eq!(file, path, "{tag}");
                assert_eq!(problem, expected, "{tag}");
            }
            other => panic!("{tag}: {other:?}"),
        }
        assert!(message.starts_with(&path), "{tag}: {message}");
        assert!(message.contains(phrase), "{tag}: {message}");
    }
}

#[test]
fn without_verification_any_whole_number_of_records_loads() {
    let tmp = TempDir::new("cifar-noverify");
    cifar::write_batches(tmp.path());
    // The test batch with one record more: refused when verifying, loaded without.
    let longer = [batch_bytes(5), batch_bytes(5)[..RECORD].to_vec()].concat();
    std::fs::write(tmp.path().join("test_batch.bin"), &longer).expect("write");
    let options = LoadOptions::only_dir(tmp.path());
    assert!(cifar10_mod::load(&toy_spec(), &options).is_err());
    let (_, (x_test, y_test)) =
        cifar10_mod::load(&toy_spec(), &options.verify(false)).expect("4 records");
    assert_eq!((x_test.n, y_test.len()), (4, 4));
    assert_eq!(x_test.image(3), x_test.image(0));

    // Half a record is still an error, and so are labels out of range.
    let (path, err) = load_with("cifar-half", 0, &batch_bytes(0)[..RECORD + 3], false);
    assert!(
        matches!(&err, DatasetError::Batch { file, problem: BatchProblem::NotWholeRecords { .. } } if *file == path),
        "{err}"
    );
    let mut bad = batch_bytes(0);
    bad[0] = 200;
    let (_, err) = load_with("cifar-label-noverify", 0, &bad, false);
    assert!(err.to_string().contains("label 200"), "{err}");
}

#[test]
fn a_directory_in_place_of_a_batch_is_an_error() {
    let tmp = TempDir::new("cifar-notfile");
    let path = tmp.path().join("dir.bin");
    std::fs::create_dir_all(&path).expect("mkdir");
    let err = read_batch(&path, &LAYOUT, true).expect_err("a directory");
    assert!(matches!(err, DatasetError::Io { .. }), "{err}");
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn layouts_other_than_the_toys_are_checked_by_their_own_sizes() {
    // A 1x1 grey layout: 2-byte records.
    let grey = BatchLayout {
        records: 2,
        rows: 1,
        cols: 1,
        channels: 1,
        classes: 3,
    };
    let (x, y) = read_batch_bytes("grey", &[2, 9, 0, 7], &grey, true).expect("grey");
    assert_eq!(
        (x.shape(), x.pixels.clone(), y),
        ([2, 1, 1, 1], vec![9, 7], vec![2, 0])
    );
    let err = read_batch_bytes("grey", &[3, 9, 0, 7], &grey, true).expect_err("label 3");
    assert!(err.to_string().starts_with("grey: record 0"), "{err}");
    assert!(MAX_BATCH_BYTES >= BatchLayout::CIFAR10.file_len());
}
