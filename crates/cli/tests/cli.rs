//! The `convlab` command end to end, as a person runs it: real Fashion-MNIST (CI installs
//! Debian's dataset-fashion-mnist), real files written, and every error a clear line with exit
//! code 2.
//!
//! One short training run (1 epoch on 6,000 images) is shared by the tests that need a model;
//! it is also the acceptance check that training on real data works: validation accuracy must be
//! well above chance (>= 0.75; chance is 0.10).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn convlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convlab"))
        .args(args)
        .output()
        .expect("run convlab")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts exit code 2 and a single `convlab: error:` line on stderr containing `needle`.
#[track_caller]
fn assert_usage_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout: {}\nstderr: {err}",
        stdout(o)
    );
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("convlab-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().expect("a valid PNG");
    let info = reader.info();
    (info.width, info.height)
}

fn assert_svg(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    text
}

/// The shared model: `convlab train --epochs 1 --limit 6000`, and what it printed.
struct Trained {
    checkpoint: PathBuf,
    output: String,
}

fn trained() -> &'static Trained {
    static TRAINED: OnceLock<Trained> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let dir = scratch("trained");
        let checkpoint = dir.join("model.safetensors");
        let o = convlab(&[
            "train",
            "--epochs",
            "1",
            "--limit",
            "6000",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "train failed: {}\n{}",
            stdout(&o),
            stderr(&o)
        );
        Trained {
            checkpoint,
            output: stdout(&o),
        }
    })
}

#[test]
fn train_on_real_data_learns_and_writes_its_outputs() {
    let t = trained();
    let out = &t.output;
    assert!(out.contains("Total params: 333,526"), "{out}");
    let epoch = out
        .lines()
        .find(|l| l.starts_with("Epoch 1/1 - "))
        .expect("epoch line");
    assert!(
        epoch.contains(" - loss: ") && epoch.contains(" - val_accuracy: "),
        "{epoch}"
    );
    let val_line = out
        .lines()
        .find(|l| l.starts_with("validation: "))
        .expect("evaluation");
    let accuracy: f32 = val_line
        .rsplit("accuracy ")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        accuracy >= 0.75,
        "validation accuracy {accuracy} after 1 epoch on 6,000 images"
    );
    assert!(out.lines().any(|l| l.starts_with("test: ")), "{out}");

    let csv = std::fs::read_to_string(t.checkpoint.with_file_name("model.history.csv")).unwrap();
    assert!(
        csv.starts_with("epoch,loss,accuracy,val_loss,val_accuracy,seconds,stop_reason\n1,"),
        "{csv}"
    );
    assert_svg(&t.checkpoint.with_file_name("model.curves.svg"));
}

