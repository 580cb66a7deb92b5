//! Resuming training, as Keras's BackupAndRestore: with `FitOptions::backup` set, `fit` saves
//! after every epoch everything a later run needs to continue as if it had never stopped: the
//! weights, the optimizer with its moments and step count, the epochs done and their history, and
//! each callback's state (EarlyStopping's patience count and best weights, ModelCheckpoint's best
//! value). The shuffles and dropout masks of epoch e are derived from (seed, e) alone (see fit.rs),
//! so no generator state is needed: a resumed run on the same thread count reproduces the
//! uninterrupted one bit for bit.
//!
//! The backup is an ordinary checkpoint (atomic, so a kill at any moment leaves the previous
//! epoch's backup or this one): `load_model` reads its model like any other.

use std::path::Path;

use convlab_tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::callbacks::Callback;
use crate::checkpoint::{load_checkpoint, save_checkpoint, TrainingState};
use crate::history::History;
use crate::optimizers::Optimizer;
use crate::{Sequential, TrainError};

/// What a callback saves for resuming: JSON and, if it keeps weights, tensors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallbackState {
    pub json: serde_json::Value,
    pub tensors: Vec<Tensor>,
}

/// Everything `fit` needs to continue a run (see the module docs).
#[derive(Clone, Debug)]
pub struct ResumeState {
    /// Epochs completed; training continues with the next.
    pub epochs_done: usize,
    pub history: History,
    pub optimizer: Optimizer,
    /// One entry per callback, in the order `fit` was given them.
    pub callbacks: Vec<Option<CallbackState>>,
    /// Whatever the caller stored with `FitOptions::backup_extra` (the CLI keeps its settings).
    pub extra: serde_json::Value,
}

/// The JSON part of a backup.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupJson {
    epochs_done: usize,
    history: History,
    optimizer: Optimizer,
    /// Per callback: its JSON and how many tensors it saved (or null).
    callbacks: Vec<Option<(serde_json::Value, usize)>>,
    extra: serde_json::Value,
}

pub(crate) fn save_backup(
    path: &Path,
    model: &Sequential,
    optimizer: &Optimizer,
    epochs_done: usize,
    history: &History,
    callbacks: &[&mut dyn Callback],
    extra: &serde_json::Value,
) -> Result<(), TrainError> {
    let mut tensors: Vec<(String, Tensor)> = optimizer
        .state_tensors()
        .into_iter()
        .map(|(name, t)| (format!("optimizer/{name}"), t))
        .collect();
    let mut saved = Vec::new();
    for (i, cb) in callbacks.iter().enumerate() {
        match cb.state() {
            Some(state) => {
                for (k, t) in state.tensors.iter().enumerate() {
                    tensors.push((format!("callback/{i}/{k}"), t.clone()));
                }
                saved.push(Some((state.json, state.tensors.len())));
            }
            None => saved.push(None),
        }
    }
    let json = BackupJson {
        epochs_done,
        history: history.clone(),
        optimizer: optimizer.clone(),
        callbacks: saved,
        extra: extra.clone(),
    };
    let json = serde_json::to_value(&json)
        .map_err(|e| TrainError::Resume(format!("cannot encode the backup: {e}")))?;
    save_checkpoint(path, model, Some(&TrainingState { tensors, json }))?;
    Ok(())
}

/// Reads a backup written by `fit`: the model as it was after its last epoch, and the state to
/// pass back in `FitOptions::resume`.
pub fn load_backup(path: &Path) -> Result<(Sequential, ResumeState), TrainError> {
    let (model, state) = load_checkpoint(path)?;
    let bad = |why: String| TrainError::Resume(format!("{}: {why}", path.display()));
    let state = state.ok_or_else(|| {
        bad("this checkpoint holds a model only, not a training state (use the backup file that train writes every epoch)".into())
    })?;
    let json: BackupJson = serde_json::from_value(state.json)
        .map_err(|e| bad(format!("the training state is not a convlab backup: {e}")))?;
    let take = |prefix: &str| -> Vec<(String, Tensor)> {
        state
            .tensors
            .iter()
            .filter_map(|(name, t)| Some((name.strip_prefix(prefix)?.to_string(), t.clone())))
            .collect()
    };
    if let Some(problem) = json.history.problem() {
        return Err(bad(problem));
    }
    if json.epochs_done != json.history.epochs.len() {
        return Err(bad(format!(
            "it says {} epochs are done, but its history has {}",
            json.epochs_done,
            json.history.epochs.len()
        )));
    }
    let mut optimizer = json.optimizer;
    optimizer.check().map_err(&bad)?;
    optimizer
        .load_state_tensors(&take("optimizer/"))
        .map_err(bad)?;
    // Every per-weight state (moments, velocities, best weights) must match the weights one to
    // one, or training would silently skip or misapply updates.
    let weight_shapes: Vec<Vec<usize>> =
        model.weights().iter().map(|w| w.shape().to_vec()).collect();
    let matches = |tensors: &[Tensor]| {
        tensors.is_empty()
            || (tensors.len() == weight_shapes.len()
                && tensors
                    .iter()
                    .zip(&weight_shapes)
                    .all(|(t, s)| t.shape() == s.as_slice()))
    };
    for (name, slots) in optimizer.state_slots() {
        if !matches(slots) {
            return Err(bad(format!(
                "optimizer state {name} does not match the model's {} weights",
                weight_shapes.len()
            )));
        }
    }
    let mut callbacks = Vec::new();
    for (i, saved) in json.callbacks.into_iter().enumerate() {
        callbacks.push(match saved {
            None => None,
            Some((json, count)) => {
                let mut tensors = Vec::with_capacity(count.min(state.tensors.len()));
                for k in 0..count {
                    let name = format!("callback/{i}/{k}");
                    let t = state
                        .tensors
                        .iter()
                        .find(|(n, _)| *n == name)
                        .ok_or_else(|| bad(format!("tensor {name} is missing")))?;
                    tensors.push(t.1.clone());
                }
                if !matches(&tensors) {
                    return Err(bad(format!(
                        "callback {i}'s saved weights do not match the model's {} weights",
                        weight_shapes.len()
                    )));
                }
                Some(CallbackState { json, tensors })
            }
        });
    }
    Ok((
        model,
        ResumeState {
            epochs_done: json.epochs_done,
            history: json.history,
            optimizer,
            callbacks,
            extra: json.extra,
        },
    ))
}
