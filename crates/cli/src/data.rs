//! Loading Fashion-MNIST for the commands: the files (found as convlab-datasets searches), the
//! chapter's split of the training set (scikit-learn's `train_test_split(test_size=0.2,
//! random_state=42)`), and the images kept as u8 for training.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use convlab_datasets::{fashion_mnist, train_test_split, LoadOptions};
use convlab_nn::U8Images;

pub use fashion_mnist::CLASS_NAMES;

/// Where the data comes from (shared by every command that reads it).
#[derive(Args, Clone, Debug)]
pub struct DataArgs {
    /// Directory holding the four Fashion-MNIST files (.gz or plain); default: $CONVLAB_DATA,
    /// the user cache, /usr/share/datasets/fashion-mnist, then a download into the cache.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Skip the SHA-256 check of the files (for custom data in the same format).
    #[arg(long)]
    pub no_verify: bool,
}

/// Which images a command looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Split {
    /// All 60,000 training images as loaded (the chapter's `train_input`).
    All,
    /// The 48,000 training images of the chapter's split.
    Train,
    /// The 12,000 validation images of the chapter's split.
    Val,
    /// The 10,000 test images.
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

/// The chapter's data: the split training set and the test set.
pub struct ChapterData {
    pub all: U8Images,
    pub train: U8Images,
    pub val: U8Images,
    pub test: U8Images,
}

impl ChapterData {
    /// Refuses data whose images are not what the model reads (every split has one shape).
    fn check_fits(&self, model_input: &[usize]) -> Result<()> {
        for (name, split) in [("training", &self.all), ("test", &self.test)] {
            anyhow::ensure!(
                split.item_shape == model_input,
                "the {name} images are {}, but the model takes {} (--data gives the directory)",
                shape_text(&split.item_shape),
                shape_text(model_input)
            );
        }
        Ok(())
    }

    pub fn split(&self, split: Split) -> &U8Images {
        match split {
            Split::All => &self.all,
            Split::Train => &self.train,
            Split::Val => &self.val,
            Split::Test => &self.test,
        }
    }
}

/// Loads the data for a model whose input is `model_input`; images of another shape are an error
/// before anything runs.
pub fn load(args: &DataArgs, model_input: &[usize]) -> Result<ChapterData> {
    let options = LoadOptions::standard()
        .data_dir(args.data.clone())
        .verify(!args.no_verify);
    let ((train_images, train_labels), (test_images, test_labels)) =
        fashion_mnist::load_data_from(&options).context("loading Fashion-MNIST")?;
    // convlab-datasets has checked that both sets hold images of one size.
    let shape = [train_images.rows, train_images.cols, 1];
    let full = U8Images::new(
        "the training images",
        Arc::new(train_images.pixels),
        Arc::new(train_labels),
        &shape,
    )?;
    let split =
        train_test_split(full.labels.len(), 0.2, 42).context("splitting the training set")?;
    let test = U8Images::new(
        "the test images",
        Arc::new(test_images.pixels),
        Arc::new(test_labels),
        &[test_images.rows, test_images.cols, 1],
    )?;
    let data = ChapterData {
        train: full.subset(split.train),
        val: full.subset(split.test),
        all: full,
        test,
    };
    data.check_fits(model_input)?;
    Ok(data)
}

/// `28x28x1`.
fn shape_text(shape: &[usize]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}
