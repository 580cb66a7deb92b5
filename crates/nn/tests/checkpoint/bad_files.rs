//! Every kind of bad file, each refused with an error that names the file and the defect. The
//! files are crafted with the tests' own safetensors writer (`support::Raw`), changing one thing.

use convlab_nn::checkpoint::{Problem, MAX_HEADER_BYTES, TRAINING_STATE_KEY, TRAINING_TENSORS_KEY};
use convlab_nn::checkpoint::{ARCHITECTURE_KEY, FORMAT_KEY};
use serde_json::json;

use crate::support::{assemble, problem, small_file, small_model, small_state, Raw};

fn raw() -> Raw {
    Raw::of(&small_model(5), None)
}

fn raw_with_state() -> Raw {
    let model = small_model(5);
    Raw::of(&model, Some(&small_state(&model)))
}

#[test]
fn truncated_files() {
    let file = small_file(false);
    assert_eq!(problem(&[]), Problem::TooShort { len: 0 });
    assert_eq!(problem(&file[..7]), Problem::TooShort { len: 7 });
    let n = u64::from_le_bytes(file[..8].try_into().unwrap());
    assert_eq!(
        problem(&file[..20]),
        Problem::HeaderBeyondFile {
            declared: n,
            available: 12
        }
    );
    // Cut inside the data: the last tensor (dense/bias, 3 values) runs past the end.
    let cut = &file[..file.len() - 1];
    assert_eq!(
        problem(cut),
        Problem::OffsetsOutOfRange {
            name: "dense/bias".into(),
            end: 188,
            len: 187
        }
    );
    assert!(convlab_nn::checkpoint::decode("x", &file).is_ok());
}

#[test]
fn files_that_are_not_safetensors() {
    // Text, a PNG and a gzip stream: their first 8 bytes read as absurd header lengths (the
    // gzip one as 560,927 bytes: under the limit, but far beyond the file).
    for bytes in [
        &b"this is not a checkpoint, just some text"[..],
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        b"\x1f\x8b\x08\0\0\0\0\0\0\x03",
    ] {
        let p = problem(bytes);
        assert!(
            matches!(
                p,
                Problem::HeaderTooLarge { .. } | Problem::HeaderBeyondFile { .. }
            ),
            "{p}"
        );
    }
    let message = convlab_nn::checkpoint::decode("notes.txt", b"0123456789abcdef")
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("notes.txt: the header length field says"),
        "{message}"
    );
}

#[test]
fn header_lengths_beyond_the_limit_or_the_file() {
    let mut file = small_file(false);
    for declared in [u64::MAX, 1 << 40, MAX_HEADER_BYTES + 1] {
        file[..8].copy_from_slice(&declared.to_le_bytes());
        assert_eq!(
            problem(&file),
            Problem::HeaderTooLarge {
                declared,
                limit: MAX_HEADER_BYTES
            }
        );
    }
    // Within the limit but longer than the file: refused before anything is read or allocated.
    let available = file.len() - 8;
    for declared in [MAX_HEADER_BYTES, available as u64 + 1] {
        file[..8].copy_from_slice(&declared.to_le_bytes());
        assert_eq!(
            problem(&file),
            Problem::HeaderBeyondFile {
                declared,
                available
            }
        );
    }
    // Shorter than the real header: the JSON is cut off.
    file[..8].copy_from_slice(&100u64.to_le_bytes());
    assert!(matches!(problem(&file), Problem::HeaderJson(m) if m.contains("EOF")));
}

#[test]
fn headers_that_are_not_the_right_json() {
    let data = raw().data();
    for (header, says) in [
        ("[1, 2, 3]", "invalid type"),
        ("{\"w\": 1}", "invalid type"),
        ("{\"__metadata__\": {\"k\": 1}}", "invalid type"),
        (
            "{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}",
            "missing field `data_offsets`",
        ),
        (
            "{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}",
            "invalid value",
        ),
        ("{} trailing", "trailing characters"),
    ] {
        assert!(
            matches!(problem(&assemble(header, &data)), Problem::HeaderJson(m) if m.contains(says)),
            "{header}"
        );
    }
    let mut bytes = raw().bytes();
    bytes[9] = 0xff; // not UTF-8
    assert!(matches!(problem(&bytes), Problem::HeaderJson(_)));
}

