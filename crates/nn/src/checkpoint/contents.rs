//! What a convlab checkpoint holds on top of the safetensors layout, and how a model and its
//! training state map onto it.
//!
//! | metadata key               | value                                                        |
//! |----------------------------|--------------------------------------------------------------|
//! | `convlab.format`           | `"1"`                                                        |
//! | `convlab.architecture`     | the `ModelConfig` as JSON (layers from the closed set)       |
//! | `convlab.training_state`   | the training state's JSON (only in a resumable checkpoint)   |
//! | `convlab.training_tensors` | JSON list of the training-state tensor names, in order (ditto) |
//!
//! Tensors: the model's weights under `weight_names()` in Keras's layout (`conv2d/kernel`
//! (3, 3, 1, 32), `conv2d/bias` (32), ...), then the training-state tensors under their own names
//! (e.g. `optimizer/m/0`). The list in the metadata is what tells a state tensor from
//! a stray one, so that loading can refuse tensors nobody asked for.
//!
//! Loading rebuilds the model from the architecture alone and then replaces its freshly
//! initialised weights with the file's, after checking that every weight is there with the shape
//! the architecture gives it.

use std::collections::{BTreeMap, HashMap, HashSet};

use convlab_tensor::Tensor;

use super::architecture::check_fits;
use super::error::{CheckpointError, Problem};
use super::format::{self, Encoded, RawTensor};
use super::header::METADATA_KEY;
use super::{
    TrainingState, ARCHITECTURE_KEY, FORMAT_KEY, FORMAT_VERSION, TRAINING_STATE_KEY,
    TRAINING_TENSORS_KEY,
};
use crate::{ModelConfig, Sequential};

/// Lays out a model (and state) for writing, refusing anything that would not read back.
pub(super) fn plan<'a>(
    model: &'a Sequential,
    state: Option<&'a TrainingState>,
) -> Result<Encoded<'a>, CheckpointError> {
    let config = model.config();
    let architecture = serde_json::to_string(&config)
        .map_err(|e| CheckpointError::Unsaveable(format!("the architecture: {e}")))?;
    // serde_json writes a NaN or infinite float (say an initialiser's stddev) as null, which
    // would not parse back: better to refuse now than to write a file that cannot be loaded.
    if serde_json::from_str::<ModelConfig>(&architecture).ok() != Some(config) {
        return Err(CheckpointError::Unsaveable(
            "the architecture does not read back from its JSON (a NaN or infinite layer option?)"
                .into(),
        ));
    }
    let mut metadata = BTreeMap::from([
        (FORMAT_KEY, FORMAT_VERSION.to_string()),
        (ARCHITECTURE_KEY, architecture),
    ]);
    let mut tensors: Vec<(String, &Tensor)> = model
        .weight_names()
        .into_iter()
        .zip(model.weights())
        .collect();
    if let Some(state) = state {
        let names: Vec<&str> = state.tensors.iter().map(|(n, _)| n.as_str()).collect();
        metadata.insert(TRAINING_STATE_KEY, state.json.to_string());
        metadata.insert(
            TRAINING_TENSORS_KEY,
            serde_json::Value::from(names).to_string(),
        );
        tensors.extend(state.tensors.iter().map(|(n, t)| (n.clone(), t)));
    }
    let mut seen = HashSet::new();
    for (name, _) in &tensors {
        if name == METADATA_KEY {
            return Err(CheckpointError::Unsaveable(format!(
                "the tensor name {METADATA_KEY:?} is reserved by safetensors"
            )));
        }
        if !seen.insert(name.as_str()) {
            return Err(CheckpointError::Unsaveable(format!(
                "two tensors are named {name:?} (a training-state tensor named like a weight?)"
            )));
        }
    }
    Ok(Encoded::new(&metadata, &tensors))
}

