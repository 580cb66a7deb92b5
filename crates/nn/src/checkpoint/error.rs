//! What can go wrong saving or loading a checkpoint.
//!
//! A checkpoint is a file a person hands us, so nothing in loading panics: every defect becomes a
//! `Problem` wrapped in `CheckpointError::Invalid`, which names the file. `Problem` is public so
//! that tests (and callers) can match on the exact defect rather than on message text.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::ModelError;

#[derive(Debug, Error)]
pub enum CheckpointError {
    /// Opening or reading the file failed (the OS error says why).
    #[error("{}: cannot read the checkpoint: {cause}", path.display())]
    Read {
        path: PathBuf,
        /// The OS error (part of the message, so not also a `source()`).
        cause: io::Error,
    },

    /// Writing, flushing or renaming failed; any previous file at `path` is untouched.
    #[error("{}: cannot write the checkpoint: {cause}", path.display())]
    Write {
        path: PathBuf,
        /// The OS error (part of the message, so not also a `source()`).
        cause: io::Error,
    },

    /// A caller-supplied writer failed (`write_checkpoint_to`), so there is no path to name.
    #[error("writing the checkpoint failed: {0}")]
    Stream(io::Error),

    /// The bytes are not a convlab checkpoint this version can load.
    #[error("{file}: {problem}")]
    Invalid { file: String, problem: Problem },

    /// The model or training state cannot be written so that it reads back (caught before any
    /// byte is written).
    #[error("cannot save the checkpoint: {0}")]
    Unsaveable(String),
}

/// One defect of a checkpoint file, from the byte layout up to the model it describes.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Problem {
    // --- The safetensors layout.
    #[error("the file is {len} bytes, shorter than the 8-byte header length that starts a safetensors file")]
    TooShort { len: usize },
    #[error("the header length field says {declared} bytes, more than the {limit}-byte limit (not a safetensors file, or a corrupt one)")]
    HeaderTooLarge { declared: u64, limit: u64 },
    #[error("the header length field says {declared} bytes, but only {available} bytes follow it (truncated?)")]
    HeaderBeyondFile { declared: u64, available: usize },
    #[error("the header is not valid safetensors JSON: {0}")]
    HeaderJson(String),
    #[error("tensor {name:?} has dtype {dtype}; convlab checkpoints hold only F32")]
    Dtype { name: String, dtype: String },
    #[error("tensor {name:?} has shape {shape:?}, whose size overflows")]
    ShapeOverflow { name: String, shape: Vec<usize> },
    #[error("tensor {name:?} has data_offsets [{begin}, {end}], which end before they begin")]
    OffsetsReversed { name: String, begin: u64, end: u64 },
    #[error("tensor {name:?} ends at byte {end}, but the data section has only {len} bytes (truncated?)")]
    OffsetsOutOfRange { name: String, end: u64, len: usize },
    #[error("tensor {name:?} of shape {shape:?} needs {needed} bytes, but its data_offsets span {spanned}")]
    SizeMismatch {
        name: String,
        shape: Vec<usize>,
        needed: u64,
        spanned: u64,
    },
    #[error("tensor {name:?} starts at byte {begin}, but the tensors before it end at byte {expected}: tensors must follow one another without gaps or overlaps")]
    NotContiguous {
        name: String,
        begin: u64,
        expected: u64,
    },
    #[error("the tensors cover {covered} bytes of the {len}-byte data section; the rest belongs to no tensor")]
    Uncovered { covered: u64, len: usize },

    // --- convlab's metadata.
    #[error("the header has no {0:?} metadata (not a convlab checkpoint?)")]
    MissingMetadata(&'static str),
    #[error("checkpoint format {0:?} is not supported (this convlab reads format \"1\")")]
    FormatVersion(String),
    #[error("the architecture JSON is invalid: {0}")]
    Architecture(String),
    #[error("the architecture does not build a model: {0}")]
    Model(ModelError),
    #[error("the architecture needs {needed} weight values, more than the {available}-byte file can hold")]
    TooManyWeights { needed: usize, available: usize },
    #[error("the training state JSON is invalid: {0}")]
    TrainingState(String),

    // --- The tensors against the architecture.
    #[error("weight {0:?} of the architecture is missing")]
    MissingWeight(String),
    #[error("weight {name:?} should have shape {expected:?} for this architecture, but the file has {got:?}")]
    WeightShape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("training-state tensor {0:?} is listed in the metadata but missing")]
    MissingStateTensor(String),
    #[error(
        "tensor {0:?} is neither a weight of the architecture nor a listed training-state tensor"
    )]
    UnexpectedTensor(String),
    #[error("tensor {name:?} holds {count} NaN or infinite values (a model that diverged?)")]
    NotFinite { name: String, count: usize },
    #[error("{place} holds a control or formatting character ({}); names and text in a checkpoint must be printable", text.escape_unicode())]
    ControlCharacter { place: String, text: String },
}

impl CheckpointError {
    pub(crate) fn invalid(file: &str, problem: Problem) -> Self {
        CheckpointError::Invalid {
            file: file.to_string(),
            problem,
        }
    }

    /// The defect, when the error is about the file's content.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            CheckpointError::Invalid { problem, .. } => Some(problem),
            _ => None,
        }
    }
}
