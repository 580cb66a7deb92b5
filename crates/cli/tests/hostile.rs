//! The README's Reliability promises, one test per class of hostile or careless input: nothing a
//! file or an argument says can crash `convlab`, hang it, abort it, give a wrong result with
//! exit code 0, write outside the outputs the person chose, or damage an earlier run's files.
//!
//! Each test runs the real binary. Files that must not change are compared byte for byte (and by
//! modification time where "untouched" is the promise); every child process runs under a
//! deadline, so a hang fails the test instead of stalling the suite.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_convlab"))
}

/// Runs `cmd` to the end, killing it (and failing) if it takes longer than `limit`.
#[track_caller]
fn run_within(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start convlab");
    wait_within(child, limit)
}

#[track_caller]
fn wait_within(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("convlab hung: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect output")
}

fn convlab(args: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.args(args);
    run_within(cmd, Duration::from_secs(120))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit code 2, one `convlab: error:` line containing `needle`, no panic.
#[track_caller]
fn assert_refused(o: &Output, needle: &str) {
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout: {}\nstderr: {err}",
        text(&o.stdout)
    );
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("convlab-hostile-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file of `dir` with its bytes and modification time, to show nothing was touched.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, SystemTime)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let modified = fs::metadata(&path).unwrap().modified().unwrap();
            (name, fs::read(&path).unwrap_or_default(), modified)
        })
        .collect();
    files.sort();
    files
}

/// One finished run (1 epoch on 320 images) whose files the tests copy: its checkpoint and
/// backup.
fn finished_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scratch("finished");
        let o = convlab(&[
            "train",
            "--epochs",
            "1",
            "--limit",
            "320",
            "--checkpoint",
            s(&dir.join("m.safetensors")),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        dir
    })
}

/// A copy of the finished run in a fresh directory.
fn copy_of_run(name: &str) -> PathBuf {
    let dir = scratch(name);
    for e in fs::read_dir(finished_run()).unwrap() {
        let path = e.unwrap().path();
        fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// Rewrites a checkpoint's safetensors header JSON (offsets are relative to the data, so the
/// header may change length).
fn rewrite_header(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let bytes = fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    edit(&mut header);
    let json = serde_json::to_vec(&header).unwrap();
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + len..]);
    fs::write(path, out).unwrap();
}

/// Rewrites the JSON held in one metadata string of a checkpoint.
fn rewrite_metadata(path: &Path, key: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    rewrite_header(path, |header| {
        let slot = &mut header["__metadata__"][key];
        let mut inner: serde_json::Value = serde_json::from_str(slot.as_str().unwrap()).unwrap();
        edit(&mut inner);
        *slot = serde_json::Value::String(inner.to_string());
    });
}

