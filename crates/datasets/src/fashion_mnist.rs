//! Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017; <https://github.com/zalandoresearch/fashion-mnist>):
//! 70,000 28x28 grayscale images of clothing in 10 classes, 60,000 to train and 10,000 to test,
//! in the same four IDX files as MNIST.
//!
//! ```no_run
//! let ((x_train, y_train), (x_test, y_test)) = convlab_datasets::fashion_mnist::load_data()?;
//! assert_eq!(x_train.shape(), [60_000, 28, 28, 1]);
//! # Ok::<(), convlab_datasets::DatasetError>(())
//! ```

use std::path::PathBuf;

use crate::error::DatasetError;
use crate::load::{load, LoadedData};
use crate::source::LoadOptions;
use crate::spec::{DatasetSpec, FileSpec};

/// The class of each label value, as the dataset's authors name them.
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The four files, with the sizes and SHA-256s of their decompressed bytes (checked against
/// Debian's `dataset-fashion-mnist` with `zcat FILE.gz | sha256sum`) and of the `.gz` files as
/// published (TensorFlow Datasets records them: tensorflow/datasets,
/// tensorflow_datasets/url_checksums/fashion_mnist.txt).
///
/// The published hashes were checked here too, against Debian's files: Debian rewrote each
/// gzip header (dropping the stored file name, setting a 2020 timestamp) but kept the
/// compressed data, so putting the original header back (flags FNAME, the name, mtime
/// 1504176606 for the train files and 1504176627 for the t10k files, 31 August 2017) rebuilds
/// files of exactly the published sizes and hashes
/// (`tests/integration/real_fashion_mnist.rs` does it).
/// A copy of Debian's files themselves does not match them, and is verified by its contents.
pub fn spec() -> DatasetSpec {
    DatasetSpec {
        name: "fashion-mnist",
        title: "Fashion-MNIST",
        train_images: FileSpec::new(
            "train-images-idx3-ubyte",
            47_040_016,
            Some("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        )
        .published(
            26_421_880,
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        ),
        train_labels: FileSpec::new(
            "train-labels-idx1-ubyte",
            60_008,
            Some("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        )
        .published(
            29_515,
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        ),
        test_images: FileSpec::new(
            "t10k-images-idx3-ubyte",
            7_840_016,
            Some("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        )
        .published(
            4_422_102,
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        ),
        test_labels: FileSpec::new(
            "t10k-labels-idx1-ubyte",
            10_008,
            Some("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        )
        .published(
            5_148,
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ),
        num_classes: 10,
        item_shape: Some([28, 28, 1]),
        mirrors: vec![
            // The mirror Keras's fashion_mnist.load_data() uses.
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/".to_string(),
            // The authors' own: their S3 bucket and their repository.
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/".to_string(),
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
                .to_string(),
        ],
        system_dir: Some(PathBuf::from("/usr/share/datasets/fashion-mnist")),
        apt_package: Some("dataset-fashion-mnist"),
    }
}

/// Loads Fashion-MNIST from the standard places (see `source`), downloading it if needed.
pub fn load_data() -> Result<LoadedData, DatasetError> {
    load_data_from(&LoadOptions::standard())
}

/// Loads Fashion-MNIST as `options` say (an explicit directory, no verification, ...).
pub fn load_data_from(options: &LoadOptions) -> Result<LoadedData, DatasetError> {
    load(&spec(), options)
}
