//! Shared by the checkpoint tests: a small model and state, an independent safetensors writer
//! for crafting bad files, scratch directories, and an allocation meter.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use convlab_nn::checkpoint::{
    decode, encode, Problem, ARCHITECTURE_KEY, FORMAT_KEY, TRAINING_STATE_KEY, TRAINING_TENSORS_KEY,
};
use convlab_nn::prelude::*;
use convlab_nn::TrainingState;
use serde_json::{json, Value};

/// What errors call the files the tests decode.
pub const NAME: &str = "bad.safetensors";

/// The small model of the issue: (4, 4, 1) -> Conv2D(2, 3) -> Flatten -> Dense(3), 47 weights.
pub fn small_model(seed: u64) -> Sequential {
    let mut model = Sequential::new(&[4, 4, 1]).seed(seed);
    model.add(Conv2D::new(2, 3)).unwrap();
    model.add(Flatten::new()).unwrap();
    model.add(Dense::new(3)).unwrap();
    model
}

/// A state like an optimizer and a training loop would leave.
pub fn small_state(model: &Sequential) -> TrainingState {
    let tensors = model
        .weight_names()
        .into_iter()
        .zip(model.weights())
        .map(|(name, w)| {
            let m: Vec<f32> = (0..w.len()).map(|i| i as f32 * 0.25 - 1.0).collect();
            (
                format!("optimizer/m/{name}"),
                Tensor::new(w.shape(), m).unwrap(),
            )
        })
        .collect();
    TrainingState {
        tensors,
        json: json!({"epoch": 3, "rng": [1, 2, 3, 4], "history": {"loss": [0.9, 0.5, 0.25]}}),
    }
}

/// The problem `decode` finds in `bytes`, after checking that the message names the file.
#[track_caller]
pub fn problem(bytes: &[u8]) -> Problem {
    let err = decode(NAME, bytes).expect_err("the file should be refused");
    let message = err.to_string();
    assert!(message.starts_with(&format!("{NAME}: ")), "{message}");
    err.problem().expect("a content error").clone()
}

/// A safetensors file spelled out piece by piece, written independently of the crate's encoder
/// so that tests can put anything in it.
pub struct Raw {
    pub metadata: serde_json::Map<String, Value>,
    /// name, dtype, shape, bytes
    pub tensors: Vec<(String, String, Vec<usize>, Vec<u8>)>,
}

impl Raw {
    /// The tensors and metadata the crate would write for `model` and `state`.
    pub fn of(model: &Sequential, state: Option<&TrainingState>) -> Raw {
        let mut metadata = serde_json::Map::new();
        metadata.insert(FORMAT_KEY.into(), "1".into());
        let arch = serde_json::to_string(&model.config()).unwrap();
        metadata.insert(ARCHITECTURE_KEY.into(), arch.into());
        let mut tensors: Vec<(String, &Tensor)> = model
            .weight_names()
            .into_iter()
            .zip(model.weights())
            .collect();
        if let Some(state) = state {
            let names: Vec<&str> = state.tensors.iter().map(|(n, _)| n.as_str()).collect();
            metadata.insert(TRAINING_STATE_KEY.into(), state.json.to_string().into());
            metadata.insert(TRAINING_TENSORS_KEY.into(), json!(names).to_string().into());
            tensors.extend(state.tensors.iter().map(|(n, t)| (n.clone(), t)));
        }
        let tensors = tensors
            .into_iter()
            .map(|(name, t)| {
                let bytes = t.data().iter().flat_map(|v| v.to_le_bytes()).collect();
                (name, "F32".to_string(), t.shape().to_vec(), bytes)
            })
            .collect();
        Raw { metadata, tensors }
    }

    /// The header JSON with consecutive offsets, unpadded.
    pub fn header(&self) -> String {
        let mut header = serde_json::Map::new();
        header.insert("__metadata__".into(), Value::Object(self.metadata.clone()));
        let mut offset = 0;
        for (name, dtype, shape, bytes) in &self.tensors {
            let end = offset + bytes.len();
            header.insert(
                name.clone(),
                json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, end]}),
            );
            offset = end;
        }
        Value::Object(header).to_string()
    }

    pub fn data(&self) -> Vec<u8> {
        self.tensors.iter().flat_map(|t| t.3.clone()).collect()
    }

    pub fn bytes(&self) -> Vec<u8> {
        assemble(&self.header(), &self.data())
    }

    pub fn architecture(&self) -> Value {
        serde_json::from_str(self.metadata[ARCHITECTURE_KEY].as_str().unwrap()).unwrap()
    }

    pub fn set_architecture(&mut self, architecture: &Value) {
        self.metadata
            .insert(ARCHITECTURE_KEY.into(), architecture.to_string().into());
    }

    pub fn remove(&mut self, name: &str) {
        self.tensors.retain(|t| t.0 != name);
    }
}

/// Length field + header + data, the header taken as it is.
pub fn assemble(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// A valid small checkpoint, with or without a training state.
pub fn small_file(with_state: bool) -> Vec<u8> {
    let model = small_model(5);
    let state = small_state(&model);
    encode(&model, with_state.then_some(&state)).unwrap()
}

/// A fresh directory under the system temp dir; tests remove it at their end.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "convlab-checkpoint-{tag}-{}-{n}",
        std::process::id()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A directory's entries, sorted: to see that no temporary file was left behind.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The system allocator, noting the largest single allocation each thread makes, so a test can
/// show that reading a file never allocates more than the file's size at once (a reader that
/// trusted a size in the header would allocate what the header says). `unsafe` is unavoidable
/// in a `GlobalAlloc`; every method only forwards to `System` with the caller's arguments.
pub struct Meter;

thread_local! {
    // const-initialised and without a destructor, so the allocator may touch it at any time.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
pub fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let value = f();
    (value, LARGEST.with(Cell::get))
}
