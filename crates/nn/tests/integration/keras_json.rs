//! Keras's own `model.to_json()` output, read by convlab: every model that `make_models.py`
//! (in tests/keras/) built in real Keras must build here with Keras's parameter count and every
//! layer's output shape, and the ones with a layer or option convlab lacks must be refused
//! naming it. The committed fixtures come from Keras 3.15.1; `CONVLAB_KERAS_FIXTURES=DIR` runs
//! the same test on a directory written by another Keras (.ci/run does, with PyPI's newest).

use std::path::PathBuf;

use convlab_nn::model_file::ModelFile;
use serde_json::Value;

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keras")];
    if let Some(dir) = std::env::var_os("CONVLAB_KERAS_FIXTURES") {
        dirs.push(PathBuf::from(dir));
    }
    dirs
}

#[test]
fn keras_models_build_as_keras_built_them() {
    for dir in fixture_dirs() {
        let mut checked = 0;
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "json")
                    && !p.to_string_lossy().ends_with(".expected.json")
            })
            .collect();
        entries.sort();
        for path in entries {
            let expected_path = path.with_extension("expected.json");
            let expected: Value =
                serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
            let read = ModelFile::read(&path);
            if let Some(error) = expected.get("error").and_then(Value::as_str) {
                let e = read.expect_err(&path.display().to_string());
                assert!(e.to_string().contains(error), "{}: {e}", path.display());
                checked += 1;
                continue;
            }
            let file = read.unwrap_or_else(|e| panic!("{e}"));
            let model = file.build(0).unwrap();
            assert_eq!(
                model.count_params() as u64,
                expected["count_params"].as_u64().unwrap(),
                "{}",
                path.display()
            );
            let kinds: Vec<&str> = model.layers().iter().map(|l| l.layer.kind()).collect();
            let keras_kinds: Vec<&str> = expected["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(kinds, keras_kinds, "{}", path.display());
            let shapes: Vec<Vec<u64>> = model
                .layers()
                .iter()
                .map(|l| l.output_shape.iter().map(|&d| d as u64).collect())
                .collect();
            let keras_shapes: Vec<Vec<u64>> =
                serde_json::from_value(expected["output_shapes"].clone()).unwrap();
            assert_eq!(shapes, keras_shapes, "{}", path.display());
            checked += 1;
        }
        assert!(checked >= 5, "{}: only {checked} models", dir.display());
    }
}
