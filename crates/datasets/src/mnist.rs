//! MNIST (LeCun, Cortes and Burges): 70,000 28x28 grayscale handwritten digits, 60,000 to train
//! and 10,000 to test.
//!
//! Verification checks the decompressed sizes and the IDX structure only: no SHA-256 of the
//! decompressed MNIST files is recorded here, because none could be checked against the real
//! files on the machine this was written on, and a hash that was not checked would be a guess.
//! Note that MNIST and Fashion-MNIST use the same file names and sizes, so without a hash a
//! directory of Fashion-MNIST files would load as MNIST: keep each in its own `<dataset>/`
//! subdirectory of `CONVLAB_DATA`.

use crate::error::DatasetError;
use crate::load::{load, LoadedData};
use crate::source::LoadOptions;
use crate::spec::{DatasetSpec, FileSpec};

/// The class of each label value: the digit it shows.
pub const CLASS_NAMES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

pub fn spec() -> DatasetSpec {
    DatasetSpec {
        name: "mnist",
        title: "MNIST",
        train_images: FileSpec::new("train-images-idx3-ubyte", 47_040_016, None),
        train_labels: FileSpec::new("train-labels-idx1-ubyte", 60_008, None),
        test_images: FileSpec::new("t10k-images-idx3-ubyte", 7_840_016, None),
        test_labels: FileSpec::new("t10k-labels-idx1-ubyte", 10_008, None),
        num_classes: 10,
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
