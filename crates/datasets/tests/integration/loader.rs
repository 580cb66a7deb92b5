//! The loader on a toy dataset written to temporary directories: the search order, gzipped and
//! plain files, verification, and every way the four files can disagree.

use crate::common;

use std::path::Path;

use common::{toy, toy_pixel, TempDir, Toy, TOY_TEST_LABELS, TOY_TRAIN_LABELS};
use convlab_datasets::idx::{encode_idx, IdxArray, IdxData};
use convlab_datasets::idx::{gzip, read_idx};
use convlab_datasets::source::{locate, Origin};
use convlab_datasets::verify::{sha256_hex, verify_file, Verified};
use convlab_datasets::{fashion_mnist, load, mnist, select_labels, DatasetError, LoadOptions};

/// Searches nothing (no env, no cache, no system dir, no download) unless the test says so.
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
fn gzipped_plain_and_mixed_directories_load_the_same() {
    let toy = toy();
    let tmp = TempDir::new("load-forms");
    toy.write(&tmp.path().join("gz"), true);
    toy.write(&tmp.path().join("plain"), false);
    toy.write(&tmp.path().join("mixed"), false);
    std::fs::remove_file(tmp.path().join("mixed/train-images-idx3-ubyte")).expect("rm");
    let gz_copy = tmp.path().join("gz/train-images-idx3-ubyte.gz");
    std::fs::copy(gz_copy, tmp.path().join("mixed/train-images-idx3-ubyte.gz")).expect("cp");

    let loads: Vec<_> = ["gz", "plain", "mixed"]
        .iter()
        .map(|d| load(&toy.spec, &LoadOptions::only_dir(tmp.path().join(d))).expect(d))
        .collect();
    let ((x_train, y_train), (x_test, y_test)) = &loads[0];
    assert_eq!(x_train.shape(), [6, 3, 4, 1]);
    assert_eq!(x_test.shape(), [3, 3, 4, 1]);
    assert_eq!(y_train, &TOY_TRAIN_LABELS);
    assert_eq!(y_test, &TOY_TEST_LABELS);
    assert_eq!(x_train.image(5).expect("image 5")[11], toy_pixel(5, 11));
    assert!(loads.iter().all(|l| l == &loads[0]));
}

#[test]
fn search_order_is_data_dir_env_cache_system() {
    let toy = toy();
    let tmp = TempDir::new("load-order");
    let [data, env, cache_root, system] =
        ["data", "env", "cache", "system"].map(|d| tmp.path().join(d));
    // The dataset subdirectory for env and cache, the directory itself for data and system.
    toy.write(&data, true);
    toy.write(&env.join("toy"), true);
    toy.write(&cache_root.join("toy"), false);
    toy.write(&system, true);
    let mut spec = toy.spec.clone();
    spec.system_dir = Some(system.clone());
    let mut options = LoadOptions {
        data_dir: Some(data.clone()),
        env_dir: Some(env.clone()),
        cache_root: Some(cache_root.clone()),
        system_dir: true,
        ..nowhere()
    };

    let origin = |options: &LoadOptions| locate(&spec, options).expect("found").origin;
    assert_eq!(origin(&options), Origin::DataDir);
    options.data_dir = None;
    assert_eq!(origin(&options), Origin::Env);
    std::fs::remove_dir_all(&env).expect("rm env");
    assert_eq!(origin(&options), Origin::Cache);
    std::fs::remove_dir_all(&cache_root).expect("rm cache");
    assert_eq!(origin(&options), Origin::System);
    options.system_dir = false;
    let message = locate(&spec, &options)
        .expect_err("nowhere left")
        .to_string();
    assert!(message.contains("downloading is off"), "{message}");
    assert!(message.contains(&env.display().to_string()), "{message}");
}

#[test]
fn an_explicit_directory_without_the_files_is_an_error_not_a_fallback() {
    let toy = toy();
    let tmp = TempDir::new("load-explicit");
    toy.write(&tmp.path().join("cache/toy"), true);
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    std::fs::write(empty.join("train-images-idx3-ubyte.gz"), b"").expect("one file only");
    let options = LoadOptions {
        data_dir: Some(empty.clone()),
        cache_root: Some(tmp.path().join("cache")),
        ..nowhere()
    };
    let message = load(&toy.spec, &options).expect_err("strict").to_string();
    assert!(message.contains("given with --data"), "{message}");
    assert!(
        message.contains("missing train-labels-idx1-ubyte"),
        "{message}"
    );
    assert!(message.contains("CONVLAB_DATA"), "{message}");
}

