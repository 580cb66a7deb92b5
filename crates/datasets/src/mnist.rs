//! MNIST (LeCun, Cortes and Burges; <http://yann.lecun.com/exdb/mnist/>): 70,000 28x28 grayscale
//! handwritten digits, 60,000 to train and 10,000 to test.
//!
//! Verification: the sizes and SHA-256s of the four `.gz` files as published are on record
//! (below), so a download is checked byte for byte, and so is a local `.gz` that is the
//! published file. No SHA-256 of the *decompressed* files is recorded: none could be checked
//! against the real files on the machine this was written on, and a hash that was not checked
//! would be a guess. So a recompressed or plain copy is checked by its decompressed size and
//! IDX structure only (`verify::Verified::Structure`). Note that MNIST, Fashion-MNIST and KMNIST
//! use the same file names and sizes, so such a copy of one would load as another: keep each
//! in its own `<dataset>/` subdirectory of `CONVLAB_DATA`.

use crate::error::DatasetError;
use crate::load::{load, LoadedData};
use crate::source::LoadOptions;
use crate::spec::{DatasetSpec, FileSpec};

/// The class of each label value: the digit it shows.
pub const CLASS_NAMES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

pub fn spec() -> DatasetSpec {
    // Published sizes and SHA-256s as TensorFlow Datasets records them for the first mirror
    // (tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt); the same values appear
    // in other projects that check LeCun's original files, so the second mirror serves the same
    // bytes.
    DatasetSpec {
        name: "mnist",
        title: "MNIST",
        train_images: FileSpec::new("train-images-idx3-ubyte", 47_040_016, None).published(
            9_912_422,
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        train_labels: FileSpec::new("train-labels-idx1-ubyte", 60_008, None).published(
            28_881,
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        test_images: FileSpec::new("t10k-images-idx3-ubyte", 7_840_016, None).published(
            1_648_877,
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        test_labels: FileSpec::new("t10k-labels-idx1-ubyte", 10_008, None).published(
            4_542,
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
        num_classes: 10,
        item_shape: Some([28, 28, 1]),
        mirrors: vec![
            "https://storage.googleapis.com/cvdf-datasets/mnist/".to_string(),
            "https://ossci-datasets.s3.amazonaws.com/mnist/".to_string(),
        ],
        system_dir: None,
        apt_package: None,
    }
}

/// Loads MNIST from the standard places (see `source`), downloading it if needed.
pub fn load_data() -> Result<LoadedData, DatasetError> {
    load_data_from(&LoadOptions::standard())
}

/// Loads MNIST as `options` say.
pub fn load_data_from(options: &LoadOptions) -> Result<LoadedData, DatasetError> {
    load(&spec(), options)
}
