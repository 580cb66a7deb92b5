//! `--model FILE` everywhere a model is built, and `--dataset` for data other than the chapter's:
//! the shipped model files and Keras's own JSON through every command, a run trained from a
//! model file on real Fashion-MNIST whose checkpoint then needs no model file, CIFAR-10 and MNIST
//! from files the test makes, and model files that are wrong in each way a person gets them
//! wrong, each one error line naming the file, the line and the layer.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn convlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convlab"))
        .args(args)
        .output()
        .expect("run convlab")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Exit code 2 and one `convlab: error:` line containing `needle`.
#[track_caller]
fn assert_refused(o: &Output, needle: &str) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}\n{err}", text(&o.stdout));
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("convlab-models-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

fn keras_fixture(name: &str) -> String {
    format!(
        "{}/../nn/tests/fixtures/keras/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// One epoch of LeNet-5 from models/lenet5.toml on 2,000 real Fashion-MNIST images.
fn lenet_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scratch("lenet-run");
        let checkpoint = dir.join("lenet.safetensors");
        let model = repo("models/lenet5.toml");
        let out = assert_ok(&convlab(&[
            "train",
            "--model",
            &model,
            "--epochs",
            "1",
            "--limit",
            "2000",
            "--checkpoint",
            s(&checkpoint),
        ]));
        assert!(out.contains("Model: \"lenet5\""), "{out}");
        assert!(out.contains("Total params: 61,706"), "{out}");
        assert!(checkpoint.exists());
        checkpoint
    })
}

#[test]
fn summary_reads_toml_and_keras_json() {
    let chapter = assert_ok(&convlab(&["summary"]));
    let from_toml = assert_ok(&convlab(&[
        "summary",
        "--model",
        &repo("models/chapter8.toml"),
    ]));
    assert_eq!(from_toml, chapter);
    // What real Keras 3 wrote for the chapter's code.
    let from_keras = assert_ok(&convlab(&[
        "summary",
        "--model",
        &keras_fixture("chapter8.json"),
    ]));
    assert_eq!(from_keras, chapter);
    let vgg = assert_ok(&convlab(&[
        "summary",
        "--plan",
        "--model",
        &repo("models/vgg_cifar10.toml"),
    ]));
    assert!(vgg.contains("(None, 32, 32, 32)"), "{vgg}");
    assert!(vgg.contains("Plan"), "{vgg}");
}

#[test]
fn a_model_file_trains_and_its_checkpoint_needs_no_model_file() {
    let checkpoint = lenet_run();
    let ck = s(checkpoint);
    let out = assert_ok(&convlab(&["evaluate", "--model", ck, "--split", "test"]));
    assert!(out.contains("Test (10000 images)"), "{out}");
    let out = assert_ok(&convlab(&["predict", "--model", ck, "--index", "3"]));
    assert!(out.contains("true class"), "{out}");
    let out = assert_ok(&convlab(&["summary", "--model", ck]));
    assert!(out.contains("average_pooling2d"), "{out}");
    let dir = checkpoint.parent().unwrap();
    // The second conv layer reads 6 channels: --channel picks one.
    let filters = dir.join("f.png");
    let out = assert_ok(&convlab(&[
        "inspect",
        "weights",
        "--model",
        ck,
        "--layer",
        "2",
        "--channel",
        "5",
        "--filters",
        s(&filters),
    ]));
    assert!(out.contains("kernel [5, 5, 6, 16]"), "{out}");
    assert!(filters.exists());
    assert_refused(
        &convlab(&[
            "inspect",
            "weights",
            "--model",
            ck,
            "--layer",
            "2",
            "--channel",
            "6",
            "--filters",
            s(&filters),
        ]),
        "--channel 6 is out of range: the kernel has 6 input channels",
    );
    // Feature maps of every layer with a spatial output; none for Flatten.
    for layer in ["0", "1", "2", "3"] {
        let maps = dir.join(format!("maps{layer}.png"));
        assert_ok(&convlab(&[
            "inspect",
            "feature-maps",
            "--model",
            ck,
            "--layer",
            layer,
            "--out",
            s(&maps),
        ]));
        assert!(maps.exists());
    }
    assert_refused(
        &convlab(&[
            "inspect",
            "feature-maps",
            "--model",
            ck,
            "--layer",
            "4",
            "--out",
            s(&dir.join("flat.png")),
        ]),
        "feature maps need a (height, width, channels) output",
    );
    // ONNX export: an ONNX ModelProto (ir_version 7 first), and nothing for a model file.
    let onnx = dir.join("lenet.onnx");
    let out = assert_ok(&convlab(&["export", "--model", ck, "--out", s(&onnx)]));
    assert!(
        out.contains("input \"input\": float32 [batch, 28, 28, 1]"),
        "{out}"
    );
    let bytes = fs::read(&onnx).unwrap();
    assert_eq!(&bytes[..2], [0x08, 0x07]);
    assert!(bytes.len() > 61_706 * 4, "{} bytes", bytes.len());
    let never = dir.join("never.onnx");
    assert_refused(
        &convlab(&[
            "export",
            "--model",
            &repo("models/lenet5.toml"),
            "--out",
            s(&never),
        ]),
        "export needs trained weights",
    );
    assert!(!never.exists());
    // The architecture came from the file, so retraining it from the checkpoint is refused.
    assert_refused(
        &convlab(&["train", "--model", ck, "--epochs", "1"]),
        "this is a checkpoint; --model takes a model file",
    );
}