#[test]
fn a_backup_never_decides_where_files_are_written() {
    let dir = copy_of_run("backup-paths");
    let victim = dir.join("victim.safetensors");
    fs::write(&victim, b"someone else's file").unwrap();
    // A crafted backup whose settings name another file as the checkpoint (older backups kept
    // the path there), resumed for one more epoch.
    let backup = dir.join("m.backup.safetensors");
    rewrite_metadata(&backup, "convlab.training_state", |state| {
        state["extra"]["checkpoint"] = s(&victim).into();
        state["extra"]["epochs"] = 2.into();
    });
    let before = fs::read(dir.join("m.safetensors")).unwrap();
    let o = convlab(&["train", "--resume", s(&backup)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(fs::read(&victim).unwrap(), b"someone else's file");
    assert!(!dir.join("victim.history.csv").exists());
    // It continued the checkpoint beside the backup.
    assert!(text(&o.stdout).contains("Epoch 2/2"), "{}", text(&o.stdout));
    let csv = fs::read_to_string(dir.join("m.history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let _ = before;

    // Resuming a copy in another directory writes beside the copy, never into the original.
    let original = snapshot(finished_run());
    let elsewhere = scratch("backup-copy");
    let copy = elsewhere.join("copy.backup.safetensors");
    fs::copy(finished_run().join("m.backup.safetensors"), &copy).unwrap();
    let o = convlab(&["train", "--resume", s(&copy)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(snapshot(finished_run()), original);
    assert!(elsewhere.join("copy.safetensors").exists());

    // --checkpoint with --resume is where the files go.
    let chosen = scratch("backup-chosen").join("chosen.safetensors");
    let o = convlab(&["train", "--resume", s(&copy), "--checkpoint", s(&chosen)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(chosen.exists());
    // A backup named otherwise needs --checkpoint, and settings cannot be mixed in.
    let odd = elsewhere.join("odd.safetensors");
    fs::copy(&copy, &odd).unwrap();
    assert_refused(
        &convlab(&["train", "--resume", s(&odd)]),
        "give --checkpoint",
    );
    let o = convlab(&["train", "--resume", s(&copy), "--epochs", "5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("cannot be used with"),
        "{}",
        text(&o.stderr)
    );
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&elsewhere).unwrap();
}

/// An IDX file of u8 values: magic 0x0000_08_NN, big-endian dimensions, the values.
fn write_idx(path: &Path, dims: &[u32], values: &[u8]) {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(values);
    fs::write(path, bytes).unwrap();
}

/// A Fashion-MNIST-shaped directory with `train` images of `train_side` pixels square and 16
/// test images of `test_side`.
fn tiny_data(name: &str, train_side: u32, test_side: u32) -> PathBuf {
    let dir = scratch(name);
    for (prefix, n, side) in [("train", 64u32, train_side), ("t10k", 16, test_side)] {
        let pixels: Vec<u8> = (0..n * side * side).map(|i| (i * 7 % 251) as u8).collect();
        write_idx(
            &dir.join(format!("{prefix}-images-idx3-ubyte")),
            &[n, side, side],
            &pixels,
        );
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        write_idx(
            &dir.join(format!("{prefix}-labels-idx1-ubyte")),
            &[n],
            &labels,
        );
    }
    dir
}

#[test]
fn every_split_is_checked_against_the_model() {
    let model = s(&finished_run().join("m.safetensors")).to_string();
    // Test images of 32x32 beside 28x28 training images: refused, naming both files.
    let mixed = tiny_data("mixed-sizes", 28, 32);
    for args in [
        vec!["evaluate", "--split", "test", "--model", &model],
        vec!["predict", "--index", "0", "--model", &model],
    ] {
        let mut args = args.clone();
        args.extend(["--no-verify", "--data", s(&mixed)]);
        let o = convlab(&args);
        assert_refused(
            &o,
            "t10k-images-idx3-ubyte: the images are 32x32x1 (rows x cols x channels), but Fashion-MNIST images are 28x28x1",
        );
    }
    // Every image 32x32: the model reads 28x28x1, so nothing runs.
    let big = tiny_data("all-32", 32, 32);
    let out = scratch("all-32-out").join("m.safetensors");
    let o = convlab(&[
        "train",
        "--no-verify",
        "--data",
        s(&big),
        "--checkpoint",
        s(&out),
    ]);
    assert_refused(
        &o,
        "train-images-idx3-ubyte: the images are 32x32x1 (rows x cols x channels), but Fashion-MNIST images are 28x28x1",
    );
    assert!(!out.exists());
    let o = convlab(&[
        "evaluate",
        "--model",
        &model,
        "--no-verify",
        "--data",
        s(&big),
    ]);
    assert_refused(
        &o,
        "the images are 32x32x1 (rows x cols x channels), but Fashion-MNIST images are 28x28x1",
    );
}

#[cfg(unix)]
#[test]
fn devices_and_read_only_files_are_not_replaced() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let o = convlab(&["train", "--limit", "32", "--checkpoint", "/dev/null"]);
    assert_refused(&o, "/dev/null: it is not a regular file");
    assert!(fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    let o = convlab(&["plot-model", "--out", "/dev/null"]);
    assert_refused(&o, "not a regular file");
    assert!(fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());

    let dir = copy_of_run("read-only");
    let checkpoint = dir.join("m.safetensors");
    fs::set_permissions(&checkpoint, fs::Permissions::from_mode(0o444)).unwrap();
    let before = snapshot(&dir);
    let o = convlab(&["train", "--limit", "32", "--checkpoint", s(&checkpoint)]);
    assert_refused(&o, "read-only");
    assert_eq!(snapshot(&dir), before);
    let svg = dir.join("m.curves.svg");
    fs::set_permissions(&svg, fs::Permissions::from_mode(0o444)).unwrap();
    assert_refused(&convlab(&["plot-model", "--out", s(&svg)]), "read-only");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_stdout_is_an_error_line_and_a_closed_one_ends_quietly() {
    let full = || {
        fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let mut cmd = bin();
    cmd.arg("summary").stdout(full()).stderr(Stdio::piped());
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("cannot write to standard output"));

    // `evaluate --confusion | head -1`: read one line, then close the pipe.
    let model = finished_run().join("m.safetensors");
    let mut child = bin()
        .args(["evaluate", "--confusion", "--model", s(&model)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("Val (12000 images)"), "{first}");
    let o = wait_within(child, Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
}

#[test]
fn train_keeps_training_and_saving_when_stdout_goes_away() {
    let dir = scratch("stdout-gone");
    let checkpoint = dir.join("m.safetensors");
    let mut child = bin()
        .args(["train", "--epochs", "1", "--limit", "64"])
        .args(["--checkpoint", s(&checkpoint)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // closed before train prints anything
    let o = wait_within(child, Duration::from_secs(120));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("panicked"));
    assert!(checkpoint.exists() && dir.join("m.backup.safetensors").exists());

    // A full disk behind stdout: still trained and saved, and said once it is over.
    let second = dir.join("second.safetensors");
    let child = bin()
        .args(["train", "--epochs", "1", "--limit", "64"])
        .args(["--checkpoint", s(&second)])
        .stdout(
            fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = wait_within(child, Duration::from_secs(120));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("cannot write to standard output"));
    assert!(second.exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn absurd_thread_counts_and_fifos_are_refused_at_once() {
    let quick = Duration::from_secs(10);
    let mut cmd = bin();
    cmd.args(["--threads", "99999999999", "summary"]);
    assert_refused(
        &run_within(cmd, quick),
        "--threads 99999999999: give a number from 1 to 1024",
    );
    let mut cmd = bin();
    cmd.arg("summary").env("RAYON_NUM_THREADS", "99999999");
    assert_refused(&run_within(cmd, quick), "RAYON_NUM_THREADS=\"99999999\"");
    let mut cmd = bin();
    cmd.args(["--threads", "0", "summary"]);
    assert_refused(&run_within(cmd, quick), "give a number from 1");

    let dir = scratch("fifo");
    let fifo = dir.join("model.safetensors");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for command in ["summary", "evaluate"] {
        let mut cmd = bin();
        cmd.args([command, "--model", s(&fifo)]);
        assert_refused(&run_within(cmd, quick), "not a regular file");
    }
    let fifo_backup = dir.join("m.backup.safetensors");
    assert!(Command::new("mkfifo")
        .arg(&fifo_backup)
        .status()
        .unwrap()
        .success());
    let mut cmd = bin();
    cmd.args(["train", "--resume", s(&fifo_backup)]);
    assert_refused(&run_within(cmd, quick), "not a regular file");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sizes_are_checked_before_anything_is_allocated() {
    let o = convlab(&[
        "bench",
        "conv",
        "--shape",
        "10000x10000x512:3x3:512:1:same",
        "--batch",
        "1000",
    ]);
    assert_refused(&o, "needs about");
    assert!(text(&o.stderr).contains("GB available here"));
    let o = convlab(&[
        "bench",
        "conv",
        "--shape",
        "4000000000x4000000000x4000000000:3x3:9:1:same",
    ]);
    assert_refused(&o, "--shape");
    // The whole training split as one batch needs ~39 GB of activations; machines with much
    // more memory could run it, so only the refusal's wording is checked where it applies.
    let out = scratch("huge-batch").join("m.safetensors");
    let o = convlab(&[
        "train",
        "--batch-size",
        "1000000000",
        "--limit",
        "1000000000",
        "--checkpoint",
        s(&out),
    ]);
    if o.status.code() == Some(2) {
        assert_refused(
            &o,
            "--batch-size 1000000000 (batches of 48000 images) needs about",
        );
        assert!(!out.exists());
    } else {
        assert_ne!(
            o.status.code(),
            None,
            "killed by a signal: {}",
            text(&o.stderr)
        );
    }
}

#[test]
fn a_failing_or_second_run_leaves_the_last_run_alone() {
    let dir = copy_of_run("last-good");
    let checkpoint = dir.join("m.safetensors");
    let before = snapshot(&dir);
    // The data cannot be found: nothing of the earlier run changes (the history is not cut).
    let empty = scratch("last-good-empty");
    let o = convlab(&["train", "--data", s(&empty), "--checkpoint", s(&checkpoint)]);
    assert_refused(&o, "does not hold the Fashion-MNIST files");
    assert_eq!(snapshot(&dir), before);
    // Nor does it create the directories of a checkpoint it never writes.
    let nested = dir.join("new/deeper/m.safetensors");
    let o = convlab(&["train", "--data", s(&empty), "--checkpoint", s(&nested)]);
    assert_refused(&o, "does not hold the Fashion-MNIST files");
    assert!(!dir.join("new").exists());
    // A checkpoint named like a lock file is kept (the lock is .m.lock, never the checkpoint).
    let odd = dir.join("odd.lock");
    let o = convlab(&[
        "train",
        "--epochs",
        "1",
        "--limit",
        "32",
        "--checkpoint",
        s(&odd),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(odd.exists() && !dir.join(".odd.lock").exists());

    // Another run holds the checkpoint's lock: refused, nothing touched.
    let lock = fs::File::create(dir.join(".m.lock")).unwrap();
    lock.lock().unwrap();
    let before = snapshot(&dir);
    let o = convlab(&["train", "--limit", "32", "--checkpoint", s(&checkpoint)]);
    assert_refused(&o, "another convlab train is writing");
    assert_eq!(snapshot(&dir), before);
    drop(lock);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resuming_a_finished_run_claims_and_writes_nothing_new() {
    let dir = copy_of_run("finished-resume");
    let before = snapshot(&dir);
    let o = convlab(&["train", "--resume", s(&dir.join("m.backup.safetensors"))]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("nothing left to train"), "{out}");
    assert!(out.contains("saved before the backup"), "{out}");
    assert!(!out.contains("wrote "), "{out}");
    assert_eq!(snapshot(&dir), before);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn text_and_numbers_from_files_are_checked() {
    let dir = copy_of_run("untrusted");
    // An escape sequence in the model's name: refused, and the error shows it escaped.
    let named = dir.join("named.safetensors");
    fs::copy(dir.join("m.safetensors"), &named).unwrap();
    rewrite_metadata(&named, "convlab.architecture", |arch| {
        arch["name"] = "\u{1b}]0;owned\u{7}\u{1b}[2J".into();
    });
    let o = convlab(&["summary", "--model", s(&named)]);
    assert_refused(&o, "control or formatting character");
    assert!(!o.stderr.contains(&0x1b) && !o.stdout.contains(&0x1b));

    // NaN weights: an error, not `loss NaN` with exit code 0.
    let nan = dir.join("nan.safetensors");
    let mut bytes = fs::read(dir.join("m.safetensors")).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes[8 + len..8 + len + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    fs::write(&nan, bytes).unwrap();
    assert_refused(
        &convlab(&["evaluate", "--model", s(&nan)]),
        "NaN or infinite values",
    );

    // A Unicode right-to-left override, which makes text read as something else.
    let bidi = dir.join("bidi.safetensors");
    fs::copy(dir.join("m.safetensors"), &bidi).unwrap();
    rewrite_metadata(&bidi, "convlab.architecture", |arch| {
        arch["name"] = "model\u{202e}fdp.exe".into();
    });
    assert_refused(
        &convlab(&["summary", "--model", s(&bidi)]),
        "formatting character",
    );

    // An initialiser that draws infinities.
    let init = dir.join("init.safetensors");
    fs::copy(dir.join("m.safetensors"), &init).unwrap();
    rewrite_metadata(&init, "convlab.architecture", |arch| {
        arch["layers"][0]["kernel_initializer"] =
            serde_json::json!({"name": "RandomNormal", "mean": 0.0, "stddev": 1e308});
    });
    let o = convlab(&["inspect", "weights", "--untrained", "--model", s(&init)]);
    assert_refused(&o, "RandomNormal needs a finite mean");

    // A backup whose parts disagree: the optimizer, the callbacks' best epoch, the history.
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 4] = [
        ("is not the one its settings name", |st| {
            st["extra"]["optimizer"] = "Sgd".into()
        }),
        ("callbacks' best epoch does not match", |st| {
            st["callbacks"][4][0]["best"] = (-1e30).into()
        }),
        ("it is numbered 99", |st| {
            st["history"]["epochs"][0]["epoch"] = 99.into()
        }),
        ("it took", |st| {
            st["history"]["epochs"][0]["seconds"] = (-1e300).into()
        }),
    ];
    for (needle, edit) in edits {
        let backup = dir.join("m.backup.safetensors");
        fs::copy(finished_run().join("m.backup.safetensors"), &backup).unwrap();
        rewrite_metadata(&backup, "convlab.training_state", |state| {
            state["extra"]["epochs"] = 2.into();
            edit(state);
        });
        let before = snapshot(&dir);
        assert_refused(&convlab(&["train", "--resume", s(&backup)]), needle);
        assert_eq!(snapshot(&dir), before);
    }

    // Optimizer settings no one could set.
    for (field, value) in [("beta_1", 5.0), ("epsilon", -1.0)] {
        let backup = dir.join("m.backup.safetensors");
        fs::copy(finished_run().join("m.backup.safetensors"), &backup).unwrap();
        rewrite_metadata(&backup, "convlab.training_state", |state| {
            state["optimizer"]["Adam"][field] = value.into();
        });
        let o = convlab(&["train", "--resume", s(&backup)]);
        assert_refused(&o, &format!("adam {field} is {value}"));
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn a_model_too_large_for_the_memory_limit_is_refused_not_aborted() {
    use convlab_nn::{Conv2D, Sequential};
    let dir = scratch("too-large");
    // 400,000 one-by-one filters: a 3 MB file whose feature maps for one image need ~2.5 GB.
    let mut model = Sequential::new(&[28, 28, 1]);
    model.add(Conv2D::new(400_000, 1)).unwrap();
    let path = dir.join("wide.safetensors");
    convlab_nn::checkpoint::save_model(&path, &model).unwrap();
    let out = dir.join("maps.png");
    let script = format!(
        "ulimit -v 2000000; exec {} inspect feature-maps --model {} --out {}",
        env!("CARGO_BIN_EXE_convlab"),
        s(&path),
        s(&out)
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]);
    let o = run_within(cmd, Duration::from_secs(60));
    assert_refused(&o, "needs about");
    assert!(!out.exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_and_usage_errors_are_one_line_or_an_error_on_a_full_disk() {
    let mut cmd = bin();
    cmd.arg("--help")
        .stdout(
            fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .stderr(Stdio::piped());
    let o = cmd.output().unwrap();
    assert_refused(&o, "cannot write to standard output");
    let o = convlab(&["--threads", "-1", "summary"]);
    assert_refused(&o, "invalid value '-1' for '--threads");
    assert_eq!(text(&o.stderr).lines().count(), 1, "{}", text(&o.stderr));
}

#[test]
fn negative_numbers_are_values_not_flags() {
    assert_refused(
        &convlab(&["train", "--lr", "-1"]),
        "--lr must be a positive number, got -1",
    );
    let o = convlab(&["evaluate", "--model", "m.safetensors", "--batch-size", "-5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("invalid value '-5'"),
        "{}",
        text(&o.stderr)
    );
}