#[test]
fn repeated_tensor_or_metadata_keys() {
    let r = raw();
    let header = r.header();
    let entry = r#""dense/bias":{"data_offsets":[176,188],"dtype":"F32","shape":[3]}"#;
    assert!(header.contains(entry), "{header}");
    let twice = header.replacen(entry, &format!("{entry},{entry}"), 1);
    assert!(matches!(problem(&assemble(&twice, &r.data())),
        Problem::HeaderJson(m) if m.contains("duplicate key \"dense/bias\"")));
    let meta = header.replacen(
        r#""convlab.format":"1""#,
        r#""convlab.format":"1","convlab.format":"2""#,
        1,
    );
    assert!(matches!(problem(&assemble(&meta, &r.data())),
        Problem::HeaderJson(m) if m.contains("duplicate metadata key \"convlab.format\"")));
}

#[test]
fn dtypes_other_than_f32() {
    let mut r = raw();
    r.tensors[1].1 = "F16".into();
    assert_eq!(
        problem(&r.bytes()),
        Problem::Dtype {
            name: "conv2d/bias".into(),
            dtype: "F16".into()
        }
    );
}

/// Offsets rewritten in the header text (the tests' writer always makes them consecutive).
fn with_offsets(r: &Raw, name: &str, offsets: &str) -> Vec<u8> {
    let mut header: serde_json::Value = serde_json::from_str(&r.header()).unwrap();
    header[name]["data_offsets"] = serde_json::from_str(offsets).unwrap();
    assemble(&header.to_string(), &r.data())
}

#[test]
fn data_offsets_out_of_range_reversed_overlapping_or_leaving_gaps() {
    // Layout: conv2d/kernel [0, 72), conv2d/bias [72, 80), dense/kernel [80, 176),
    // dense/bias [176, 188).
    let r = raw();
    let name = |n: &str| n.to_string();
    let cases = [
        (
            "dense/bias",
            "[176, 192]",
            Problem::OffsetsOutOfRange {
                name: name("dense/bias"),
                end: 192,
                len: 188,
            },
        ),
        (
            "dense/bias",
            "[188, 176]",
            Problem::OffsetsReversed {
                name: name("dense/bias"),
                begin: 188,
                end: 176,
            },
        ),
        (
            "conv2d/bias",
            "[68, 76]",
            Problem::NotContiguous {
                name: name("conv2d/bias"),
                begin: 68,
                expected: 72,
            },
        ),
        (
            "conv2d/bias",
            "[76, 84]",
            Problem::NotContiguous {
                name: name("conv2d/bias"),
                begin: 76,
                expected: 72,
            },
        ),
        (
            "conv2d/bias",
            "[0, 8]",
            Problem::NotContiguous {
                name: name("conv2d/kernel"),
                begin: 0,
                expected: 8,
            },
        ),
        (
            "conv2d/bias",
            "[72, 84]",
            Problem::SizeMismatch {
                name: name("conv2d/bias"),
                shape: vec![2],
                needed: 8,
                spanned: 12,
            },
        ),
    ];
    for (tensor, offsets, expected) in cases {
        assert_eq!(
            problem(&with_offsets(&r, tensor, offsets)),
            expected,
            "{offsets}"
        );
    }
    // Bytes after the last tensor belong to nobody.
    let mut bytes = r.bytes();
    bytes.extend([0; 4]);
    assert_eq!(
        problem(&bytes),
        Problem::Uncovered {
            covered: 188,
            len: 192
        }
    );
    // A shape whose size overflows is caught before any multiplication wraps.
    let mut r = raw();
    r.tensors[1].2 = vec![usize::MAX, 2];
    assert!(matches!(problem(&r.bytes()), Problem::ShapeOverflow { .. }));
}

#[test]
fn missing_extra_and_misshapen_tensors() {
    let mut r = raw();
    r.remove("dense/bias");
    assert_eq!(
        problem(&r.bytes()),
        Problem::MissingWeight("dense/bias".into())
    );

    let mut r = raw();
    r.tensors
        .push(("extra".into(), "F32".into(), vec![1], vec![0; 4]));
    assert_eq!(
        problem(&r.bytes()),
        Problem::UnexpectedTensor("extra".into())
    );

    // Same number of values, another shape: (3, 3, 2, 1) instead of (3, 3, 1, 2).
    let mut r = raw();
    r.tensors[0].2 = vec![3, 3, 2, 1];
    assert_eq!(
        problem(&r.bytes()),
        Problem::WeightShape {
            name: "conv2d/kernel".into(),
            expected: vec![3, 3, 1, 2],
            got: vec![3, 3, 2, 1]
        }
    );
}

