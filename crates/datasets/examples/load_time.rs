//! Times loading and verifying Fashion-MNIST (all four files: gunzip, parse, SHA-256, checks).
//!
//! cargo run --release -p convlab-datasets --example load_time [DIR]
//!
//! DIR defaults to Debian's /usr/share/datasets/fashion-mnist. Prints the best of five runs and
//! each run's time, since the first run also pays for reading the files from disk.

use std::path::PathBuf;
use std::time::Instant;

use convlab_datasets::{fashion_mnist, LoadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/datasets/fashion-mnist"));
    let options = LoadOptions::only_dir(&dir);
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let ((x_train, y_train), (x_test, y_test)) = fashion_mnist::load_data_from(&options)?;
        times.push(start.elapsed().as_secs_f64());
        assert_eq!(
            (x_train.n, y_train.len(), x_test.n, y_test.len()),
            (60_000, 60_000, 10_000, 10_000)
        );
    }
    let runs: Vec<String> = times.iter().map(|t| format!("{:.0} ms", t * 1e3)).collect();
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "Fashion-MNIST from {}: load + verify (train and test) in {:.0} ms (best of 5; runs: {})",
        dir.display(),
        best * 1e3,
        runs.join(", ")
    );
    Ok(())
}
