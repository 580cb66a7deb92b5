//! The real Fashion-MNIST, from Debian's `dataset-fashion-mnist` (CI installs it). Without the
//! package this test fails, on purpose: a silently skipped test would hide a broken CI setup.

use std::path::Path;

use convlab_datasets::{fashion_mnist, train_test_split, LoadOptions};

const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

#[test]
fn loads_and_verifies_the_debian_package() {
    assert!(
        Path::new(DEBIAN_DIR).is_dir(),
        "{DEBIAN_DIR} is missing: run `apt-get install dataset-fashion-mnist` (CI does)"
    );
    let options = LoadOptions::only_dir(DEBIAN_DIR);
    let ((x_train, y_train), (x_test, y_test)) =
        fashion_mnist::load_data_from(&options).expect("load and verify Fashion-MNIST");

    assert_eq!(x_train.shape(), [60_000, 28, 28, 1]);
    assert_eq!(x_test.shape(), [10_000, 28, 28, 1]);
    assert_eq!((y_train.len(), y_test.len()), (60_000, 10_000));
    // The first labels, as `keras.datasets.fashion_mnist.load_data()` shows them.
    assert_eq!(y_train[..10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert_eq!(y_test[..5], [9, 2, 1, 1, 6]);
    // Balanced classes: 6,000 and 1,000 of each.
    for class in 0..10 {
        assert_eq!(y_train.iter().filter(|&&l| l == class).count(), 6_000);
        assert_eq!(y_test.iter().filter(|&&l| l == class).count(), 1_000);
    }

    let split = train_test_split(x_train.len(), 0.2, 42).expect("split");
    assert_eq!((split.train.len(), split.test.len()), (48_000, 12_000));
    let batch = x_train.to_nhwc_f32(&split.test[..32]).expect("batch");
    assert_eq!(batch.shape(), [32, 28, 28, 1]);
    assert!(batch.data().iter().all(|v| (0.0..=1.0).contains(v)));
}

/// Debian's `.gz` files hold the published compressed data under a rewritten gzip header (no
/// stored name, a 2020 timestamp). Putting back the header the published files have (flag
/// FNAME, their 2017 mtime, XFL 0, OS 3 = Unix, then the name) must give exactly the published
/// sizes and the SHA-256s that TensorFlow Datasets records, which checks those recorded hashes
/// against real bytes; and the loader must take the rebuilt files as the published ones.
#[test]
fn debians_files_with_their_original_gzip_headers_are_the_published_ones() {
    use convlab_datasets::idx::read_idx;
    use convlab_datasets::verify::{verify_file, Verified};

    let spec = fashion_mnist::spec();
    let tmp =
        std::env::temp_dir().join(format!("convlab-fashion-published-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    for (file, mtime) in [
        (&spec.train_images, 1_504_176_606u32),
        (&spec.train_labels, 1_504_176_606),
        (&spec.test_images, 1_504_176_627),
        (&spec.test_labels, 1_504_176_627),
    ] {
        let debian = std::fs::read(Path::new(DEBIAN_DIR).join(format!("{}.gz", file.name)))
            .expect("Debian's file");
        // 1f 8b 08, then flags, mtime (4 bytes LE), XFL, OS: Debian's has no name.
        assert_eq!(debian[..4], [0x1f, 0x8b, 0x08, 0x00], "{}", file.name);
        let mut rebuilt = vec![0x1f, 0x8b, 0x08, 0x08];
        rebuilt.extend_from_slice(&mtime.to_le_bytes());
        rebuilt.extend_from_slice(&[0x00, 0x03]);
        rebuilt.extend_from_slice(file.name.as_bytes());
        rebuilt.push(0);
        rebuilt.extend_from_slice(&debian[10..]);

        let published = file.published.as_ref().expect("published hash on record");
        let path = tmp.join(&published.name);
        std::fs::write(&path, &rebuilt).expect("write");
        assert_eq!(rebuilt.len() as u64, published.size, "{}", file.name);
        let array = read_idx(&path).expect("the rebuilt file is a good gzip");
        assert_eq!(
            verify_file(&path, file, &array).expect("verified"),
            Verified::AsPublished,
            "{}",
            file.name
        );
        // Debian's own copy is not the published file, and is verified by its contents.
        let debian_path = Path::new(DEBIAN_DIR).join(format!("{}.gz", file.name));
        let array = read_idx(&debian_path).expect("Debian's file");
        assert_eq!(
            verify_file(&debian_path, file, &array).expect("verified"),
            Verified::Contents
        );
    }
    // The rebuilt directory loads as Fashion-MNIST.
    fashion_mnist::load_data_from(&LoadOptions::only_dir(&tmp)).expect("load the rebuilt files");
    let _ = std::fs::remove_dir_all(&tmp);
}
