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
