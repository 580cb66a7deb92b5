use super::*;
use crate::{chapter_model, Activation, Conv2D, ConvAlgorithm, Initializer, MaxPooling2D, Padding};

const CHAPTER_TOML: &str = include_str!("../../../../models/chapter8.toml");

/// What Keras 3.x's `model.to_json()` writes for the chapter's model (the Input's shape given
/// as `input_shape=` on the first Conv2D, as the chapter does), trimmed to two dense layers.
const KERAS3_JSON: &str = r#"{"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "layers": [{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 28, 28, 1], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_layer"}, "registered_name": null}, {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "conv2d", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "filters": 32, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}, "registered_name": null, "build_config": {"input_shape": [null, 28, 28, 1]}}, {"module": "keras.layers", "class_name": "MaxPooling2D", "config": {"name": "max_pooling2d", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "pool_size": [2, 2], "padding": "valid", "strides": [2, 2], "data_format": "channels_last"}, "registered_name": null, "build_config": {"input_shape": [null, 28, 28, 32]}}, {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "flatten", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "data_format": "channels_last"}, "registered_name": null, "build_config": {"input_shape": [null, 14, 14, 32]}}, {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "units": 100, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null, "quantization_config": null}, "registered_name": null, "build_config": {"input_shape": [null, 6272]}}, {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "dropout", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "rate": 0.4, "seed": null, "noise_shape": null}, "registered_name": null}, {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense_1", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "units": 10, "activation": "softmax", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null}, "registered_name": null, "build_config": {"input_shape": [null, 100]}}], "build_input_shape": [null, 28, 28, 1]}, "registered_name": null, "build_config": {"input_shape": [null, 28, 28, 1]}}"#;

/// tf.keras 2.x: no InputLayer, the shape as the first layer's batch_input_shape.
const KERAS2_JSON: &str = r#"{"class_name": "Sequential", "config": {"name": "sequential", "layers": [{"class_name": "Conv2D", "config": {"name": "conv2d", "trainable": true, "batch_input_shape": [null, 28, 28, 1], "dtype": "float32", "filters": 6, "kernel_size": [5, 5], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": false, "kernel_initializer": {"class_name": "HeNormal", "config": {"seed": null}}, "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}}, {"class_name": "AveragePooling2D", "config": {"name": "average_pooling2d", "trainable": true, "dtype": "float32", "pool_size": [2, 2], "padding": "valid", "strides": [2, 2], "data_format": "channels_last"}}, {"class_name": "Flatten", "config": {"name": "flatten", "trainable": true, "dtype": "float32", "data_format": "channels_last"}}, {"class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32", "units": 10, "activation": "softmax", "use_bias": true, "kernel_initializer": {"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.01, "seed": null}}, "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}}]}, "keras_version": "2.13.1", "backend": "tensorflow"}"#;

fn err(text: &str) -> ModelFileError {
    ModelFile::parse("m.toml", text).expect_err("should be refused")
}

const HEAD: &str = "input_shape = [28, 28, 1]\n";

#[test]
fn the_chapter_file_builds_the_chapter_model() {
    let file = ModelFile::parse("chapter8.toml", CHAPTER_TOML).unwrap();
    let built = file.build(42).unwrap();
    let coded = chapter_model(42, ConvAlgorithm::Auto);
    assert_eq!(built.config(), coded.config());
    assert_eq!(built.count_params(), 333_526);
    for (a, b) in built.layers().iter().zip(coded.layers()) {
        assert_eq!(a.weights, b.weights, "{}", a.name);
    }
}

#[test]
fn keras3_json_reads_as_keras_built_it() {
    let file = ModelFile::parse("m.json", KERAS3_JSON).unwrap();
    assert_eq!(file.format, Format::KerasJson);
    assert_eq!(file.config.input_shape, [28, 28, 1]);
    let model = file.build(1).unwrap();
    let kinds: Vec<&str> = model.layers().iter().map(|l| l.layer.kind()).collect();
    assert_eq!(
        kinds,
        [
            "Conv2D",
            "MaxPooling2D",
            "Flatten",
            "Dense",
            "Dropout",
            "Dense"
        ]
    );
    assert_eq!(model.count_params(), 320 + 627_300 + 1_010);
    let Layer::Conv2D(conv) = &file.layers()[0] else {
        panic!()
    };
    assert_eq!(conv.padding, Padding::Same);
    assert_eq!(conv.activation, Activation::Relu);
}

