//! Where a command's model comes from: `--model FILE` names a model file (convlab's TOML or
//! Keras's JSON: an architecture, built fresh from `--seed`) or a checkpoint written by `convlab
//! train` (an architecture and its trained weights); without it, the chapter's model.
//!
//! Which one a file is does not depend on what the file claims about itself: a `.safetensors`
//! name, or else the safetensors framing (an 8-byte header length, then `{`), makes it a
//! checkpoint; anything else is read as a model file.

use std::io::Read;
use std::path::Path;

use anyhow::Result;
use convlab_nn::model_file::ModelFile;
use convlab_nn::{chapter_model, ConvAlgorithm, Layer, Sequential};

use crate::commands::ConvArg;

/// A `--model` argument, opened.
pub enum Source {
    /// A model file's architecture; `build` draws its weights.
    File(ModelFile),
    /// A checkpoint's model, at its trained weights.
    Checkpoint(Sequential),
}

/// Whether `path` holds a checkpoint rather than a model file.
pub fn is_checkpoint(path: &Path) -> bool {
    if path.extension().and_then(|e| e.to_str()) == Some("safetensors") {
        return true;
    }
    if !path.is_file() {
        return false;
    }
    let mut head = [0u8; 9];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head));
    read.is_ok() && head[8] == b'{' && u64::from_le_bytes(head[..8].try_into().unwrap()) > 1
}

impl Source {
    pub fn open(path: &Path) -> Result<Source> {
        if is_checkpoint(path) {
            Ok(Source::Checkpoint(convlab_nn::checkpoint::load_model(
                path,
            )?))
        } else {
            Ok(Source::File(ModelFile::read(path)?))
        }
    }

    /// The model: a model file built from `seed`, a checkpoint as saved. `conv` other than auto
    /// sets every Conv2D's algorithm (a model file's own `algorithm` stays under auto).
    pub fn into_model(self, seed: u64, conv: ConvArg) -> Result<Sequential> {
        let mut model = match self {
            Source::File(file) => {
                crate::memory::ensure_fits(
                    &format!("{}: its {} weights", file.file, file.weight_count()),
                    file.weight_count() as f64 * 4.0,
                )?;
                file.build(seed)?
            }
            Source::Checkpoint(model) => model,
        };
        set_conv(&mut model, conv);
        Ok(model)
    }
}

/// Every Conv2D of `model` runs `conv`, unless it is auto.
pub fn set_conv(model: &mut Sequential, conv: ConvArg) {
    if conv == ConvArg::Auto {
        return;
    }
    for entry in model.layers_mut() {
        if let Layer::Conv2D(c) = &mut entry.layer {
            c.algorithm = ConvAlgorithm::from(conv);
        }
    }
}

/// The model `--model` names (either kind), or the chapter's.
pub fn model_or_chapter(path: Option<&Path>, seed: u64, conv: ConvArg) -> Result<Sequential> {
    match path {
        Some(path) => Source::open(path)?.into_model(seed, conv),
        None => Ok(chapter_model(seed, conv.into())),
    }
}

/// A model file for commands that train from scratch (a checkpoint is refused: its weights
/// would be thrown away without a word).
pub fn model_file(path: &Path, option: &str) -> Result<ModelFile> {
    anyhow::ensure!(
        !is_checkpoint(path),
        "{option} {}: this is a checkpoint; {option} takes a model file (TOML or Keras JSON, see models/), and `convlab train --resume BACKUP` continues a run",
        path.display()
    );
    Ok(ModelFile::read(path)?)
}