#[test]
fn every_command_that_builds_a_model_takes_a_model_file() {
    let dir = scratch("commands");
    let mlp = repo("models/mlp.toml");
    let out = assert_ok(&convlab(&["gradcheck", "--model", &mlp]));
    assert!(out.contains("checks passed"), "{out}");
    let svg = dir.join("m.svg");
    assert_ok(&convlab(&[
        "plot-model",
        "--model",
        &keras_fixture("strided_options.json"),
        "--out",
        s(&svg),
    ]));
    assert!(fs::read_to_string(&svg)
        .unwrap()
        .contains("(None, 16, 16, 16)"));
    let out = assert_ok(&convlab(&[
        "bench",
        "conv",
        "--model",
        &repo("models/strided.toml"),
        "--batch",
        "2",
        "--seconds",
        "0",
    ]));
    for shape in [
        "28x28x1:3x3:32:2:same",
        "14x14x32:3x3:64:2:same",
        "7x7x64:3x3:64:1:valid",
    ] {
        assert!(out.contains(shape), "{shape}: {out}");
    }
    assert_refused(
        &convlab(&["bench", "conv", "--model", &mlp]),
        "the model has no Conv2D layer",
    );
}

/// Writes `text` as a model file and returns its path.
fn model_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn wrong_model_files_are_one_line_naming_file_line_and_layer() {
    let dir = scratch("wrong");
    let head = "input_shape = [28, 28, 1]\n\n[[layers]]\ntype = \"Conv2D\"\nfilters = 8\n";
    let cases: [(&str, String, &str); 7] = [
        (
            "typo.toml",
            format!("{head}kernel_size = 3\nactivaton = \"relu\"\n"),
            "typo.toml:7: layers[0] (Conv2D): unknown argument \"activaton\"",
        ),
        (
            "type.toml",
            format!("{head}kernel_size = \"3\"\n"),
            "type.toml:6: layers[0] (Conv2D): kernel_size = \"3\": expected an integer or a list of two",
        ),
        (
            "missing.toml",
            head.to_string(),
            "missing.toml:3: layers[0] (Conv2D): Conv2D needs kernel_size",
        ),
        (
            "big_kernel.toml",
            "input_shape = [3, 3, 1]\n[[layers]]\ntype = \"Conv2D\"\nfilters = 2\nkernel_size = 5\n"
                .to_string(),
            "big_kernel.toml:2: layers[0] (Conv2D)",
        ),
        (
            "classes.toml",
            format!("{head}kernel_size = 3\n[[layers]]\ntype = \"Flatten\"\n[[layers]]\ntype = \"Dense\"\nunits = 7\n"),
            "classes.toml:9: layers[2] (Dense): the last layer outputs (None, 7), but Fashion-MNIST has 10 classes",
        ),
        (
            "layer.toml",
            "input_shape = [28, 28, 1]\n[[layers]]\ntype = \"LSTM\"\n".to_string(),
            "layer.toml:2: layers[0] (LSTM): \"LSTM\" is not a layer convlab has",
        ),
        (
            "syntax.toml",
            "input_shape = [28, 28, 1\n".to_string(),
            "syntax.toml:1: not valid TOML",
        ),
    ];
    for (name, body, needle) in &cases {
        let path = model_file(&dir, name, body);
        assert_refused(
            &convlab(&["train", "--model", s(&path), "--epochs", "1"]),
            needle,
        );
    }
    // The same file errors the same way where it is only summarised.
    let path = model_file(&dir, "typo2.toml", &cases[0].1);
    assert_refused(
        &convlab(&["summary", "--model", s(&path)]),
        "typo2.toml:7: layers[0] (Conv2D): unknown argument",
    );
    // Keras layers and options convlab lacks, from real Keras.
    assert_refused(
        &convlab(&["summary", "--model", &keras_fixture("batchnorm.json")]),
        "layers[1] (BatchNormalization \"batch_normalization",
    );
    assert_refused(
        &convlab(&["summary", "--model", &keras_fixture("dilated.json")]),
        "dilation_rate = [2, 2]: convlab has no dilated convolution",
    );
    // Input shapes the dataset does not have: the line of input_shape.
    assert_refused(
        &convlab(&["train", "--model", &repo("models/vgg_cifar10.toml"), "--epochs", "1"]),
        "vgg_cifar10.toml:5: the model takes (None, 32, 32, 3), but Fashion-MNIST images are (None, 28, 28, 1)",
    );
    // Not a model file at all.
    assert_refused(
        &convlab(&["summary", "--model", s(&dir)]),
        "not a regular file",
    );
    assert_refused(
        &convlab(&["summary", "--model", s(&dir.join("absent.toml"))]),
        "absent.toml: cannot read it",
    );
    let huge = dir.join("huge.toml");
    fs::write(&huge, vec![b'#'; 5 << 20]).unwrap();
    assert_refused(
        &convlab(&["summary", "--model", s(&huge)]),
        "larger than 4 MiB",
    );
    let binary = dir.join("binary.toml");
    fs::write(&binary, [0xffu8, 0xfe, 0, 1]).unwrap();
    assert_refused(&convlab(&["summary", "--model", s(&binary)]), "not UTF-8");
}

