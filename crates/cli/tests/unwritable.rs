//! Outputs that cannot be written: a read-only directory and a full disk. Either way `convlab
//! train` stops with one clear line naming the file (exit code 2), and the checkpoint already in
//! the directory survives byte for byte.
//!
//! Both are real file systems, not mocks: a small tmpfs is mounted for each test, read-only for
//! the first and a few kilobytes larger than the old checkpoint for the second, so writing the new
//! checkpoint beside it runs out of space. Mounting needs root with CAP_SYS_ADMIN (CI has it);
//! without root the read-only case falls back to `chmod 555`, and where mounting is refused the
//! tests print why they were skipped.
//! (`convlab_nn::atomic`'s unit tests also cover a writer that fails after every byte.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn convlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convlab"))
        .args(args)
        .output()
        .expect("run convlab")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A tmpfs mounted at a fresh directory, unmounted when dropped (even if the test fails).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` at a new directory, or returns why it could not.
    fn mount(name: &str, bytes: u64) -> Result<Tmpfs, String> {
        let dir = std::env::temp_dir().join(format!("convlab-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !o.status.success() {
            let _ = std::fs::remove_dir(&dir);
            return Err(String::from_utf8_lossy(&o.stderr).into_owned());
        }
        Ok(Tmpfs { dir })
    }

    fn remount_read_only(&self) {
        let o = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily (-l), so that a file still open cannot keep it mounted. If the test process is
        // killed before this runs, the mount stays until the machine restarts: it is a few MB
        // of tmpfs under the temporary directory, named with the test's process id.
        let unmounted = Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if unmounted {
            let _ = std::fs::remove_dir(&self.dir);
        } else if !std::thread::panicking() {
            panic!("could not unmount the test tmpfs at {}", self.dir.display());
        }
    }
}

/// Writes an untrained chapter model to `path`: the "previous checkpoint" that must survive.
fn previous_checkpoint(path: &Path) -> Vec<u8> {
    let model = convlab_nn::chapter_model(7, convlab_tensor::ConvAlgorithm::Im2col);
    convlab_nn::checkpoint::save_model(path, &model).unwrap();
    std::fs::read(path).unwrap()
}

/// Asserts exit code 2 with one error line on stderr that contains every needle.
#[track_caller]
fn assert_clear_error(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout: {}\nstderr: {err}",
        String::from_utf8_lossy(&o.stdout)
    );
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

fn train_into(checkpoint: &Path) -> Output {
    convlab(&[
        "train",
        "--epochs",
        "1",
        "--limit",
        "320",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
    ])
}

#[test]
fn a_read_only_output_directory_is_a_clear_error_and_keeps_the_checkpoint() {
    if is_root() {
        // Root writes through permission bits, so only a read-only mount stops it.
        let fs = match Tmpfs::mount("read-only", 8 << 20) {
            Ok(fs) => fs,
            Err(why) => {
                // Root without CAP_SYS_ADMIN (a plain container) cannot mount, and chmod
                // cannot stop root: nothing here can make a directory unwritable.
                eprintln!("skipped: cannot mount a tmpfs: {why}");
                return;
            }
        };
        let checkpoint = fs.dir.join("m.safetensors");
        let before = previous_checkpoint(&checkpoint);
        fs.remount_read_only();
        let o = train_into(&checkpoint);
        assert_clear_error(&o, &["cannot write beside", "m.safetensors"]);
        assert_eq!(std::fs::read(&checkpoint).unwrap(), before);
    } else {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("convlab-{}-ro", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let checkpoint = dir.join("m.safetensors");
        let before = previous_checkpoint(&checkpoint);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        let o = train_into(&checkpoint);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_clear_error(&o, &["cannot write beside", "m.safetensors"]);
        assert_eq!(std::fs::read(&checkpoint).unwrap(), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_keeps_the_checkpoint() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    // Room for the old checkpoint (~1.3 MB) and a little more, not for a second checkpoint.
    let probe =
        std::env::temp_dir().join(format!("convlab-{}-size.safetensors", std::process::id()));
    let size = previous_checkpoint(&probe).len() as u64;
    std::fs::remove_file(&probe).unwrap();
    let fs = match Tmpfs::mount("full", size + (64 << 10)) {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("skipped: cannot mount a tmpfs: {why}");
            return;
        }
    };
    let checkpoint = fs.dir.join("m.safetensors");
    let before = previous_checkpoint(&checkpoint);
    let o = train_into(&checkpoint);
    assert_clear_error(&o, &["No space left on device", "m."]);
    assert_eq!(std::fs::read(&checkpoint).unwrap(), before);
    // Nothing half-written is left behind: only the old checkpoint (the history is first
    // written after the epoch's checkpoint, which is what failed).
    let mut names: Vec<String> = std::fs::read_dir(&fs.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["m.safetensors"]);
}
