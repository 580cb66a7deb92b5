//! Crash safety of `convlab train`, tested the hard way: the real command is killed with SIGKILL
//! at random moments (some of them while a checkpoint is being written), and after every kill
//! the files on disk must load. Then an interrupted run, resumed from its backup, must end
//! bit-identical to one that was never interrupted.
//!
//! Needs the real Fashion-MNIST files, like the other end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The two tests each run training on both cores; one at a time keeps their timing meaningful.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("convlab-crash-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small, fast run: 320 training images, so an epoch is mostly validation (~1 s), and
/// checkpoints are written every second or so.
fn train_args(checkpoint: &Path, epochs: &str) -> Vec<String> {
    [
        "train",
        "--epochs",
        epochs,
        "--limit",
        "320",
        "--patience",
        "100",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Loads a checkpoint through the command itself, as a user would.
fn loads(path: &Path) -> bool {
    Command::new(env!("CARGO_BIN_EXE_convlab"))
        .args(["summary", "--model", path.to_str().unwrap()])
        .output()
        .expect("run convlab")
        .status
        .success()
}

/// Starts `convlab` with `args`, kills it with SIGKILL after `delay`.
fn kill_after(args: &[String], delay: Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_convlab"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start convlab train");
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
}

#[test]
fn killing_train_at_random_moments_never_leaves_a_broken_checkpoint() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("kills");
    let checkpoint = dir.join("model.safetensors");
    let backup = dir.join("model.backup.safetensors");
    // A long run, killed once its first backup exists: from then on every kill has a previous
    // checkpoint to preserve.
    let mut child = Command::new(env!("CARGO_BIN_EXE_convlab"))
        .args(train_args(&checkpoint, "1000"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start convlab train");
    let spawned = Instant::now();
    let deadline = spawned + Duration::from_secs(120);
    while !backup.exists() {
        assert!(Instant::now() < deadline, "no backup appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    // How long loading and the first epochs took on this machine: the kills' moments are
    // fractions of it, so that they land in loading, training, validation and the checkpoint
    // writes on a slow CPU as on a fast one (fixed moments of 0.5-4.5 s missed every epoch's
    // end on a Zen 1 EPYC whose loading and validation alone take ~4 s).
    let span = spawned.elapsed().max(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();

    // Then resume and kill, 20 times, at a fixed sequence of moments between a quarter of that
    // span and 2.25 spans after the start.
    let resume = vec![
        "train".to_string(),
        "--resume".to_string(),
        backup.to_str().unwrap().to_string(),
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut backups_seen = std::collections::HashSet::new();
    let started = Instant::now();
    for kill in 1..=20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = span.mul_f64(0.25 + (state % 1000) as f64 / 500.0);
        kill_after(&resume, delay);
        for path in [&checkpoint, &backup] {
            assert!(
                loads(path),
                "kill {kill} after {delay:?} left {} unloadable",
                path.display()
            );
        }
        backups_seen.insert(std::fs::read(&backup).unwrap());
        assert!(
            started.elapsed() < 20 * (span.mul_f64(2.25) + Duration::from_secs(15)),
            "test is too slow"
        );
    }
    // The runs between kills must have written new checkpoints, or the kills hit nothing.
    assert!(
        backups_seen.len() >= 3,
        "only {} different backups across 20 kills",
        backups_seen.len()
    );
    println!(
        "20 kills survived; {} different backups seen",
        backups_seen.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_interrupted_run_resumed_from_its_backup_ends_like_an_uninterrupted_one() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let run = |dir: &Path, args: Vec<String>| {
        let o = Command::new(env!("CARGO_BIN_EXE_convlab"))
            .args(args)
            .env("RAYON_NUM_THREADS", "1")
            .current_dir(dir)
            .output()
            .expect("run convlab");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let history = |path: PathBuf| -> Vec<String> {
        // Every column but the seconds (the sixth; the seventh, the stop reason, may hold
        // commas, so the line is split into at most seven fields).
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let mut fields: Vec<&str> = l.splitn(7, ',').collect();
                fields.remove(5);
                fields.join(",")
            })
            .collect()
    };

    let straight = scratch("straight");
    run(&straight, train_args(&straight.join("m.safetensors"), "3"));

    // The same run, killed during its second epoch (as soon as the backup of the first
    // exists), then resumed from that backup alone.
    let resumed = scratch("resumed");
    let backup = resumed.join("m.backup.safetensors");
    let mut child = Command::new(env!("CARGO_BIN_EXE_convlab"))
        .args(train_args(&resumed.join("m.safetensors"), "3"))
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as the first backup exists (polling; the run takes several seconds).
    let deadline = Instant::now() + Duration::from_secs(120);
    while !backup.exists() {
        assert!(Instant::now() < deadline, "no backup appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    run(
        &resumed,
        vec![
            "train".into(),
            "--resume".into(),
            backup.to_str().unwrap().into(),
        ],
    );

    assert_eq!(
        history(resumed.join("m.history.csv")),
        history(straight.join("m.history.csv"))
    );
    assert_eq!(
        std::fs::read(resumed.join("m.safetensors")).unwrap(),
        std::fs::read(straight.join("m.safetensors")).unwrap(),
        "best checkpoints differ"
    );
    std::fs::remove_dir_all(&straight).unwrap();
    std::fs::remove_dir_all(&resumed).unwrap();
}
