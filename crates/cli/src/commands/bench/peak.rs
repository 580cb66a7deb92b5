//! `convlab bench peak`: this machine's FMA peak (convlab_tensor::peak), on 1 and on all
//! threads, so every GFLOP/s figure can also be read as a share of it.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct PeakBenchArgs {
    /// Thread counts to measure, e.g. 1,2 (default: 1 and all the pool's threads).
    #[arg(long, value_delimiter = ',')]
    threads_list: Vec<usize>,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 0.5)]
    seconds: f64,
    /// Measurements per thread count; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// One JSON object per line instead of the table.
    #[arg(long)]
    json: bool,
}

/// `convlab bench peak`: the FMA peak the other benches' GFLOP/s are shares of.
pub fn run(args: PeakBenchArgs) -> Result<ExitCode> {
    anyhow::ensure!(
        args.seconds.is_finite() && (0.001..=60.0).contains(&args.seconds),
        "--seconds must be between 0.001 and 60, got {}",
        args.seconds
    );
    anyhow::ensure!(
        (1..=100).contains(&args.repeats),
        "--repeats must be between 1 and 100"
    );
    let all = rayon::current_num_threads();
    let threads = if args.threads_list.is_empty() {
        let mut t = vec![1, all];
        t.dedup();
        t
    } else {
        args.threads_list.clone()
    };
    for &t in &threads {
        anyhow::ensure!(
            (1..=1024).contains(&t),
            "--threads-list {t}: each count must be between 1 and 1024"
        );
    }
    if !args.json {
        outln!(
            "FMA peak, vector kernels {}: {} independent FMA chains per thread, 2 FLOP per lane of each FMA, median of {} runs of {:.1}s",
            convlab_tensor::isa::describe(),
            match convlab_tensor::isa::active() {
                convlab_tensor::isa::Isa::Avx512 => "16 zmm",
                convlab_tensor::isa::Isa::Avx2 => "12 ymm",
                convlab_tensor::isa::Isa::Baseline => "8 scalar",
            },
            args.repeats,
            args.seconds
        )?;
        outln!(
            "{:>8} {:>10} {:>16}",
            "threads",
            "GFLOP/s",
            "GFLOP/s a thread"
        )?;
    }
    let min_time = Duration::from_secs_f64(args.seconds);
    for t in threads {
        let p = convlab_tensor::peak::measure(t, args.repeats, min_time);
        if args.json {
            outln!(
                "{}",
                serde_json::json!({
                    "threads": p.threads,
                    "isa": p.isa.name(),
                    "gflops": p.gflops,
                    "seconds": args.seconds,
                    "repeats": args.repeats,
                })
            )?;
        } else {
            outln!(
                "{:>8} {:>10.1} {:>16.1}",
                p.threads,
                p.gflops,
                p.gflops / p.threads as f64
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
