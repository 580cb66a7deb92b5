//! Kuzushiji-MNIST (Clanuwat et al., "Deep Learning for Classical Japanese Literature", 2018;
//! <https://github.com/rois-codh/kmnist>): 70,000 28x28 grayscale images of cursive Japanese
//! (kuzushiji) hiragana, one character for each of the 10 rows of the hiragana table, 60,000 to
//! train and 10,000 to test (6,000 and 1,000 of each class), in MNIST's four IDX files.
//!
//! Verification is as for MNIST: the published `.gz` files' sizes and SHA-256s are on record, the
//! decompressed files' hashes are not, so a recompressed or plain copy is checked by size and
//! structure only. The authors re-published the files on 5 February 2019 after fixing an
//! image-processing bug (their README); a copy from before then is not these files.

use crate::error::DatasetError;
use crate::load::{load, LoadedData};
use crate::source::LoadOptions;
use crate::spec::{DatasetSpec, FileSpec};

/// The class of each label value, in romaji, as the dataset's `kmnist_classmap.csv` maps them.
pub const CLASS_NAMES: [&str; 10] = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"];

/// The same classes as the characters `kmnist_classmap.csv` lists (U+304A, U+304D, U+3059,
/// U+3064, U+306A, U+306F, U+307E, U+3084, U+308C, U+3092).
pub const HIRAGANA: [&str; 10] = [
    "\u{304a}", "\u{304d}", "\u{3059}", "\u{3064}", "\u{306a}", "\u{306f}", "\u{307e}", "\u{3084}",
    "\u{308c}", "\u{3092}",
];

pub fn spec() -> DatasetSpec {
    // The decompressed sizes follow from the format: a 16-byte header and 60,000 or 10,000
    // images of 784 bytes; an 8-byte header and one byte a label. Published sizes and SHA-256s
    // as TensorFlow Datasets records them (tensorflow/datasets,
    // tensorflow_datasets/datasets/kmnist/checksums.tsv, the same as the older
    // url_checksums/kmnist.txt); torchvision-ruby's KMNIST checks the same hashes.
    DatasetSpec {
        name: "kmnist",
        title: "Kuzushiji-MNIST",
        train_images: FileSpec::new("train-images-idx3-ubyte", 47_040_016, None).published(
            18_165_135,
            "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
        ),
        train_labels: FileSpec::new("train-labels-idx1-ubyte", 60_008, None).published(
            29_497,
            "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
        ),
        test_images: FileSpec::new("t10k-images-idx3-ubyte", 7_840_016, None).published(
            3_041_136,
            "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
        ),
        test_labels: FileSpec::new("t10k-labels-idx1-ubyte", 10_008, None).published(
            5_120,
            "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
        ),
        num_classes: 10,
        item_shape: Some([28, 28, 1]),
        // The authors' own (their download_data.py and README link these).
        mirrors: vec!["http://codh.rois.ac.jp/kmnist/dataset/kmnist/".to_string()],
        system_dir: None,
        apt_package: None,
    }
}

/// Loads Kuzushiji-MNIST from the standard places (see `source`), downloading it if needed.
pub fn load_data() -> Result<LoadedData, DatasetError> {
    load_data_from(&LoadOptions::standard())
}

/// Loads Kuzushiji-MNIST as `options` say.
pub fn load_data_from(options: &LoadOptions) -> Result<LoadedData, DatasetError> {
    load(&spec(), options)
}