#[test]
fn training_state_defects() {
    let mut r = raw_with_state();
    r.remove("optimizer/m/dense/bias");
    assert_eq!(
        problem(&r.bytes()),
        Problem::MissingStateTensor("optimizer/m/dense/bias".into())
    );
    for (list, says) in [
        (
            json!(["conv2d/kernel"]),
            "names model weight \"conv2d/kernel\"",
        ),
        (json!(["a", "a"]), "names \"a\" twice"),
        (json!({"a": 1}), "not a list of names"),
    ] {
        let mut r = raw_with_state();
        r.metadata
            .insert(TRAINING_TENSORS_KEY.into(), list.to_string().into());
        assert!(
            matches!(problem(&r.bytes()), Problem::TrainingState(m) if m.contains(says)),
            "{says}"
        );
    }
    for key in [TRAINING_STATE_KEY, TRAINING_TENSORS_KEY] {
        let mut r = raw_with_state();
        r.metadata.remove(key);
        assert!(matches!(problem(&r.bytes()), Problem::TrainingState(m) if m.contains("but not")));
    }
    let mut r = raw_with_state();
    r.metadata
        .insert(TRAINING_STATE_KEY.into(), "{not json".into());
    assert!(matches!(problem(&r.bytes()), Problem::TrainingState(_)));
}

#[test]
fn metadata_missing_or_from_another_version() {
    let mut r = raw();
    r.metadata.clear();
    assert_eq!(problem(&r.bytes()), Problem::MissingMetadata(FORMAT_KEY));
    let mut r = raw();
    r.metadata.insert(FORMAT_KEY.into(), "2".into());
    assert_eq!(problem(&r.bytes()), Problem::FormatVersion("2".into()));
    let mut r = raw();
    r.metadata.remove(ARCHITECTURE_KEY);
    assert_eq!(
        problem(&r.bytes()),
        Problem::MissingMetadata(ARCHITECTURE_KEY)
    );
    let message = convlab_nn::checkpoint::decode("m.safetensors", &r.bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "m.safetensors: the header has no \"convlab.architecture\" metadata (not a convlab checkpoint?)"
    );
}

#[test]
fn architectures_that_are_invalid_unknown_or_do_not_fit() {
    let base = raw().architecture();
    let arch = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut a = base.clone();
        edit(&mut a);
        let mut r = raw();
        r.set_architecture(&a);
        problem(&r.bytes())
    };
    let says = |p: Problem, what: &str| matches!(&p, Problem::Architecture(m) if m.contains(what));

    let mut r = raw();
    r.metadata
        .insert(ARCHITECTURE_KEY.into(), "{\"layers\": [".into());
    assert!(says(problem(&r.bytes()), "EOF"));
    assert!(says(
        arch(&|a| a["layers"][1]["type"] = json!("Lambda")),
        "unknown variant `Lambda`"
    ));
    assert!(says(
        arch(&|a| a["layers"][0]["code"] = json!("rm -rf /")),
        "unknown field `code`"
    ));
    assert!(says(
        arch(&|a| a["optimizer"] = json!("adam")),
        "unknown field `optimizer`"
    ));
    assert!(says(
        arch(&|a| {
            a.as_object_mut().unwrap().remove("layers");
        }),
        "missing field `layers`"
    ));
    // Valid JSON, but a Dense cannot take the conv output without Flatten.
    let p = arch(&|a| {
        a["layers"].as_array_mut().unwrap().remove(1);
    });
    assert!(
        matches!(&p, Problem::Model(e) if e.to_string().contains("add Flatten()")),
        "{p}"
    );
    // 10^12 units would be terabytes of fresh weights in a file of about a kilobyte.
    let p = arch(&|a| a["layers"][2]["units"] = json!(1_000_000_000_000u64));
    assert!(matches!(p, Problem::TooManyWeights { .. }), "{p}");
    // More weights than the whole file could hold, by a little: also refused before building
    // (conv2d's 20, then dense/kernel's 8 x 100 = 820).
    let mut r = raw();
    let mut a = base.clone();
    a["layers"][2]["units"] = json!(100);
    r.set_architecture(&a);
    let bytes = r.bytes();
    assert!(bytes.len() < 820 * 4);
    assert_eq!(
        problem(&bytes),
        Problem::TooManyWeights {
            needed: 820,
            available: bytes.len()
        }
    );
    // Fewer: the model builds, then the shapes disagree.
    for units in [2, 4] {
        let p = arch(&|a| a["layers"][2]["units"] = json!(units));
        assert!(matches!(p, Problem::WeightShape { .. }), "{p}");
    }
    let p = arch(&|a| a["input_shape"] = json!([1, 1, 1, 1, 1, 1, 1, 1, 1]));
    assert!(says(p, "at most 8"));
}