#[test]
fn keras2_json_with_batch_input_shape_and_options() {
    let file = ModelFile::parse("m.json", KERAS2_JSON).unwrap();
    assert_eq!(file.config.input_shape, [28, 28, 1]);
    let Layer::Conv2D(conv) = &file.layers()[0] else {
        panic!()
    };
    assert!(!conv.use_bias);
    assert_eq!(conv.kernel_initializer, Initializer::HeNormal);
    let Layer::Dense(dense) = &file.layers()[3] else {
        panic!()
    };
    assert_eq!(
        dense.kernel_initializer,
        Initializer::RandomNormal {
            mean: 0.0,
            stddev: 0.01
        }
    );
    // 5*5*6 kernel, no bias; 12*12*6 -> 10.
    assert_eq!(file.build(0).unwrap().count_params(), 150 + 864 * 10 + 10);
}

#[test]
fn keras_defaults_fill_what_the_file_leaves_out() {
    let file = ModelFile::parse(
        "m.toml",
        &format!("{HEAD}[[layers]]\ntype = \"Conv2D\"\nfilters = 4\nkernel_size = [3, 5]\n[[layers]]\ntype = \"MaxPooling2D\"\n"),
    )
    .unwrap();
    let Layer::Conv2D(conv) = &file.layers()[0] else {
        panic!()
    };
    assert_eq!(conv, &Conv2D::new(4, (3, 5)));
    assert_eq!(file.layers()[1], Layer::from(MaxPooling2D::new(2)));
    assert_eq!(file.build(0).unwrap().output_shape(), [13, 12, 4]);
}

#[test]
fn errors_name_the_file_line_and_layer() {
    let e = err(&format!(
        "{HEAD}\n[[layers]]\ntype = \"Conv2D\"\nfilters = 4\nkernel_size = 3\nfilter = 5\n"
    ));
    assert_eq!(e.line, Some(7), "{e}");
    assert_eq!(e.layer.as_deref(), Some("layers[0] (Conv2D)"));
    assert!(
        e.to_string()
            .starts_with("m.toml:7: layers[0] (Conv2D): unknown argument \"filter\""),
        "{e}"
    );

    let e = err(&format!("{HEAD}[[layers]]\ntype = \"Conv3D\"\n"));
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.contains("not a layer convlab has"), "{e}");

    let e = err(&format!(
        "{HEAD}[[layers]]\ntype = \"Conv2D\"\nfilters = \"32\"\nkernel_size = 3\n"
    ));
    assert_eq!(e.line, Some(4), "{e}");
    assert!(
        e.message
            .contains("expected a positive integer, got a string"),
        "{e}"
    );

    let e = err(&format!("{HEAD}[[layers]]\ntype = \"Dense\"\nunits = 10\n"));
    assert!(e.message.contains("add Flatten() before it"), "{e}");
    assert_eq!(e.line, Some(2));
}

#[test]
fn impossible_shapes_are_refused_at_their_layer() {
    let e = err("input_shape = [4, 4, 1]\n[[layers]]\ntype = \"Flatten\"\n[[layers]]\ntype = \"Dense\"\nunits = 3\n[[layers]]\ntype = \"Conv2D\"\nfilters = 2\nkernel_size = 3\n");
    assert_eq!(e.layer.as_deref(), Some("layers[2] (Conv2D)"), "{e}");
    assert_eq!(e.line, Some(7), "{e}");
    let e = err(
        "input_shape = [3, 3, 1]\n[[layers]]\ntype = \"Conv2D\"\nfilters = 2\nkernel_size = 5\n",
    );
    assert_eq!(e.layer.as_deref(), Some("layers[0] (Conv2D)"), "{e}");
    assert!(e.message.contains("cannot follow"), "{e}");
}

