//! One module per `convlab` command.

pub mod bench;
pub mod evaluate;
pub mod gradcheck;
pub mod inspect;
pub mod plot_model;
pub mod predict;
pub mod summary;
pub mod train;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::ValueEnum;
use convlab_nn::{ConvAlgorithm, Sequential};

/// `--conv im2col|direct`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum ConvArg {
    Im2col,
    Direct,
}

impl From<ConvArg> for ConvAlgorithm {
    fn from(c: ConvArg) -> Self {
        match c {
            ConvArg::Im2col => ConvAlgorithm::Im2col,
            ConvArg::Direct => ConvAlgorithm::Direct,
        }
    }
}

/// Loads a model saved by `train`; the error names the file and the problem.
pub fn load_model(path: &Path) -> Result<Sequential> {
    Ok(convlab_nn::checkpoint::load_model(path)?)
}

/// Loads a model that classifies Fashion-MNIST: input (28, 28, 1), 10 outputs.
pub fn load_classifier(path: &Path) -> Result<Sequential> {
    let model = load_model(path)?;
    check_classifier(&model, path)?;
    Ok(model)
}

/// Refuses a model that does not map Fashion-MNIST images to 10 classes (instead of failing, or
/// drawing nonsense, halfway through a command).
pub fn check_classifier(model: &Sequential, path: &Path) -> Result<()> {
    use convlab_nn::layers::keras_shape;
    anyhow::ensure!(
        model.input_shape() == [28, 28, 1] && model.output_shape() == [10],
        "{}: the model maps {} to {}, but Fashion-MNIST needs (None, 28, 28, 1) to (None, 10)",
        path.display(),
        keras_shape(model.input_shape()),
        keras_shape(model.output_shape())
    );
    Ok(())
}

/// `dir/stem.ext` beside `path`: best-cnn-model.safetensors -> best-cnn-model.history.csv.
pub fn beside(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    path.with_file_name(format!("{stem}.{suffix}"))
}

/// Writes a file atomically and says so.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    convlab_cli::draw::write_atomic(path, bytes)?;
    println!("wrote {}", path.display());
    Ok(())
}