fn write_idx(path: &Path, dims: &[u32], values: &[u8]) {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(values);
    fs::write(path, bytes).unwrap();
}

/// `dir/mnist/`: MNIST files of 100 training and 20 test images (stripes, labels 0-9 in turn).
fn small_mnist(dir: &Path) {
    let data = dir.join("mnist");
    fs::create_dir_all(&data).unwrap();
    for (prefix, n) in [("train", 100u32), ("t10k", 20)] {
        let pixels: Vec<u8> = (0..n * 784).map(|i| (i * 13 % 256) as u8).collect();
        write_idx(
            &data.join(format!("{prefix}-images-idx3-ubyte")),
            &[n, 28, 28],
            &pixels,
        );
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        write_idx(
            &data.join(format!("{prefix}-labels-idx1-ubyte")),
            &[n],
            &labels,
        );
    }
}

#[test]
fn mnist_from_files_of_its_shape() {
    let dir = scratch("mnist");
    small_mnist(&dir);
    let checkpoint = dir.join("m.safetensors");
    let out = assert_ok(&convlab(&[
        "train",
        "--model",
        &repo("models/mlp.toml"),
        "--dataset",
        "mnist",
        "--data",
        s(&dir),
        "--no-verify",
        "--epochs",
        "1",
        "--checkpoint",
        s(&checkpoint),
    ]));
    assert!(
        out.contains("MNIST: 80 training, 20 validation, 20 test images"),
        "{out}"
    );
    // The checkpoint remembers its dataset: evaluate reads MNIST without being told.
    let out = assert_ok(&convlab(&[
        "evaluate",
        "--model",
        s(&checkpoint),
        "--data",
        s(&dir),
        "--no-verify",
        "--confusion",
    ]));
    assert!(out.contains("Val (20 images)"), "{out}");
}