/// Rebuilds the model (and state, if the file has one) from a checkpoint's bytes.
pub(super) fn unpack(bytes: &[u8]) -> Result<(Sequential, Option<TrainingState>), Problem> {
    let parsed = format::parse(bytes)?;
    let meta = &parsed.metadata;
    let version = meta
        .get(FORMAT_KEY)
        .ok_or(Problem::MissingMetadata(FORMAT_KEY))?;
    if version != FORMAT_VERSION {
        return Err(Problem::FormatVersion(version.clone()));
    }
    let architecture = meta
        .get(ARCHITECTURE_KEY)
        .ok_or(Problem::MissingMetadata(ARCHITECTURE_KEY))?;
    // Text from the file reaches terminals (the summary's layer names, error messages): refuse
    // control characters anywhere before any of it is used or quoted.
    for (key, value) in meta {
        printable(&format!("metadata key {key:?}"), key)?;
        printable(&format!("metadata {key:?}"), value)?;
    }
    for t in &parsed.tensors {
        printable("a tensor name", &t.name)?;
    }
    let architecture: serde_json::Value =
        serde_json::from_str(architecture).map_err(|e| Problem::Architecture(e.to_string()))?;
    printable_json("the architecture", &architecture)?;
    let config: ModelConfig =
        serde_json::from_value(architecture).map_err(|e| Problem::Architecture(e.to_string()))?;
    let state = read_state_metadata(meta)?;
    if let Some((_, json)) = &state {
        printable_json("the training state", json)?;
    }
    check_fits(&config, bytes.len())?;
    let mut model = Sequential::from_config(&config).map_err(Problem::Model)?;

    let mut by_name: HashMap<&str, &RawTensor> = parsed
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let names = model.weight_names();
    let mut weights = Vec::with_capacity(names.len());
    for (name, fresh) in names.iter().zip(model.weights()) {
        let raw = by_name
            .remove(name.as_str())
            .ok_or_else(|| Problem::MissingWeight(name.clone()))?;
        if raw.shape != fresh.shape() {
            return Err(Problem::WeightShape {
                name: name.clone(),
                expected: fresh.shape().to_vec(),
                got: raw.shape.clone(),
            });
        }
        weights.push(raw);
    }
    let mut state_tensors = Vec::new();
    if let Some((listed, _)) = &state {
        for name in listed {
            if names.contains(name) {
                return Err(Problem::TrainingState(format!(
                    "the training-state tensor list names model weight {name:?}"
                )));
            }
            let raw = by_name
                .remove(name.as_str())
                .ok_or_else(|| Problem::MissingStateTensor(name.clone()))?;
            state_tensors.push(raw);
        }
    }
    // The first stray tensor in header order, so the error does not depend on hashing.
    if let Some(stray) = parsed
        .tensors
        .iter()
        .find(|t| by_name.contains_key(t.name.as_str()))
    {
        return Err(Problem::UnexpectedTensor(stray.name.clone()));
    }

    model
        .set_weights(weights.iter().map(|raw| raw.to_tensor()).collect())
        .map_err(Problem::Model)?;
    let state = state.map(|(_, json)| TrainingState {
        tensors: state_tensors
            .iter()
            .map(|raw| (raw.name.clone(), raw.to_tensor()))
            .collect(),
        json,
    });
    Ok((model, state))
}

/// Refuses NaN and infinite values, which `unpack` keeps bit for bit: a NaN weight would
/// evaluate to `loss NaN` and look like a result, and a NaN moment would poison a resumed run.
pub(super) fn check_finite(
    model: &Sequential,
    state: Option<&TrainingState>,
) -> Result<(), Problem> {
    let weights = model.weight_names().into_iter().zip(model.weights());
    let state_tensors = state
        .into_iter()
        .flat_map(|s| s.tensors.iter().map(|(name, t)| (name.clone(), t)));
    for (name, tensor) in weights.chain(state_tensors) {
        let count = tensor.data().iter().filter(|v| !v.is_finite()).count();
        if count > 0 {
            return Err(Problem::NotFinite { name, count });
        }
    }
    Ok(())
}

/// Refuses text with a control character (an escape sequence would reach the terminal) or an
/// invisible formatting character (a right-to-left override makes text read as something else).
fn printable(place: &str, text: &str) -> Result<(), Problem> {
    if text.chars().any(crate::text::is_unprintable) {
        return Err(Problem::ControlCharacter {
            place: place.to_string(),
            text: text.to_string(),
        });
    }
    Ok(())
}

/// `printable` for every string and key inside a JSON value.
fn printable_json(place: &str, value: &serde_json::Value) -> Result<(), Problem> {
    use serde_json::Value;
    match value {
        Value::String(text) => printable(place, text),
        Value::Array(items) => items.iter().try_for_each(|v| printable_json(place, v)),
        Value::Object(map) => map.iter().try_for_each(|(key, v)| {
            printable(place, key)?;
            printable_json(place, v)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// The training state's tensor names and JSON, when the file has a state: both keys or neither.
fn read_state_metadata(
    meta: &BTreeMap<String, String>,
) -> Result<Option<(Vec<String>, serde_json::Value)>, Problem> {
    let (names, json) = match (meta.get(TRAINING_TENSORS_KEY), meta.get(TRAINING_STATE_KEY)) {
        (None, None) => return Ok(None),
        (Some(names), Some(json)) => (names, json),
        (names, _) => {
            let (present, absent) = if names.is_some() {
                (TRAINING_TENSORS_KEY, TRAINING_STATE_KEY)
            } else {
                (TRAINING_STATE_KEY, TRAINING_TENSORS_KEY)
            };
            return Err(Problem::TrainingState(format!(
                "the metadata has {present:?} but not {absent:?}"
            )));
        }
    };
    let names: Vec<String> = serde_json::from_str(names).map_err(|e| {
        Problem::TrainingState(format!(
            "{TRAINING_TENSORS_KEY:?} is not a list of names: {e}"
        ))
    })?;
    let mut seen = HashSet::new();
    if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(Problem::TrainingState(format!(
            "the training-state tensor list names {twice:?} twice"
        )));
    }
    let json = serde_json::from_str(json).map_err(|e| Problem::TrainingState(e.to_string()))?;
    Ok(Some((names, json)))
}