#[test]
fn what_convlab_lacks_is_named() {
    for (field, value) in [
        ("dilation_rate", "2"),
        ("groups", "2"),
        ("data_format", "\"channels_first\""),
        ("kernel_regularizer", "\"l2\""),
        ("activation", "\"gelu\""),
        ("padding", "\"causal\""),
        ("kernel_initializer", "\"orthogonal\""),
        ("trainable", "false"),
    ] {
        let e = err(&format!(
            "{HEAD}[[layers]]\ntype = \"Conv2D\"\nfilters = 2\nkernel_size = 3\n{field} = {value}\n"
        ));
        assert!(e.message.starts_with(field), "{field}: {e}");
        assert_eq!(e.line, Some(6), "{field}: {e}");
    }
    let json = KERAS3_JSON.replace("\"groups\": 1", "\"groups\": 4");
    let e = ModelFile::parse("k.json", &json).unwrap_err();
    assert_eq!(
        e.layer.as_deref(),
        Some("layers[0] (Conv2D \"conv2d\")"),
        "{e}"
    );
    let json = KERAS3_JSON.replace(
        "\"class_name\": \"Flatten\"",
        "\"class_name\": \"BatchNormalization\"",
    );
    let e = ModelFile::parse("k.json", &json).unwrap_err();
    assert!(
        e.to_string()
            .contains("\"BatchNormalization\" is not a layer convlab has"),
        "{e}"
    );
    let json = KERAS3_JSON.replacen("\"Sequential\"", "\"Functional\"", 1);
    assert!(ModelFile::parse("k.json", &json).is_err());
}

#[test]
fn bad_documents_are_errors_not_panics() {
    for text in [
        "",
        "input_shape = [28, 28, 1]",
        "[[layers]]\ntype = \"Flatten\"",
        "input_shape = [0, 28, 1]\n[[layers]]\ntype = \"Flatten\"",
        "input_shape = [-1]\n[[layers]]\ntype = \"Flatten\"",
        "input_shape = 28\n[[layers]]\ntype = \"Flatten\"",
        "input_shape = [28, 28, 1]\nlayers = 3",
        "input_shape = [28, 28, 1]\nlayers = [1, 2]",
        "input_shape = [28, 28, 1]\n[[layers]]\nfilters = 2",
        "input_shape = [28, 28, 1]\n[[layers]]\ntype = 3",
        "input_shape = [28, 28, 1]\nseed = 3\n[[layers]]\ntype = \"Flatten\"",
        "input_shape = [28, 28, 1]\n[[layers]]\ntype = \"Dropout\"\nrate = 1.0",
        "input_shape = [28, 28, 1]\n[[layers]]\ntype = \"Dropout\"\nrate = nan",
        "input_shape = [28, 28, 1]\n[[layers]]\ntype = \"Conv2D\"\nfilters = 99999999999999999999\nkernel_size = 1",
        "input_shape = [28, 28, 1]\n[[layers]]\ntype = \"Conv2D\"\nfilters = 1\nkernel_size = [1, 2, 3]",
        "input_shape = [28, 28, 1]\n[[layers]]\ntype = \"Conv2D\"\nfilters = 1\nkernel_size = 1979-05-27",
        "input_shape = [28, 28, 1]\n[[layers]]\ntype = \"Flatten\"\n[[layers]]\ntype = \"Dense\"\nunits = 1000000000",
        "input_shape = [1000000, 1000000, 1000000]\n[[layers]]\ntype = \"Flatten\"",
        "= broken",
        "{",
        "{\"class_name\": \"Sequential\"}",
        "{\"class_name\": \"Sequential\", \"config\": {\"layers\": []}}",
        "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"Dense\", \"config\": {\"units\": 3}}]}}",
        "[1, 2]",
    ] {
        let e = ModelFile::parse("m", text).expect_err(text);
        assert!(!e.message.is_empty(), "{text}");
    }
}

#[test]
fn messages_quote_file_text_safely() {
    let e = err(&format!("{HEAD}[[layers]]\ntype = \"\\u001b[31mEvil\"\n"));
    assert!(!e.to_string().contains('\u{1b}'), "{e}");
}