/// A CIFAR-10 directory of six batches of 10,000 records (label, then R, G, B planes of 32x32):
/// the red plane of class-k images is bright, the others dark.
fn cifar_dir(name: &str) -> PathBuf {
    let dir = scratch(name);
    for file in [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
        "test_batch.bin",
    ] {
        let mut bytes = Vec::with_capacity(10_000 * 3073);
        for i in 0..10_000usize {
            let label = (i % 10) as u8;
            bytes.push(label);
            for plane in 0..3 {
                let value = if plane == 0 {
                    25 * label
                } else {
                    (i * 7 % 64) as u8
                };
                bytes.extend(std::iter::repeat_n(value, 1024));
            }
        }
        fs::write(dir.join(file), bytes).unwrap();
    }
    dir
}

#[test]
fn cifar10_trains_a_colour_model() {
    let data = cifar_dir("cifar");
    let dir = scratch("cifar-run");
    let tiny = model_file(
        &dir,
        "tiny.toml",
        "input_shape = [32, 32, 3]\n[[layers]]\ntype = \"Conv2D\"\nfilters = 4\nkernel_size = 3\nstrides = 2\nactivation = \"relu\"\n[[layers]]\ntype = \"Flatten\"\n[[layers]]\ntype = \"Dense\"\nunits = 10\nactivation = \"softmax\"\n",
    );
    let checkpoint = dir.join("c.safetensors");
    let out = assert_ok(&convlab(&[
        "train",
        "--model",
        s(&tiny),
        "--dataset",
        "cifar10",
        "--data",
        s(&data),
        "--no-verify",
        "--epochs",
        "1",
        "--checkpoint",
        s(&checkpoint),
    ]));
    assert!(
        out.contains("CIFAR-10: 40000 training, 10000 validation, 10000 test images"),
        "{out}"
    );
    // The classes are told apart by one colour: one epoch learns them.
    let val: f32 = out
        .lines()
        .find_map(|l| l.strip_prefix("validation: loss "))
        .and_then(|l| l.split("accuracy ").nth(1))
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(val > 0.5, "{out}");
    let png = dir.join("image.png");
    let out = assert_ok(&convlab(&[
        "predict",
        "--model",
        s(&checkpoint),
        "--data",
        s(&data),
        "--no-verify",
        "--index",
        "7",
        "--out",
        s(&png),
    ]));
    assert!(out.contains("true class: horse"), "{out}");
    // Drawn in colour: class 7's red plane is 175, its green and blue dark.
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (256, 256));
    assert_eq!(buf[0], 175, "red");
    assert!(
        buf[1] < 64 && buf[2] < 64,
        "green {} blue {}",
        buf[1],
        buf[2]
    );
    // A grey model on colour images is refused before anything runs.
    assert_refused(
        &convlab(&[
            "train",
            "--model",
            &repo("models/lenet5.toml"),
            "--dataset",
            "cifar10",
            "--data",
            s(&data),
        ]),
        "lenet5.toml:5: the model takes (None, 28, 28, 1), but CIFAR-10 images are (None, 32, 32, 3)",
    );
    let _ = fs::remove_dir_all(&data);
}

#[test]
fn an_output_never_replaces_its_own_input() {
    let dir = scratch("self");
    let model = dir.join("m.toml");
    fs::copy(repo("models/mlp.toml"), &model).unwrap();
    let before = fs::read(&model).unwrap();
    assert_refused(
        &convlab(&["plot-model", "--model", s(&model), "--out", s(&model)]),
        "is the --model file itself",
    );
    assert_refused(
        &convlab(&[
            "train",
            "--model",
            s(&model),
            "--checkpoint",
            s(&model),
            "--epochs",
            "1",
        ]),
        "is the --model file itself",
    );
    assert_eq!(fs::read(&model).unwrap(), before);
    let ck = lenet_run();
    let ck_before = fs::read(ck).unwrap();
    assert_refused(
        &convlab(&["export", "--model", s(ck), "--out", s(ck)]),
        "is the --model file itself",
    );
    assert_eq!(fs::read(ck).unwrap(), ck_before);
    // A model file where a checkpoint is needed says so.
    assert_refused(
        &convlab(&["evaluate", "--model", s(&model)]),
        "this is a model file (an architecture without trained weights)",
    );
}

