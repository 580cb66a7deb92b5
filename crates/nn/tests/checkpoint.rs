//! Checkpoints: round trips (bit-identical weights, the same summary, the training state),
//! rebuilding a model from the file alone, atomic saving, and writers that fail part way.
//! Bad files are in `checkpoint/bad_files.rs`, property tests in `checkpoint/fuzz.rs`.

// An integration test's root resolves modules beside it, so the folder is named explicitly.
#[path = "checkpoint/bad_files.rs"]
mod bad_files;
#[path = "checkpoint/fuzz.rs"]
mod fuzz;
#[path = "checkpoint/support.rs"]
mod support;

use std::fs;
use std::io::{self, Write};

use convlab_nn::checkpoint::{decode, encode, write_checkpoint_to, ARCHITECTURE_KEY, FORMAT_KEY};
use convlab_nn::prelude::*;
use convlab_nn::{
    chapter_model, load_checkpoint, load_model, save_checkpoint, save_model, CheckpointError,
    TrainingState,
};
use support::{entries, scratch_dir, small_model, small_state, Raw, NAME};

#[global_allocator]
static METER: support::Meter = support::Meter;

fn bits(model: &Sequential) -> Vec<Vec<u32>> {
    model
        .weights()
        .iter()
        .map(|w| w.data().iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// Weights no initialiser would draw, including bit patterns a float comparison would hide.
fn unusual_weights(model: &mut Sequential) {
    let specials = [
        f32::from_bits(0x7fc0_beef), // a NaN with a payload
        -0.0,
        f32::from_bits(1), // the smallest subnormal
        f32::INFINITY,
        -1.5e38,
    ];
    for (k, w) in model.weights_mut().into_iter().enumerate() {
        for (i, v) in w.data_mut().iter_mut().enumerate() {
            *v = specials[(i + k) % specials.len()];
        }
    }
}

#[test]
fn a_checkpoint_round_trips_weights_bit_for_bit_and_the_training_state() {
    let mut model = small_model(11);
    unusual_weights(&mut model);
    let state = small_state(&model);
    let bytes = encode(&model, Some(&state)).unwrap();
    let (loaded, loaded_state) = decode("small.safetensors", &bytes).unwrap();
    assert_eq!(bits(&loaded), bits(&model));
    assert_eq!(loaded.summary(), model.summary());
    assert_eq!(loaded.config(), model.config());
    assert_eq!(loaded_state, Some(state));
    // Encoding is deterministic: the loaded model writes the same bytes.
    let again = encode(&loaded, loaded_state.as_ref()).unwrap();
    assert_eq!(again, bytes);
}

#[test]
fn a_model_alone_has_no_training_state() {
    let model = small_model(1);
    let (_, state) = decode(NAME, &encode(&model, None).unwrap()).unwrap();
    assert_eq!(state, None);
    // An empty state is still a state.
    let empty = TrainingState::default();
    let (_, state) = decode(NAME, &encode(&model, Some(&empty)).unwrap()).unwrap();
    assert_eq!(state, Some(empty));
}

/// The architecture in the file is all that is needed: the seed stored with it would rebuild
/// the initial weights, but the loaded model has the trained ones, and predicts like the saved
/// model to the bit.
#[test]
fn the_chapter_model_is_rebuilt_from_the_file_alone() {
    let dir = scratch_dir("chapter");
    let path = dir.join("chapter.safetensors");
    let mut model = chapter_model(42, ConvAlgorithm::Im2col);
    for w in model.weights_mut() {
        for v in w.data_mut() {
            *v = (*v * 1.5).sin(); // "trained": anything other than the seed's draws
        }
    }
    save_model(&path, &model).unwrap();
    let loaded = load_model(&path).unwrap();
    assert_eq!(
        loaded.summary(),
        include_str!("fixtures/chapter_summary.txt")
    );
    assert_eq!(bits(&loaded), bits(&model));
    assert_ne!(
        bits(&loaded),
        bits(&chapter_model(42, ConvAlgorithm::Im2col))
    );
    let x: Vec<f32> = (0..2 * 28 * 28).map(|i| (i % 255) as f32 / 255.0).collect();
    let x = Tensor::new(&[2, 28, 28, 1], x).unwrap();
    let (a, b) = (
        model.predict(&x, 2).unwrap(),
        loaded.predict(&x, 2).unwrap(),
    );
    assert_eq!(a.data(), b.data());
    // 333,526 weights of 4 bytes, plus the header.
    let len = fs::metadata(&path).unwrap().len();
    assert!((1_334_104..1_334_104 + 4096).contains(&len), "{len}");
    fs::remove_dir_all(&dir).unwrap();
}

/// The header holds exactly the Keras-named weights, with their Keras shapes, and the metadata.
#[test]
fn the_header_names_every_weight_in_keras_layout() {
    let model = chapter_model(42, ConvAlgorithm::Im2col);
    let bytes = encode(&model, None).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0, "the data section starts 8-byte aligned");
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let header = header.as_object().unwrap();
    let names: Vec<&String> = header.keys().filter(|k| *k != "__metadata__").collect();
    let mut expected = model.weight_names();
    expected.sort();
    assert_eq!(names, expected.iter().collect::<Vec<_>>());
    assert_eq!(
        header["conv2d/kernel"]["shape"],
        serde_json::json!([3, 3, 1, 32])
    );
    assert_eq!(header["conv2d/kernel"]["dtype"], "F32");
    assert_eq!(header["conv2d/bias"]["shape"], serde_json::json!([32]));
    assert_eq!(
        header["dense/kernel"]["shape"],
        serde_json::json!([3136, 100])
    );
    assert_eq!(header["dense_1/bias"]["shape"], serde_json::json!([10]));
    let meta = &header["__metadata__"];
    assert_eq!(meta[FORMAT_KEY], "1");
    let arch: convlab_nn::ModelConfig =
        serde_json::from_str(meta[ARCHITECTURE_KEY].as_str().unwrap()).unwrap();
    assert_eq!(arch, model.config());
}

/// The tests' own writer and the crate's agree byte for byte up to header padding, so the bad
/// files the tests craft differ from real ones only where intended.
#[test]
fn the_independent_test_writer_makes_files_the_crate_loads() {
    let model = small_model(3);
    let state = small_state(&model);
    let (loaded, loaded_state) = decode(NAME, &Raw::of(&model, Some(&state)).bytes()).unwrap();
    assert_eq!(bits(&loaded), bits(&model));
    assert_eq!(loaded_state, Some(state));
}

#[test]
fn load_checkpoint_returns_the_state_and_load_model_checks_then_drops_it() {
    let dir = scratch_dir("state");
    let path = dir.join("resume.safetensors");
    let model = small_model(8);
    let state = small_state(&model);
    save_checkpoint(&path, &model, Some(&state)).unwrap();
    let (loaded, loaded_state) = load_checkpoint(&path).unwrap();
    assert_eq!(bits(&loaded), bits(&model));
    assert_eq!(loaded_state.unwrap(), state);
    assert_eq!(bits(&load_model(&path).unwrap()), bits(&model));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn saving_over_a_checkpoint_replaces_it_and_leaves_no_temporary_file() {
    let dir = scratch_dir("replace");
    let path = dir.join("model.safetensors");
    fs::write(&path, vec![b'x'; 10_000]).unwrap();
    for seed in 0..3 {
        save_model(&path, &small_model(seed)).unwrap();
        assert_eq!(bits(&load_model(&path).unwrap()), bits(&small_model(seed)));
        assert_eq!(entries(&dir), ["model.safetensors"]);
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// Tests run as root, for whom permissions block nothing, so the failures are made with a
/// missing directory and with a "directory" that is a regular file (the old checkpoint itself).
#[test]
fn saving_where_the_directory_cannot_hold_it_fails_naming_the_path() {
    let dir = scratch_dir("unwritable");
    let old = dir.join("old.safetensors");
    save_model(&old, &small_model(1)).unwrap();
    let old_bytes = fs::read(&old).unwrap();
    for (target, kind) in [
        (
            dir.join("missing").join("m.safetensors"),
            io::ErrorKind::NotFound,
        ),
        (old.join("m.safetensors"), io::ErrorKind::NotADirectory),
    ] {
        let err = save_model(&target, &small_model(2)).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&target.display().to_string()), "{message}");
        assert!(
            matches!(&err, CheckpointError::Write { cause, .. } if cause.kind() == kind),
            "{err:?}"
        );
        assert_eq!(fs::read(&old).unwrap(), old_bytes);
        assert_eq!(entries(&dir), ["old.safetensors"]);
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unsaveable_state_is_refused_before_the_old_file_is_touched() {
    let dir = scratch_dir("unsaveable");
    let path = dir.join("model.safetensors");
    let model = small_model(1);
    save_model(&path, &model).unwrap();
    let before = fs::read(&path).unwrap();
    let weight = ("conv2d/bias".to_string(), model.weights()[1].clone());
    let reserved = ("__metadata__".to_string(), Tensor::scalar(1.0));
    for tensors in [vec![weight], vec![reserved.clone(), reserved]] {
        let state = TrainingState {
            tensors,
            json: serde_json::Value::Null,
        };
        let err = save_checkpoint(&path, &small_model(2), Some(&state)).unwrap_err();
        assert!(matches!(err, CheckpointError::Unsaveable(_)), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn loading_a_missing_file_names_it_and_the_os_error() {
    let path = scratch_dir("missing").join("nothing.safetensors");
    let err = load_model(&path).unwrap_err();
    assert!(matches!(&err, CheckpointError::Read { cause, .. }
        if cause.kind() == io::ErrorKind::NotFound));
    assert!(err.to_string().contains("nothing.safetensors"), "{err}");
    fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// Passes `budget` bytes to `out`, then fails every write, as a full disk would.
struct FailAfter {
    out: Vec<u8>,
    budget: usize,
}

impl Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::other("disk full (injected)"));
        }
        let n = buf.len().min(self.budget);
        self.budget -= n;
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// For every k, a writer that fails after k bytes makes the write fail (and the bytes that got
/// through are a prefix of the real file); with room for the whole file it succeeds. The atomic
/// path under the same failures is tested in `checkpoint/atomic.rs`.
#[test]
fn a_writer_failing_after_any_byte_is_an_error() {
    let model = small_model(4);
    let state = small_state(&model);
    let whole = encode(&model, Some(&state)).unwrap();
    for budget in 0..whole.len() {
        let mut w = FailAfter {
            out: Vec::new(),
            budget,
        };
        let err = write_checkpoint_to(&mut w, &model, Some(&state)).unwrap_err();
        assert!(matches!(&err, CheckpointError::Stream(_)), "{err}");
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(w.out, whole[..budget]);
    }
    let mut w = FailAfter {
        out: Vec::new(),
        budget: whole.len(),
    };
    write_checkpoint_to(&mut w, &model, Some(&state)).unwrap();
    assert_eq!(w.out, whole);
}

/// Python's `safetensors` reads the file with the same names, shapes and values. Needs a venv:
/// `python3 -m venv /tmp/st && /tmp/st/bin/pip install safetensors numpy`, then
/// `cargo test -p convlab-nn --release --test checkpoint -- --ignored --nocapture`.
#[test]
#[ignore = "needs Python with safetensors and numpy in /tmp/st"]
fn python_safetensors_reads_the_checkpoint() {
    let python = std::env::var("CONVLAB_PYTHON").unwrap_or("/tmp/st/bin/python3".into());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/read_checkpoint.py"
    );
    let dir = scratch_dir("python");
    let path = dir.join("chapter.safetensors");
    let model = chapter_model(42, ConvAlgorithm::Im2col);
    let state = TrainingState {
        tensors: vec![(
            "optimizer/m/conv2d/kernel".into(),
            Tensor::full(&[3, 3, 1, 32], 0.5),
        )],
        json: serde_json::json!({"epoch": 2}),
    };
    save_checkpoint(&path, &model, Some(&state)).unwrap();
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    println!("{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut all: Vec<(String, &Tensor)> = model
        .weight_names()
        .into_iter()
        .zip(model.weights())
        .collect();
    all.extend(state.tensors.iter().map(|(n, t)| (n.clone(), t)));
    assert_eq!(report["tensors"].as_object().unwrap().len(), all.len());
    for (name, t) in all {
        let got = &report["tensors"][&name];
        assert_eq!(got["dtype"], "float32", "{name}");
        assert_eq!(got["shape"], serde_json::json!(t.shape()), "{name}");
        let sum: f64 = t.data().iter().map(|&v| v as f64).sum();
        assert!((got["sum"].as_f64().unwrap() - sum).abs() < 1e-9, "{name}");
    }
    assert_eq!(report["metadata"][FORMAT_KEY], "1");
    fs::remove_dir_all(&dir).unwrap();
}
