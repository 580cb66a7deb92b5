//! `DatasetName`: the datasets convlab can load, by the names `--dataset` takes, each with what a
//! model needs to know of it before loading (classes, image shape, sizes) and one `load_from`.
//!
//! ```no_run
//! use convlab_datasets::{DatasetName, LoadOptions};
//!
//! let dataset = DatasetName::parse("cifar10")?;
//! assert_eq!(dataset.item_shape(), [32, 32, 3]);
//! let ((x_train, y_train), (x_test, y_test)) = dataset.load_from(&LoadOptions::standard())?;
//! assert_eq!(x_train.item_shape(), dataset.item_shape());
//! # let _ = (y_train, x_test, y_test);
//! # Ok::<(), convlab_datasets::DatasetError>(())
//! ```
//!
//! (Named `DatasetName` rather than `Dataset` because `convlab_nn::Dataset` is the trait a
//! training loop reads batches through.)

use std::fmt;
use std::str::FromStr;

use crate::cifar10::{self, CifarSpec};
use crate::error::DatasetError;
use crate::load::{load, LoadedData};
use crate::source::LoadOptions;
use crate::spec::DatasetSpec;
use crate::{fashion_mnist, kmnist, mnist};

/// One of the datasets convlab knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DatasetName {
    /// Zalando's clothing images: the default, the chapter's dataset.
    #[default]
    FashionMnist,
    /// LeCun's handwritten digits.
    Mnist,
    /// Kuzushiji-MNIST: cursive hiragana.
    Kmnist,
    /// 32x32 colour photographs in 10 classes.
    Cifar10,
}

impl DatasetName {
    /// Every dataset, the default first.
    pub const ALL: [DatasetName; 4] = [
        DatasetName::FashionMnist,
        DatasetName::Mnist,
        DatasetName::Kmnist,
        DatasetName::Cifar10,
    ];

    /// The dataset called `name` (`fashion-mnist`, `mnist`, `kmnist`, `cifar10`); an unknown
    /// name is an error that lists the known ones.
    pub fn parse(name: &str) -> Result<DatasetName, DatasetError> {
        DatasetName::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .ok_or_else(|| DatasetError::UnknownDataset {
                name: name.to_string(),
                known: DatasetName::ALL.map(DatasetName::name).join(", "),
            })
    }