/// Writes the toy with its file `index` replaced by `plain`; returns that file's path.
fn toy_with(dir: &Path, toy: &Toy, index: usize, plain: &[u8]) -> std::path::PathBuf {
    toy.write(dir, false);
    let path = dir.join(&toy.files[index].0);
    std::fs::write(&path, plain).expect("write replacement");
    path
}

#[test]
fn verification_reports_expected_and_actual_and_can_be_turned_off() {
    let toy = toy();
    let tmp = TempDir::new("load-verify");
    let mut changed = toy.files[0].1.clone();
    changed[20] ^= 0x01;
    let path = toy_with(tmp.path(), &toy, 0, &changed);
    let options = LoadOptions::only_dir(tmp.path());
    match load(&toy.spec, &options) {
        Err(DatasetError::HashMismatch {
            file,
            expected,
            actual,
        }) => {
            assert_eq!(file, path.display().to_string());
            assert_eq!(Some(&expected), toy.spec.train_images.sha256.as_ref());
            assert_eq!(actual.len(), 64);
            assert_ne!(actual, expected);
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
    let ((x_train, _), _) = load(&toy.spec, &options.clone().verify(false)).expect("no-verify");
    assert_eq!(x_train.pixels[4], toy_pixel(0, 4) ^ 0x01);

    let mut spec = toy.spec.clone();
    spec.test_labels.size += 1;
    toy.write(tmp.path(), false);
    match load(&spec, &options) {
        Err(DatasetError::SizeMismatch {
            expected, actual, ..
        }) => assert_eq!(
            (expected, actual),
            (actual + 1, toy.files[3].1.len() as u64)
        ),
        other => panic!("expected a size mismatch, got {other:?}"),
    }
}

fn u8_file(dims: Vec<usize>, values: Vec<u8>) -> Vec<u8> {
    encode_idx(&IdxArray::new(dims, IdxData::U8(values)).expect("array"))
}

#[test]
fn images_and_labels_must_agree() {
    let toy = toy();
    let tmp = TempDir::new("load-agree");
    let options = LoadOptions::only_dir(tmp.path()).verify(false);

    toy_with(tmp.path(), &toy, 1, &u8_file(vec![5], vec![1; 5]));
    let message = load(&toy.spec, &options).expect_err("count").to_string();
    assert!(
        matches!(
            load(&toy.spec, &options),
            Err(DatasetError::CountMismatch {
                images: 6,
                labels: 5,
                ..
            })
        ),
        "{message}"
    );
    assert!(
        message.contains("train-images-idx3-ubyte") && message.contains("train-labels-idx1-ubyte")
    );

    toy_with(tmp.path(), &toy, 3, &u8_file(vec![3], vec![1, 10, 2]));
    match load(&toy.spec, &options) {
        Err(DatasetError::LabelOutOfRange { index, label, .. }) => {
            assert_eq!((index, label), (1, 10))
        }
        other => panic!("expected a bad label, got {other:?}"),
    }

    toy_with(tmp.path(), &toy, 3, &u8_file(vec![3, 1], vec![1, 2, 3]));
    let err = load(&toy.spec, &options).expect_err("labels are 1-d");
    assert!(matches!(err, DatasetError::Layout { .. }), "{err}");

    let floats = IdxArray::new(vec![3, 3, 4], IdxData::F32(vec![0.5; 36])).expect("f32");
    toy_with(tmp.path(), &toy, 2, &encode_idx(&floats));
    let err = load(&toy.spec, &options).expect_err("images are u8");
    assert!(err.to_string().contains("F32"), "{err}");

    let path = toy_with(tmp.path(), &toy, 2, b"\x00\x00\x08\x03\x00\x00");
    let err = load(&toy.spec, &options).expect_err("short header");
    assert!(
        matches!(err, DatasetError::Idx { ref file, .. } if *file == path.display().to_string()),
        "{err}"
    );
}

#[test]
fn images_scale_to_nhwc_f32_per_batch() {
    let toy = toy();
    let tmp = TempDir::new("load-scale");
    toy.write(tmp.path(), true);
    let ((x, y), _) = load(&toy.spec, &LoadOptions::only_dir(tmp.path())).expect("load");

    let batch = x.to_nhwc_f32(&[2, 0]).expect("batch");
    assert_eq!(batch.shape(), [2, 3, 4, 1]);
    for p in 0..12 {
        assert_eq!(batch.data()[p], toy_pixel(2, p) as f32 / 255.0);
        assert_eq!(batch.data()[12 + p], toy_pixel(0, p) as f32 / 255.0);
    }
    assert!(batch.data().iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(x.to_nhwc_f32_all().expect("all").shape(), [6, 3, 4, 1]);
    let err = x.to_nhwc_f32(&[0, 6]).expect_err("index 6 of 6");
    assert!(err.to_string().contains("index 6"), "{err}");

    let subset = x.select(&[5, 1]).expect("select");
    assert_eq!(subset.shape(), [2, 3, 4, 1]);
    assert_eq!(subset.image(0), x.image(5));
    assert_eq!(
        select_labels(&y, &[5, 1]).expect("labels"),
        [TOY_TRAIN_LABELS[5], TOY_TRAIN_LABELS[1]]
    );
    assert!(select_labels(&y, &[6]).is_err());
}

#[test]
fn the_real_specs_say_what_the_issue_says() {
    let fashion = fashion_mnist::spec();
    assert_eq!(
        fashion.files().map(|f| f.size),
        [47_040_016, 60_008, 7_840_016, 10_008]
    );
    assert!(fashion
        .files()
        .iter()
        .all(|f| f.sha256.as_ref().is_some_and(|h| h.len() == 64)));
    assert_eq!(fashion_mnist::CLASS_NAMES[0], "T-shirt/top");
    assert_eq!(fashion_mnist::CLASS_NAMES[9], "Ankle boot");
    assert!(fashion.mirrors[0]
        .starts_with("https://storage.googleapis.com/tensorflow/tf-keras-datasets"));
    let digits = mnist::spec();
    assert_eq!(
        digits.files().map(|f| f.size),
        fashion.files().map(|f| f.size)
    );
    assert_eq!(digits.mirrors.len(), 2);
}

#[test]
fn verification_says_what_it_could_establish() {
    let toy = toy();
    let tmp = TempDir::new("load-levels");
    let (name, plain) = &toy.files[0];
    let published = gzip(plain);
    let recompressed = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(plain).expect("gzip");
        e.finish().expect("gzip")
    };
    let with_published = |contents_hash: bool| {
        let mut spec = toy.spec.train_images.clone();
        if !contents_hash {
            spec.sha256 = None;
        }
        spec.published(published.len() as u64, &sha256_hex(&[&published]))
    };
    let check = |file: &str, bytes: &[u8], spec: &convlab_datasets::FileSpec| {
        let path = tmp.path().join(file);
        std::fs::write(&path, bytes).expect("write");
        verify_file(&path, spec, &read_idx(&path).expect("read"))
    };
    let gz = format!("{name}.gz");
    // The published .gz: by its own hash, whatever else is known.
    assert_eq!(
        check(&gz, &published, &with_published(true)).ok(),
        Some(Verified::AsPublished)
    );
    assert_eq!(
        check(&gz, &published, &with_published(false)).ok(),
        Some(Verified::AsPublished)
    );
    // Recompressed or plain: by the contents' hash where there is one, else by structure.
    assert_eq!(
        check(&gz, &recompressed, &with_published(true)).ok(),
        Some(Verified::Contents)
    );
    assert_eq!(
        check(&gz, &recompressed, &with_published(false)).ok(),
        Some(Verified::Structure)
    );
    assert_eq!(
        check(name, plain, &with_published(false)).ok(),
        Some(Verified::Structure)
    );
    // A changed pixel in a recompressed copy is caught by the contents' hash.
    let mut changed = plain.clone();
    changed[30] ^= 4;
    let err = check(&gz, &gzip(&changed), &with_published(true)).expect_err("changed");
    assert!(matches!(err, DatasetError::HashMismatch { .. }), "{err}");
}

#[test]
fn images_of_another_shape_are_refused_even_at_the_right_size() {
    // The training images as 6 images of 1x12: the same bytes but one, the same file size.
    let toy = toy();
    let tmp = TempDir::new("load-shape");
    let pixels = IdxArray::new(vec![6, 1, 12], IdxData::U8(vec![1; 72])).expect("array");
    let path = toy_with(tmp.path(), &toy, 0, &encode_idx(&pixels));
    let options = LoadOptions::only_dir(tmp.path()).verify(false);
    match load(&toy.spec, &options) {
        Err(DatasetError::ItemShape {
            file,
            expected,
            found,
            ..
        }) => {
            assert_eq!(file, path.display().to_string());
            assert_eq!((expected, found), ([3, 4, 1], [1, 12, 1]));
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
    // With no shape on record, the training and test images must still agree.
    let mut spec = toy.spec.clone();
    spec.item_shape = None;
    let err = load(&spec, &options).expect_err("train and test differ");
    assert!(
        matches!(err, DatasetError::ImageSizeMismatch { .. }),
        "{err}"
    );
}
