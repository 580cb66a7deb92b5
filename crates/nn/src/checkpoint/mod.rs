//! Checkpoints: a model, and optionally what is needed to resume training it, in one
//! self-contained `.safetensors` file.
//!
//! ```no_run
//! use std::path::Path;
//! use convlab_nn::checkpoint::{load_model, save_model};
//! use convlab_nn::{chapter_model, ConvAlgorithm};
//!
//! let model = chapter_model(42, ConvAlgorithm::Auto);
//! save_model(Path::new("model.safetensors"), &model).unwrap();
//! let again = load_model(Path::new("model.safetensors")).unwrap(); // rebuilt from the file alone
//! assert_eq!(again.summary(), model.summary());
//! ```
//!
//! The file is plain safetensors (`format.rs`, written and read here from scratch, no
//! `safetensors` crate), so Python reads it with `safetensors.numpy.load_file`: the weights
//! appear under Keras's names and layout (`conv2d/kernel` (3, 3, 1, 32), `conv2d/bias` (32),
//! ...), as F32 little-endian. The safetensors metadata carries the architecture as JSON: layer
//! types from the closed `Layer` set with every field checked, nothing executable
//! (`contents.rs` lists the keys). A resumable checkpoint adds a `TrainingState`: any named
//! tensors (optimizer moments, say) and a JSON value (epochs done, history, callback state, ...).
//!
//! Saving is atomic (`crate::atomic`): a crash or a full disk leaves the previous checkpoint whole.
//! Loading refuses any defect with an error naming the file and the problem, never panics, and
//! allocates nothing beyond the file's size: every size the header declares is checked against
//! the bytes present, and the architecture against the data it must fit (`architecture.rs`).
//!
//! Read in this order: `contents.rs` (what a checkpoint holds), `format.rs` (the bytes),
//! `header.rs`, `architecture.rs`, `error.rs`; the atomic write is `crate::atomic`.

mod architecture;
mod contents;
mod error;
mod format;
mod header;

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use convlab_tensor::Tensor;

pub use architecture::{MAX_LAYERS, MAX_RANK};
pub use error::{CheckpointError, Problem};
pub use format::MAX_HEADER_BYTES;

use crate::Sequential;

/// Metadata key of the format version; a reader refuses versions it does not know.
pub const FORMAT_KEY: &str = "convlab.format";
/// The version this code writes and reads.
pub const FORMAT_VERSION: &str = "1";
/// Metadata key of the architecture (`ModelConfig` as JSON).
pub const ARCHITECTURE_KEY: &str = "convlab.architecture";
/// Metadata key of the training state's JSON.
pub const TRAINING_STATE_KEY: &str = "convlab.training_state";
/// Metadata key of the JSON list of training-state tensor names.
pub const TRAINING_TENSORS_KEY: &str = "convlab.training_tensors";

/// What resuming training needs besides the weights. The checkpoint module does not interpret
/// it: an optimizer stores its moments as tensors (e.g. `optimizer/m/0`), the
/// training loop its epoch, callback state, callback state and history in `json`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainingState {
    /// Named tensors, in order; names must differ from each other and from the weights'.
    pub tensors: Vec<(String, Tensor)>,
    pub json: serde_json::Value,
}

/// Saves the model alone (architecture and weights), replacing `path` atomically.
pub fn save_model(path: &Path, model: &Sequential) -> Result<(), CheckpointError> {
    save_checkpoint(path, model, None)
}

/// Saves the model and, if given, the training state, replacing `path` atomically.
pub fn save_checkpoint(
    path: &Path,
    model: &Sequential,
    state: Option<&TrainingState>,
) -> Result<(), CheckpointError> {
    // Everything that could be refused is refused here, before the old file is touched.
    let encoded = contents::plan(model, state)?;
    crate::atomic::write_atomic(path, |w| encoded.write_to(w)).map_err(|cause| {
        CheckpointError::Write {
            path: path.to_path_buf(),
            cause,
        }
    })
}

/// Streams a checkpoint into any writer (a network stream, a test's failing writer).
pub fn write_checkpoint_to(
    writer: &mut impl Write,
    model: &Sequential,
    state: Option<&TrainingState>,
) -> Result<(), CheckpointError> {
    let encoded = contents::plan(model, state)?;
    encoded.write_to(writer).map_err(CheckpointError::Stream)
}

/// The checkpoint's bytes, in memory.
pub fn encode(
    model: &Sequential,
    state: Option<&TrainingState>,
) -> Result<Vec<u8>, CheckpointError> {
    let encoded = contents::plan(model, state)?;
    let mut bytes = Vec::with_capacity(encoded.len() as usize);
    encoded
        .write_to(&mut bytes)
        .map_err(CheckpointError::Stream)?;
    Ok(bytes)
}

/// Rebuilds a model, and its training state if the checkpoint has one, from a checkpoint's
/// bytes; `name` (usually the path) is what errors call the file.
pub fn decode(
    name: &str,
    bytes: &[u8],
) -> Result<(Sequential, Option<TrainingState>), CheckpointError> {
    contents::unpack(bytes).map_err(|problem| CheckpointError::invalid(name, problem))
}

/// Loads a model from the file alone (any training state in it is checked, then dropped).
pub fn load_model(path: &Path) -> Result<Sequential, CheckpointError> {
    load_checkpoint(path).map(|(model, _)| model)
}

/// Loads a model and, if the file has one, its training state. Unlike `decode`, which keeps any
/// bit pattern, it refuses NaN or infinite values: a file on disk is meant to be used.
pub fn load_checkpoint(
    path: &Path,
) -> Result<(Sequential, Option<TrainingState>), CheckpointError> {
    let bytes = read_whole(path).map_err(|cause| CheckpointError::Read {
        path: path.to_path_buf(),
        cause,
    })?;
    let name = path.display().to_string();
    let (model, state) = decode(&name, &bytes)?;
    contents::check_finite(&model, state.as_ref())
        .map_err(|problem| CheckpointError::invalid(&name, problem))?;
    Ok((model, state))
}

/// Reads the file once, reserving exactly its size up front (and failing politely, not
/// aborting, if that much memory is not available), and never reading past that size. Only a
/// regular file: opening a FIFO would wait for a writer forever, and a device has no size.
fn read_whole(path: &Path) -> io::Result<Vec<u8>> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a directory, FIFO, device or socket)",
        ));
    }
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let capacity = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(capacity)
        .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}