#[test]
fn gradcheck_of_a_window_far_wider_than_its_input_ends() {
    let dir = scratch("wide-window");
    let path = model_file(
        &dir,
        "wide.toml",
        "input_shape = [28, 28, 1]\n[[layers]]\ntype = \"AveragePooling2D\"\npool_size = 9223372036854775807\npadding = \"same\"\n[[layers]]\ntype = \"Flatten\"\n[[layers]]\ntype = \"Dense\"\nunits = 10\n",
    );
    let out = assert_ok(&convlab(&[
        "gradcheck",
        "--model",
        s(&path),
        "--layer",
        "c",
    ]));
    assert!(out.contains("checks passed"), "{out}");
}

/// `bench train` of LeNet-5 on a small MNIST written into `dir` (80 training images, batch 8),
/// with `extra` arguments; its stdout.
fn bench_train_lenet5(dir: &Path, extra: &[&str]) -> String {
    small_mnist(dir);
    let model = repo("models/lenet5.toml");
    let mut args = vec![
        "bench",
        "train",
        "--model",
        &model,
        "--dataset",
        "mnist",
        "--data",
        s(dir),
        "--no-verify",
        "--batch-size",
        "8",
    ];
    args.extend_from_slice(extra);
    assert_ok(&convlab(&args))
}

#[test]
fn bench_train_profile_accounts_for_a_whole_step() {
    let dir = scratch("profile");
    let out = bench_train_lenet5(&dir, &["--profile"]);
    assert!(
        out.contains("mean of 10 steps at batch 8"),
        "80 training images at batch 8: {out}"
    );
    // Rows: a name, then forward ms [GFLOP/s] [backward ms [GFLOP/s]].
    let table: Vec<(String, Vec<f64>)> = out
        .lines()
        .skip_while(|l| !l.starts_with("where a training step"))
        .skip(2)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let name_end = l[2..].find("  ").unwrap() + 2;
            let numbers = l[name_end..]
                .split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect();
            (l[2..name_end].trim().to_string(), numbers)
        })
        .collect();
    let names: Vec<&str> = table.iter().map(|(n, _)| n.as_str()).collect();
    // Every layer in model order (average pooling is not fused with its convolution; the
    // chapter's max pooling is: "conv2d (Conv2D) + max_pooling2d (MaxPooling2D)").
    assert_eq!(
        names[..8],
        [
            "conv2d (Conv2D)",
            "average_pooling2d (AveragePooling2D)",
            "conv2d_1 (Conv2D)",
            "average_pooling2d_1 (AveragePooling2D)",
            "flatten (Flatten)",
            "dense (Dense)",
            "dense_1 (Dense)",
            "dense_2 (Dense)"
        ]
    );
    assert_eq!(names.last(), Some(&"a whole step"), "{names:?}");
    for name in [
        "loss (sparse_categorical_crossentropy)",
        "optimizer (adam, every weight)",
    ] {
        assert!(names.contains(&name), "{name}: {names:?}");
    }
    // The parts add up to the whole step (each printed to 3 decimals).
    let step = table.last().unwrap().1[0];
    let parts: f64 = table[..table.len() - 1]
        .iter()
        .map(|(name, v)| {
            // ms columns: the first, and the backward's after a GFLOP/s column where one is shown.
            match (name.contains("Conv2D") || name.contains("Dense"), v.len()) {
                (true, 4) => v[0] + v[2],
                (_, 2) => v[0] + v[1],
                (_, 1) => v[0],
                other => panic!("{name}: {v:?} ({other:?})"),
            }
        })
        .sum();
    assert!(
        (parts - step).abs() <= 0.001 * table.len() as f64,
        "parts {parts} against a step of {step}: {out}"
    );
}

