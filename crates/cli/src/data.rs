//! Loading a dataset for the commands: Fashion-MNIST (the chapter's, the default), MNIST, KMNIST
//! or CIFAR-10, found as convlab-datasets searches; the chapter's split of the training set
//! (scikit-learn's `train_test_split(test_size=0.2, random_state=42)`, for any size); and the
//! images kept as u8 for training.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use convlab_datasets::{train_test_split, DatasetName, LoadOptions};
use convlab_nn::layers::keras_shape;
use convlab_nn::{Sequential, U8Images};

/// Which dataset (`--dataset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetArg {
    /// Zalando's clothes, 28x28 grey, 10 classes: the chapter's.
    FashionMnist,
    /// Handwritten digits, 28x28 grey, 10 classes.
    Mnist,
    /// Kuzushiji (cursive Japanese) characters, 28x28 grey, 10 classes.
    Kmnist,
    /// Photographs, 32x32 colour, 10 classes.
    Cifar10,
}

impl DatasetArg {
    /// The name `--dataset` takes, and a checkpoint records.
    pub fn name(self) -> &'static str {
        self.dataset().name()
    }

    /// convlab-datasets' name for it, which knows its files, classes and shapes.
    pub fn dataset(self) -> DatasetName {
        match self {
            DatasetArg::FashionMnist => DatasetName::FashionMnist,
            DatasetArg::Mnist => DatasetName::Mnist,
            DatasetArg::Kmnist => DatasetName::Kmnist,
            DatasetArg::Cifar10 => DatasetName::Cifar10,
        }
    }

    pub fn title(self) -> &'static str {
        self.dataset().title()
    }

    pub fn class_names(self) -> &'static [&'static str] {
        self.dataset().class_names()
    }

    /// One image's shape, (height, width, channels).
    pub fn item_shape(self) -> [usize; 3] {
        self.dataset().item_shape()
    }

    fn from_name(name: &str) -> Option<DatasetArg> {
        DatasetArg::value_variants()
            .iter()
            .copied()
            .find(|d| d.name() == name)
    }
}

/// Where the data comes from (shared by every command that reads it).
#[derive(Args, Clone, Debug)]
pub struct DataArgs {
    /// The dataset (default: the one a checkpoint was trained on, else fashion-mnist).
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetArg>,
    /// Directory holding the dataset's files (.gz or plain IDX; CIFAR-10's .bin batches);
    /// default: $CONVLAB_DATA, the user cache, Debian's /usr/share/datasets/DATASET where one
    /// exists, then a verified download into the cache.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Skip the SHA-256 check of the files (for custom data in the same format).
    #[arg(long)]
    pub no_verify: bool,
}

impl DataArgs {
    /// `--dataset`, else the one `model` records (a checkpoint's), else Fashion-MNIST.
    pub fn dataset_for(&self, model: &Sequential) -> Result<DatasetArg> {
        if let Some(d) = self.dataset {
            return Ok(d);
        }
        match &model.dataset {
            None => Ok(DatasetArg::FashionMnist),
            Some(name) => DatasetArg::from_name(name).with_context(|| {
                format!(
                    "the model says it was trained on {:?}, which convlab does not know; give --dataset",
                    convlab_nn::text::escape(name)
                )
            }),
        }
    }
}

/// Which images a command looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Split {
    /// All training images as loaded (the chapter's `train_input`).
    All,
    /// The training 80% of the chapter's split.
    Train,
    /// The validation 20% of the chapter's split.
    Val,
    /// The test images.
    Test,
}

impl Split {
    /// The name `--split` takes (for messages a person can act on).
    pub fn name(self) -> &'static str {
        match self {
            Split::All => "all",
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

/// A dataset loaded and split: the training set, its two parts, and the test set.
pub struct Data {
    pub dataset: DatasetArg,
    pub all: U8Images,
    pub train: U8Images,
    pub val: U8Images,
    pub test: U8Images,
}

impl Data {
    pub fn split(&self, split: Split) -> &U8Images {
        match split {
            Split::All => &self.all,
            Split::Train => &self.train,
            Split::Val => &self.val,
            Split::Test => &self.test,
        }
    }

    pub fn class_names(&self) -> &'static [&'static str] {
        self.dataset.class_names()
    }
}

/// Why `model` cannot classify `dataset`'s images (its input is not their shape, or its output
/// not one value per class), or None. `what` names the model in the message.
pub fn mismatch(model: &Sequential, dataset: DatasetArg) -> Option<String> {
    if let Some(problem) = input_mismatch(model, dataset) {
        return Some(problem);
    }
    let classes = dataset.class_names().len();
    if model.output_shape() != [classes] {
        return Some(format!(
            "the last layer outputs {}, but {} has {classes} classes: it needs (None, {classes})",
            keras_shape(model.output_shape()),
            dataset.title(),
        ));
    }
    None
}

/// Why `model` cannot read `dataset`'s images, or None.
pub fn input_mismatch(model: &Sequential, dataset: DatasetArg) -> Option<String> {
    let input = dataset.item_shape();
    (model.input_shape() != input).then(|| {
        format!(
            "the model takes {}, but {} images are {}",
            keras_shape(model.input_shape()),
            dataset.title(),
            keras_shape(&input)
        )
    })
}

/// Refuses a model that cannot classify the dataset's images, before any data is read.
pub fn check_model(model: &Sequential, dataset: DatasetArg, what: &str) -> Result<()> {
    match mismatch(model, dataset) {
        Some(problem) => anyhow::bail!("{what}: {problem} (--dataset chooses the data)"),
        None => Ok(()),
    }
}

/// Loads the dataset `model` is for (see `DataArgs::dataset_for`), after checking that the
/// model can classify its images; `what` names the model in errors.
pub fn load(args: &DataArgs, model: &Sequential, what: &str) -> Result<Data> {
    let dataset = args.dataset_for(model)?;
    check_model(model, dataset, what)?;
    load_dataset(args, dataset)
}

/// Loads `dataset` and splits its training set.
pub fn load_dataset(args: &DataArgs, dataset: DatasetArg) -> Result<Data> {
    let options = LoadOptions::standard()
        .data_dir(args.data.clone())
        .verify(!args.no_verify);
    let ((train_images, train_labels), (test_images, test_labels)) = dataset
        .dataset()
        .load_from(&options)
        .with_context(|| format!("loading {}", dataset.title()))?;
    let expected = dataset.item_shape();
    for (name, images) in [("training", &train_images), ("test", &test_images)] {
        anyhow::ensure!(
            images.item_shape() == expected,
            "the {name} images are {}, but {} images are {} (--data gives the directory)",
            keras_shape(&images.item_shape()),
            dataset.title(),
            keras_shape(&expected)
        );
    }
    let full = U8Images::new(
        "the training images",
        Arc::new(train_images.pixels),
        Arc::new(train_labels),
        &expected,
    )?;
    let split =
        train_test_split(full.labels.len(), 0.2, 42).context("splitting the training set")?;
    let test = U8Images::new(
        "the test images",
        Arc::new(test_images.pixels),
        Arc::new(test_labels),
        &expected,
    )?;
    Ok(Data {
        dataset,
        train: full.subset(split.train),
        val: full.subset(split.test),
        all: full,
        test,
    })
}