#[test]
fn evaluate_predict_and_inspect_a_trained_model() {
    let t = trained();
    let model = t.checkpoint.to_str().unwrap();
    let dir = scratch("inspect");

    let o = convlab(&[
        "evaluate",
        "--model",
        model,
        "--split",
        "test",
        "--confusion",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Test (10000 images): loss "), "{out}");
    assert!(out.contains("Ankle boot"), "{out}");

    let image = dir.join("image.png");
    let o = convlab(&[
        "predict",
        "--model",
        model,
        "--index",
        "0",
        "--out",
        image.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The first test image is an ankle boot (label 9).
    assert!(
        stdout(&o).contains("true class: Ankle boot"),
        "{}",
        stdout(&o)
    );
    assert_eq!(png_size(&image), (28 * 8 + 2 * 4, 28 * 8 + 2 * 4));

    let (filters, hist) = (dir.join("filters.png"), dir.join("hist.svg"));
    for untrained in [false, true] {
        let mut args = vec![
            "inspect",
            "weights",
            "--model",
            model,
            "--layer",
            "0",
            "--filters",
            filters.to_str().unwrap(),
            "--hist",
            hist.to_str().unwrap(),
        ];
        if untrained {
            args.push("--untrained");
        }
        let o = convlab(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).contains("kernel [3, 3, 1, 32]: mean "),
            "{}",
            stdout(&o)
        );
        // 2 x 16 tiles of 3x3 at 10 px each, 4 px gaps.
        assert_eq!(png_size(&filters), (16 * 30 + 17 * 4, 2 * 30 + 3 * 4));
        assert_svg(&hist);
    }

    let maps = dir.join("maps.png");
    let o = convlab(&[
        "inspect",
        "feature-maps",
        "--model",
        model,
        "--layer",
        "0",
        "--index",
        "0",
        "--out",
        maps.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (w, h) = png_size(&maps);
    // A 4 x 8 grid of 28x28 maps (3 px each, 4 px gaps) with the input image beside it.
    assert_eq!(h as usize, 4 * 84 + 5 * 4);
    assert!(w as usize > 8 * 84 + 9 * 4, "{w}");
}

#[test]
fn summary_and_plot_model_need_no_data() {
    let o = convlab(&["summary"]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o),
        include_str!("../../nn/tests/fixtures/chapter_summary.txt")
    );
    let dir = scratch("plot");
    let svg = dir.join("model.svg");
    let o = convlab(&["plot-model", "--out", svg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = assert_svg(&svg);
    for name in [
        "input_layer",
        "conv2d_1",
        "max_pooling2d_1",
        "dense_1",
        "(None, 3136)",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
    let dot = dir.join("model.dot");
    let o = convlab(&["plot-model", "--out", dot.to_str().unwrap()]);
    assert!(o.status.success());
    let text = std::fs::read_to_string(&dot).unwrap();
    assert!(
        text.starts_with("digraph") && text.matches("->").count() == 8,
        "{text}"
    );
}

#[test]
fn gradcheck_passes_and_reports() {
    let o = convlab(&["gradcheck", "--layer", "a", "--op", "conv2d"]);
    assert!(o.status.success(), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("conv2d dx") && out.contains("s(2, 2)") && out.contains("checks passed"),
        "{out}"
    );
    // Every layer, as JSON lines with the fields people script against.
    let o = convlab(&["gradcheck", "--json", "--seed", "1"]);
    assert!(o.status.success(), "{}", stdout(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    for layer in ["a", "b", "c"] {
        assert!(
            lines.iter().any(|l| l["layer"] == layer),
            "no layer {layer}"
        );
    }
    for l in &lines {
        for field in [
            "check",
            "dtype",
            "shapes",
            "max_abs_err",
            "max_rel_err",
            "elements",
            "skipped",
        ] {
            assert!(!l[field].is_null(), "{field} missing in {l}");
        }
        assert_eq!(l["passed"], true, "{l}");
    }
    assert_usage_error(
        &convlab(&["gradcheck", "--op", "nonsense"]),
        "matches no check",
    );
}

#[test]
fn bench_conv_validates_and_times() {
    let o = convlab(&[
        "bench",
        "conv",
        "--batch",
        "2",
        "--seconds",
        "0",
        "--shape",
        "9x9x3:3x3:4:2:valid",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("im2col") && out.contains("direct") && out.contains('*'),
        "{out}"
    );
    assert_usage_error(
        &convlab(&["bench", "conv", "--shape", "9x9:3x3:4:1:same"]),
        "expected HxWxC:KxK:COUT:STRIDE:PAD",
    );
    assert_usage_error(
        &convlab(&["bench", "conv", "--shape", "2x2x1:3x3:4:1:valid"]),
        "window 3 is larger than the input 2",
    );
}

#[test]
fn bad_input_is_one_clear_line_and_exit_code_2() {
    let dir = scratch("errors");
    let missing = dir.join("missing.safetensors");
    assert_usage_error(
        &convlab(&["evaluate", "--model", missing.to_str().unwrap()]),
        "missing.safetensors",
    );
    let corrupt = dir.join("corrupt.safetensors");
    std::fs::write(&corrupt, b"this is not a checkpoint at all").unwrap();
    assert_usage_error(
        &convlab(&["summary", "--model", corrupt.to_str().unwrap()]),
        "corrupt.safetensors",
    );
    assert_usage_error(
        &convlab(&["inspect", "weights", "--untrained", "--layer", "99"]),
        "--layer 99 is out of range: the model has 8 layers",
    );
    assert_usage_error(
        &convlab(&["inspect", "weights", "--untrained", "--layer", "1"]),
        "has no weights",
    );
    let unwritable = dir.join("no/such/dir/model.svg");
    assert_usage_error(
        &convlab(&["plot-model", "--out", unwritable.to_str().unwrap()]),
        "model.svg",
    );
    let empty = scratch("empty-data");
    assert_usage_error(
        &convlab(&[
            "train",
            "--data",
            empty.to_str().unwrap(),
            "--checkpoint",
            dir.join("m.safetensors").to_str().unwrap(),
        ]),
        "apt-get install dataset-fashion-mnist",
    );
    assert_usage_error(
        &convlab(&["train", "--lr", "0"]),
        "--lr must be a positive number",
    );
}

#[test]
fn resume_continues_from_the_backup_with_its_settings() {
    let dir = scratch("resume");
    let checkpoint = dir.join("run.safetensors");
    let o = convlab(&[
        "train",
        "--epochs",
        "1",
        "--limit",
        "320",
        "--patience",
        "5",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let backup = dir.join("run.backup.safetensors");
    assert!(
        stdout(&o).contains("run.backup.safetensors"),
        "{}",
        stdout(&o)
    );
    // The backup is a loadable model too.
    let o = convlab(&["summary", "--model", backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Resuming a finished run trains no more epochs and evaluates the same model.
    let o = convlab(&["train", "--resume", backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("after epoch 1 of 1"), "{out}");
    assert!(!out.contains("Epoch 2/"), "{out}");
    let csv = std::fs::read_to_string(dir.join("run.history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    // A model-only checkpoint cannot be resumed: that is an error naming the file.
    assert_usage_error(
        &convlab(&["train", "--resume", checkpoint.to_str().unwrap()]),
        "holds a model only",
    );
}

#[test]
fn a_diverging_run_stops_with_a_message_and_exit_code_1() {
    let dir = scratch("diverge");
    let checkpoint = dir.join("m.safetensors");
    let o = convlab(&[
        "train",
        "--lr",
        "1e6",
        "--limit",
        "320",
        "--epochs",
        "3",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("stopped: training diverged"), "{out}");
    assert!(out.contains("no checkpoint was written"), "{out}");
    assert!(!checkpoint.exists());
    // The history still says what happened in the epoch that diverged, and why it stopped.
    let csv = std::fs::read_to_string(dir.join("m.history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let last = csv.lines().last().unwrap();
    assert!(
        last.starts_with("1,") && last.contains(",\"") && last.contains("training diverged"),
        "{csv}"
    );
}

#[test]
fn a_model_that_is_not_a_fashion_mnist_classifier_is_refused() {
    use convlab_nn::{Dense, Flatten, Sequential};
    let dir = scratch("not-classifier");
    let path = dir.join("three.safetensors");
    let mut model = Sequential::new(&[28, 28, 1]);
    model.add(Flatten::new()).unwrap();
    model.add(Dense::new(3)).unwrap();
    convlab_nn::checkpoint::save_model(&path, &model).unwrap();
    for args in [
        vec!["evaluate", "--model", path.to_str().unwrap()],
        vec!["predict", "--model", path.to_str().unwrap(), "--index", "0"],
    ] {
        assert_usage_error(
            &convlab(&args),
            "the last layer outputs (None, 3), but Fashion-MNIST has 10 classes",
        );
    }
}

#[test]
fn bench_peak_measures_one_and_all_threads() {
    let o = convlab(&[
        "bench",
        "peak",
        "--seconds",
        "0.01",
        "--repeats",
        "1",
        "--threads-list",
        "1,2",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    for (row, threads) in rows.iter().zip([1, 2]) {
        assert_eq!(row["threads"], threads);
        assert!(row["gflops"].as_f64().unwrap() > 0.0, "{row}");
    }
    assert_usage_error(
        &convlab(&["bench", "peak", "--threads-list", "0"]),
        "each count must be between 1 and 1024",
    );
}

#[test]
fn bench_conv_writes_csv_and_json_rows_for_every_plan_and_direction() {
    let dir = scratch("bench-conv");
    let problems = dir.join("problems.txt");
    std::fs::write(
        &problems,
        "# two small layers\n8x8x4:3x3:8:1:same\n\n9x9x3:5x5:4:2:valid # strided\n",
    )
    .unwrap();
    let o = convlab(&[
        "bench",
        "conv",
        "--batch-file",
        problems.to_str().unwrap(),
        "--seconds",
        "0",
        "--threads-list",
        "1,2",
        "--format",
        "json",
        "--sweep",
        "batch=1,3",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for key in [
        "problem",
        "batch",
        "threads",
        "algorithm",
        "direction",
        "min_ms",
        "median_ms",
        "gflops",
        "peak_share",
        "workspace_bytes",
        "max_rel_err",
    ] {
        assert!(rows.iter().all(|r| r.get(key).is_some()), "{key}");
    }
    // 3x3 stride 1: im2col and Winograd (fwd, bwd_weights, bwd), direct (also bwd_data and
    // bwd_bias) and their fused plans (fwd, bwd); 5x5 stride 2: no Winograd.
    let count = |problem: &str, threads: u64, batch: u64| {
        rows.iter()
            .filter(|r| r["problem"] == problem && r["threads"] == threads && r["batch"] == batch)
            .count()
    };
    assert_eq!(count("8x8x4:3x3:8:1:same", 2, 3), 17);
    assert_eq!(count("9x9x3:5x5:4:2:valid", 1, 1), 12);
    assert!(rows
        .iter()
        .all(|r| r["max_rel_err"].as_f64().unwrap() < 0.1));
    let directions = ["fwd", "bwd_data", "bwd_weights", "bwd_bias", "bwd"];
    assert!(rows
        .iter()
        .all(|r| directions.contains(&r["direction"].as_str().unwrap())));
    assert!(rows
        .iter()
        .filter(|r| r["direction"] == "bwd_data")
        .all(|r| r["algorithm"] == "direct"));
    let o = convlab(&[
        "bench",
        "conv",
        "--shape",
        "6x6x2:3x3:4:1:valid",
        "--seconds",
        "0",
        "--format",
        "csv",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("problem,batch,threads,algorithm,direction,min_ms"));
    assert_eq!(lines.count(), 17);
    let o = convlab(&[
        "bench",
        "conv",
        "--shape",
        "6x6x2:3x3:4:1:valid",
        "--seconds",
        "0",
        "--format",
        "csv",
        "--algorithms",
        "direct",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o)
            .lines()
            .skip(1)
            .filter(|l| l.contains(",\"direct"))
            .count(),
        7
    );
    assert_eq!(stdout(&o).lines().count(), 8);
    // A usage error naming the argument and its value, and listing only what it takes.
    let auto = convlab(&["bench", "conv", "--algorithms", "auto"]);
    assert_usage_error(&auto, "'auto' for '--algorithms");
    assert_usage_error(&auto, "it takes im2col, direct, winograd (");
    // --plot: every point drawn carries the GFLOP/s of a row printed, at the height it says.
    let svg_path = dir.join("sweep.svg");
    let o = convlab(&[
        "bench",
        "conv",
        "--shape",
        "6x6x2:3x3:4:1:valid",
        "--sweep",
        "batch=1,2",
        "--seconds",
        "0",
        "--format",
        "json",
        "--plot",
        svg_path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let printed: Vec<f64> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["direction"] != "bwd_bias")
        .map(|r| r["gflops"].as_f64().unwrap())
        .collect();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let attr = |text: &str, name: &str| -> f64 {
        let at = text.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        text[at..].split('"').next().unwrap().parse().unwrap()
    };
    let panels: Vec<&str> = svg.split("class=\"plot-area\"").skip(1).collect();
    assert_eq!(panels.len(), 4, "fwd, bwd_data, bwd_weights, bwd");
    let mut drawn = 0;
    for panel in &panels {
        let (top, bottom, ymax) = (
            attr(panel, "data-top"),
            attr(panel, "data-bottom"),
            attr(panel, "data-ymax"),
        );
        // The panel's circles come after its plot area and before the next one's.
        for circle in panel.lines().filter(|l| l.starts_with("<circle")) {
            let (cy, v) = (attr(circle, "cy"), attr(circle, "data-gflops"));
            assert!(
                (cy - (bottom - (bottom - top) * v / ymax)).abs() < 0.05,
                "{circle}"
            );
            let printed_value = |p: &f64| (p - v).abs() <= 0.02 * v.abs() + 0.006;
            assert!(printed.iter().any(printed_value), "{v} not printed");
            drawn += 1;
        }
    }
    assert_eq!(drawn, printed.len());
    assert_usage_error(
        &convlab(&[
            "bench",
            "conv",
            "--plot",
            dir.join("p.png").to_str().unwrap(),
        ]),
        "name it .svg",
    );
    assert_usage_error(
        &convlab(&[
            "bench",
            "conv",
            "--plot",
            dir.join("no/such/p.svg").to_str().unwrap(),
        ]),
        "does not exist",
    );
    std::fs::write(&problems, "8x8x4:3x3:8:1:same\n8x8x4:3x3\n").unwrap();
    assert_usage_error(
        &convlab(&["bench", "conv", "--batch-file", problems.to_str().unwrap()]),
        "problems.txt:2",
    );
    assert_usage_error(
        &convlab(&["bench", "conv", "--sweep", "height=1,2"]),
        "expected batch=LIST or channels=LIST",
    );
}

/// The TFRecord framing of an event file: (length, masked CRC of it, data, masked CRC of data)
/// records to the end, every CRC right (CRC-32C, written out here a second time as the check).
fn event_records(bytes: &[u8]) -> Vec<Vec<u8>> {
    fn crc32c(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let masked = |d: &[u8]| crc32c(d).rotate_right(15).wrapping_add(0xa282_ead8);
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
        assert_eq!(
            u32_at(at + 8),
            masked(&bytes[at..at + 8]),
            "length CRC at {at}"
        );
        let data = &bytes[at + 12..at + 12 + len];
        assert_eq!(u32_at(at + 12 + len), masked(data), "data CRC at {at}");
        records.push(data.to_vec());
        at += 16 + len;
    }
    records
}

#[test]
fn train_writes_tensorboard_event_files() {
    let dir = scratch("tensorboard");
    let checkpoint = dir.join("run.safetensors");
    let logs = dir.join("logs");
    // Refused before training: a parent that does not exist, a file where the directory goes.
    assert_usage_error(
        &convlab(&[
            "train",
            "--tensorboard",
            dir.join("no/such").to_str().unwrap(),
        ]),
        "does not exist",
    );
    std::fs::write(dir.join("file"), "x").unwrap();
    assert_usage_error(
        &convlab(&["train", "--tensorboard", dir.join("file").to_str().unwrap()]),
        "not a directory",
    );
    let o = convlab(&[
        "train",
        "--epochs",
        "2",
        "--limit",
        "320",
        "--patience",
        "5",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--tensorboard",
        logs.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].to_str().unwrap().contains("events.out.tfevents."));
    let records = event_records(&std::fs::read(&files[0]).unwrap());
    // The file version, then one summary per epoch.
    assert_eq!(records.len(), 3);
    assert!(records[0].windows(13).any(|w| w == b"brain.Event:2"));
    for tag in [
        &b"val_accuracy"[..],
        b"learning_rate",
        b"conv2d_1/kernel",
        b"conv2d/filters",
    ] {
        assert!(
            records[2].windows(tag.len()).any(|w| w == tag),
            "{}",
            String::from_utf8_lossy(tag)
        );
    }
    // The TensorBoard writer keeps no state, so a run can be resumed with it or without it
    // (the backup's callback states are matched by position; it comes last).
    let backup = dir.join("run.backup.safetensors");
    let o = convlab(&["train", "--resume", backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plain = dir.join("plain.safetensors");
    let o = convlab(&[
        "train",
        "--epochs",
        "1",
        "--limit",
        "64",
        "--no-report",
        "--checkpoint",
        plain.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = convlab(&[
        "train",
        "--resume",
        dir.join("plain.backup.safetensors").to_str().unwrap(),
        "--tensorboard",
        dir.join("later").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("nothing left to train"),
        "{}",
        stdout(&o)
    );
}