#[test]
fn every_shipped_model_file_builds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let file = ModelFile::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let model = file.build(0).unwrap();
        assert_eq!(model.output_shape(), [10], "{}", path.display());
        count += 1;
    }
    assert!(count >= 6, "{count} model files");
    let lenet = ModelFile::read(&dir.join("lenet5.toml")).unwrap();
    assert_eq!(lenet.build(0).unwrap().count_params(), 61_706);
}

#[test]
fn review_cases_read_as_a_person_means_them() {
    // A comment holding [[ does not move a layer's line; inline tables start at their key.
    let e = err("# see [[layers]] in README\ninput_shape = [28, 28, 1]\nlayers = [\n  { type = \"Flatten\" },\n  { type = \"Dense\", units = 10 },\n  { type = \"Conv3D\" },\n]\n");
    assert_eq!(
        (e.line, e.layer.as_deref()),
        (Some(6), Some("layers[2] (Conv3D)")),
        "{e}"
    );
    let e =
        err("input_shape = [28, 28, 1]\n[[layers]]\n# was [[layers]] before\ntype = \"Conv9D\"\n");
    assert_eq!(e.line, Some(2), "{e}");
    // The layer that makes a too-large output is blamed, not the one after it.
    let e = err("input_shape = [28, 28, 1]\n[[layers]]\ntype = \"Conv2D\"\nfilters = 400000\nkernel_size = 1\npadding = \"same\"\n[[layers]]\ntype = \"Flatten\"\n");
    assert_eq!(e.layer.as_deref(), Some("layers[0] (Conv2D)"), "{e}");
    // A byte-order mark before Keras's JSON; JSON that is not a Keras model.
    let bom = format!("\u{feff}{KERAS2_JSON}");
    assert!(ModelFile::parse("bom.json", &bom).is_ok());
    let e = ModelFile::parse("a.json", "[{\"class_name\": \"Sequential\"}]").unwrap_err();
    assert!(e.message.contains("JSON, but not a Keras model"), "{e}");
    // Keras 2.0-2.2's VarianceScaling defaults, and Input(batch_size=32)'s batch_shape.
    let old = KERAS2_JSON.replace(
        "{\"class_name\": \"HeNormal\", \"config\": {\"seed\": null}}",
        "{\"class_name\": \"VarianceScaling\", \"config\": {\"scale\": 1.0, \"mode\": \"fan_avg\", \"distribution\": \"uniform\", \"seed\": null}}",
    );
    let file = ModelFile::parse("old.json", &old).unwrap();
    let Layer::Conv2D(conv) = &file.layers()[0] else {
        panic!()
    };
    assert_eq!(conv.kernel_initializer, Initializer::GlorotUniform);
    let odd = old.replace("\"scale\": 1.0", "\"scale\": 3.0");
    assert!(ModelFile::parse("odd.json", &odd).is_err());
    let sized = KERAS3_JSON.replace(
        "\"batch_shape\": [null, 28, 28, 1]",
        "\"batch_shape\": [32, 28, 28, 1]",
    );
    assert_eq!(
        ModelFile::parse("b.json", &sized)
            .unwrap()
            .config
            .input_shape,
        [28, 28, 1]
    );
    // Escaped once, not twice.
    let e = err(&format!(
        "{HEAD}[[layers]]\ntype = \"Flatten\"\n\"na\\u001bme\" = 1\n"
    ));
    assert!(e.message.contains("\"na\\u{1b}me\""), "{e}");
}

#[test]
fn range_errors_point_at_their_field() {
    let e = err(&format!(
        "{HEAD}[[layers]]\ntype = \"Flatten\"\n[[layers]]\ntype = \"Dropout\"\nrate = 0.99999999\n"
    ));
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.message.contains("below 1 (as a float32: 1)"), "{e}");
    let e = err(&format!("{HEAD}[[layers]]\ntype = \"Flatten\"\n[[layers]]\ntype = \"Dense\"\nunits = 10\nkernel_initializer = {{ class_name = \"RandomNormal\", config = {{ stddev = 1e39 }} }}\n"));
    assert_eq!(e.line, Some(7), "{e}");
}