    /// The name `--dataset` takes, which is also the directory under the cache and under
    /// `CONVLAB_DATA`.
    pub fn name(self) -> &'static str {
        match self {
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Mnist => "mnist",
            DatasetName::Kmnist => "kmnist",
            DatasetName::Cifar10 => "cifar10",
        }
    }

    /// The name for people, e.g. `Fashion-MNIST`.
    pub fn title(self) -> &'static str {
        match self {
            DatasetName::FashionMnist => "Fashion-MNIST",
            DatasetName::Mnist => "MNIST",
            DatasetName::Kmnist => "Kuzushiji-MNIST",
            DatasetName::Cifar10 => "CIFAR-10",
        }
    }

    /// The class of each label value.
    pub fn class_names(self) -> &'static [&'static str] {
        match self {
            DatasetName::FashionMnist => &fashion_mnist::CLASS_NAMES,
            DatasetName::Mnist => &mnist::CLASS_NAMES,
            DatasetName::Kmnist => &kmnist::CLASS_NAMES,
            DatasetName::Cifar10 => &cifar10::CLASS_NAMES,
        }
    }

    pub fn num_classes(self) -> usize {
        self.class_names().len()
    }

    /// [rows, cols, channels] of one image: a model's input shape.
    pub fn item_shape(self) -> [usize; 3] {
        match self {
            DatasetName::Cifar10 => [32, 32, 3],
            _ => [28, 28, 1],
        }
    }

    /// Images in the training set (before any validation split).
    pub fn train_len(self) -> usize {
        match self {
            DatasetName::Cifar10 => 50_000,
            _ => 60_000,
        }
    }

    /// Images in the test set.
    pub fn test_len(self) -> usize {
        10_000
    }

    /// What verification establishes about a copy of this dataset, in one sentence.
    pub fn verification(self) -> &'static str {
        match self {
            DatasetName::FashionMnist => {
                "the SHA-256 of each decompressed file (or of the .gz as published)"
            }
            DatasetName::Mnist | DatasetName::Kmnist => {
                "the SHA-256 of each .gz as published; a recompressed or plain copy by its \
                 decompressed size and IDX structure only"
            }
            DatasetName::Cifar10 => {
                "a download by the archive's published SHA-256; local batches by structure only \
                 (exact sizes, labels below 10)"
            }
        }
    }

    /// The description of its files, for an IDX dataset.
    pub fn idx_spec(self) -> Option<DatasetSpec> {
        match self {
            DatasetName::FashionMnist => Some(fashion_mnist::spec()),
            DatasetName::Mnist => Some(mnist::spec()),
            DatasetName::Kmnist => Some(kmnist::spec()),
            DatasetName::Cifar10 => None,
        }
    }

    /// The description of its files, for a dataset in CIFAR-10's binary format.
    pub fn cifar_spec(self) -> Option<CifarSpec> {
        match self {
            DatasetName::Cifar10 => Some(cifar10::spec()),
            _ => None,
        }
    }

    /// Finds, reads and checks the dataset as `options` say: `((x_train, y_train), (x_test,
    /// y_test))`, images [N, H, W, C] u8 of `item_shape()`.
    pub fn load_from(self, options: &LoadOptions) -> Result<LoadedData, DatasetError> {
        match (self.idx_spec(), self.cifar_spec()) {
            (Some(spec), _) => load(&spec, options),
            (None, Some(spec)) => cifar10::load(&spec, options),
            (None, None) => unreachable!("every dataset has a spec of one kind"),
        }
    }

    /// `load_from` with the standard search (`LoadOptions::standard()`).
    pub fn load_data(self) -> Result<LoadedData, DatasetError> {
        self.load_from(&LoadOptions::standard())
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetName {
    type Err = DatasetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatasetName::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for d in DatasetName::ALL {
            assert_eq!(DatasetName::parse(d.name()).expect("known"), d);
            assert_eq!(d.to_string().parse::<DatasetName>().expect("known"), d);
            assert_eq!(d.num_classes(), 10);
        }
        assert_eq!(DatasetName::default(), DatasetName::FashionMnist);
        let message = DatasetName::parse("cifar-10")
            .expect_err("unknown")
            .to_string();
        assert_eq!(
            message,
            "unknown dataset \"cifar-10\": the datasets are fashion-mnist, mnist, kmnist, cifar10"
        );
    }

    #[test]
    fn every_dataset_has_exactly_one_spec_that_agrees_with_it() {
        for d in DatasetName::ALL {
            match (d.idx_spec(), d.cifar_spec()) {
                (Some(spec), None) => {
                    assert_eq!((spec.name, spec.title), (d.name(), d.title()));
                    assert_eq!(spec.item_shape, Some(d.item_shape()));
                    assert_eq!(spec.num_classes as usize, d.num_classes());
                    let [rows, cols, _] = d.item_shape();
                    assert_eq!(
                        spec.train_images.size,
                        16 + (d.train_len() * rows * cols) as u64
                    );
                    assert_eq!(spec.test_labels.size, 8 + d.test_len() as u64);
                }
                (None, Some(spec)) => {
                    assert_eq!((spec.name, spec.title), (d.name(), d.title()));
                    let l = spec.layout;
                    assert_eq!([l.rows, l.cols, l.channels], d.item_shape());
                    assert_eq!(l.records * spec.train_files.len(), d.train_len());
                    assert_eq!(l.records * spec.test_files.len(), d.test_len());
                    assert_eq!(l.classes as usize, d.num_classes());
                }
                other => panic!("{d}: {other:?}"),
            }
        }
    }
}