#[test]
fn bench_predict_reports_throughput_and_single_image_latency() {
    let dir = scratch("predict-latency");
    small_mnist(&dir);
    let out = assert_ok(&convlab(&[
        "bench",
        "predict",
        "--model",
        &repo("models/mlp.toml"),
        "--dataset",
        "mnist",
        "--data",
        s(&dir),
        "--no-verify",
        "--repeats",
        "1",
    ]));
    assert!(out.contains("predicting 20 test images"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("one image at a time (batch 1, "))
        .unwrap_or_else(|| panic!("no latency line: {out}"));
    let numbers: Vec<f64> = line
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .filter_map(|w| w.parse().ok())
        .collect();
    // [1 (batch), images, median, 99 (percentile), p99]
    assert_eq!(numbers.len(), 5, "{line}");
    let (images, median, p99) = (numbers[1], numbers[2], numbers[4]);
    assert!(images >= 100.0, "at least 100 predictions: {line}");
    assert!(median > 0.0 && median <= p99, "{line}");
}

#[test]
fn bench_train_plot_draws_each_layers_gflops_against_the_peak() {
    let dir = scratch("profile-plot");
    let svg_path = dir.join("profile.svg");
    let out = bench_train_lenet5(&dir, &["--plot", s(&svg_path)]);
    // --plot profiles: the table is printed, and the peak the picture is drawn against.
    assert!(out.contains("where a training step's time goes"), "{out}");
    let peak: f64 = out
        .split("measured FMA peak ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no peak printed: {out}"));
    // The GFLOP/s columns of the table's Conv2D and Dense rows: forward, then backward.
    let (mut forward, mut backward) = (Vec::new(), Vec::new());
    for line in out
        .lines()
        .filter(|l| l.contains("(Conv2D)") || l.contains("(Dense)"))
    {
        let v: Vec<f64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(v.len(), 4, "{line}");
        forward.push(v[1]);
        backward.push(v[3]);
    }
    assert_eq!(
        forward.len(),
        5,
        "two convolutions and three dense layers: {out}"
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    for name in ["conv2d", "conv2d_1", "dense", "dense_1", "dense_2"] {
        assert!(
            svg.contains(&format!(">{name}</text>")),
            "{name} not labelled"
        );
    }
    let attr = |text: &str, name: &str| -> f64 {
        let at = text.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        text[at..].split('"').next().unwrap().parse().unwrap()
    };
    let panels: Vec<&str> = svg.split("class=\"plot-area\"").skip(1).collect();
    assert_eq!(panels.len(), 2, "forward and backward");
    for (panel, printed) in panels.iter().zip([&forward, &backward]) {
        let (top, bottom, ymax) = (
            attr(panel, "data-top"),
            attr(panel, "data-bottom"),
            attr(panel, "data-ymax"),
        );
        let circles: Vec<&str> = panel.lines().filter(|l| l.starts_with("<circle")).collect();
        assert_eq!(circles.len(), printed.len());
        // Each point at the height of the GFLOP/s the table printed for its layer, in order.
        for (circle, &p) in circles.iter().zip(printed.iter()) {
            let (cy, v) = (attr(circle, "cy"), attr(circle, "data-gflops"));
            assert!((v - p).abs() <= 0.05 + 1e-3 * p, "{v} drawn, {p} printed");
            assert!((cy - (bottom - (bottom - top) * v / ymax)).abs() < 0.05);
        }
        // The dashed peak: a line across the panel at the printed peak's height.
        let peak_y = bottom - (bottom - top) * peak / ymax;
        let dashed = panel
            .lines()
            .filter(|l| l.starts_with("<line") && l.contains("stroke-dasharray"))
            .any(|l| (attr(l, "y1") - peak_y).abs() < 0.6);
        assert!(dashed, "no dashed line at the peak {peak} (y {peak_y})");
    }
    assert_refused(
        &convlab(&["bench", "train", "--plot", s(&dir.join("p.png"))]),
        "name it .svg",
    );
}
