//! `convlab`: train, evaluate and look inside the chapter's CNN from the command line.
//!
//! Every command is a module of `commands/`; this file only parses arguments, sets up the thread
//! pool, and turns errors into one line on stderr with exit code 2 (1 is kept for "a check
//! failed", e.g. gradcheck). A closed stdout ends a command quietly (`output.rs`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[macro_use]
mod output;
mod alloc_peak;
mod commands;
mod data;
mod memory;
mod model_arg;
mod progress;
mod run_files;
mod run_report;
mod tensorboard;

/// Training allocates and frees the same large buffers every step (activations of a few MB).
/// With glibc's allocator each such buffer is a fresh mmap and munmap, and the page faults and
/// TLB shootdowns that follow took about 40% of an epoch (docs/PERFORMANCE.md). mimalloc keeps
/// freed pages for reuse.
/// (Wrapped in a meter that `bench conv` turns on to measure a kernel's extra memory.)
#[global_allocator]
static ALLOCATOR: alloc_peak::Metered = alloc_peak::Metered;

#[derive(Parser)]
#[command(
    name = "convlab",
    version,
    about = "A from-scratch CNN lab: the Fashion-MNIST chapter and your own models, trained and inspected in Rust",
    propagate_version = true,
    allow_negative_numbers = true
)]
struct Cli {
    /// Threads for the kernels, 1 to 1024 (default: RAYON_NUM_THREADS if set, else all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (default: the chapter's, with the chapter's settings; --model FILE for yours).
    Train(commands::train::TrainArgs),
    /// Loss and accuracy of a saved model on the validation or test set.
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Class probabilities of one image.
    Predict(commands::predict::PredictArgs),
    /// The Keras summary table of a model (the chapter's when no file is given).
    Summary(commands::summary::SummaryArgs),
    /// Draw the model as boxes and arrows (Keras's plot_model), as SVG or Graphviz DOT.
    PlotModel(commands::plot_model::PlotModelArgs),
    /// Look inside a model: weight statistics, histograms, filters, feature maps.
    #[command(subcommand)]
    Inspect(commands::inspect::InspectCommand),
    /// Numerical gradient checks of every op and of the whole chapter network.
    Gradcheck(commands::gradcheck::GradcheckArgs),
    /// The chapter's 8-1 worked out: convolution, padding, stride, pooling, im2col, Winograd.
    #[command(subcommand)]
    Explain(commands::explain::ExplainCommand),
    /// Benchmarks: convolution algorithms, or a training epoch on the real data.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// A trained model's report as one self-contained HTML page: curves, confusion matrix,
    /// mistakes, weights, filters and feature maps.
    Report(commands::report::ReportArgs),
    /// Write a trained model for other tools: ONNX (for ONNX Runtime, Netron, ...).
    Export(commands::export::ExportArgs),
}

/// Turns transparent huge pages off for this process (Linux; elsewhere nothing to do).
///
/// mimalloc asks the kernel for huge pages (`madvise(MADV_HUGEPAGE)`), so the first touch of
/// each 2 MB region of the heap faults in and clears a whole huge page. While the heap grows to
/// its steady size during the first epoch, that was one thread clearing pages with the other
/// idle (`clear_page_erms` in perf; the first epoch was the slowest, docs/PERFORMANCE.md). With
/// 4 KB pages only the memory that is used gets cleared; later epochs are the same speed either way.
#[cfg(target_os = "linux")]
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes one integer argument and touches no memory of ours; a
    // kernel without it returns an error, which leaves the default (huge pages), so it is ignored.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn disable_transparent_huge_pages() {}

/// More threads than this is a typo, not a machine: refused before any is spawned.
const MAX_THREADS: usize = 1024;

/// The pool's size: `--threads`, else `RAYON_NUM_THREADS` (0 or unset: one per core), checked
/// here because rayon would spawn whatever number it is given.
fn thread_count(threads: Option<usize>) -> anyhow::Result<Option<usize>> {
    if let Some(n) = threads {
        anyhow::ensure!(
            (1..=MAX_THREADS).contains(&n),
            "--threads {n}: give a number from 1 to {MAX_THREADS}"
        );
        return Ok(Some(n));
    }
    let Some(value) = std::env::var_os("RAYON_NUM_THREADS") else {
        return Ok(None);
    };
    let text = value.to_string_lossy();
    match text.trim().parse::<usize>() {
        Ok(0) => Ok(None),
        Ok(n) if n <= MAX_THREADS => Ok(Some(n)),
        _ => anyhow::bail!(
            "RAYON_NUM_THREADS={text:?}: give a number from 1 to {MAX_THREADS} (or 0 for one per core)"
        ),
    }
}

fn main() -> ExitCode {
    disable_transparent_huge_pages();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version, on stdout: a closed pipe is fine, a full disk is not.
            return match e.print() {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                    output::error_line(&format!("cannot write to standard output: {error}"));
                    ExitCode::from(2)
                }
                _ => ExitCode::SUCCESS,
            };
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // `convlab explain` with no subcommand: the list of subcommands is the useful answer.
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            // A usage error: one line, as every other error, and where to read more.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            // clap lists an enum's values on a later line; the one line keeps them.
            let valid = match e.get(clap::error::ContextKind::ValidValue) {
                Some(clap::error::ContextValue::Strings(values)) => {
                    format!("; it takes {}", values.join(", "))
                }
                _ => String::new(),
            };
            output::error_line(&format!("{first}{valid} (see convlab --help)"));
            return ExitCode::from(2);
        }
    };
    // A cap on the vector kernels that is not a level would be ignored: say so instead.
    if let Some(value) = std::env::var_os("CONVLAB_MAX_ISA") {
        let text = value.to_string_lossy();
        if convlab_tensor::isa::Isa::parse(&text).is_none() {
            output::error_line(&format!(
                "CONVLAB_MAX_ISA={text:?}: give avx512, avx2 or baseline"
            ));
            return ExitCode::from(2);
        }
    }
    let pool = thread_count(cli.threads).and_then(|threads| {
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(n) = threads {
            builder = builder.num_threads(n);
        }
        builder
            .build_global()
            .map_err(|e| anyhow::anyhow!("cannot start the thread pool: {e}"))
    });
    if let Err(e) = pool {
        output::error_line(&format!("{e:#}"));
        return ExitCode::from(2);
    }
    // The command runs on one of the pool's own threads, not on `main`'s. A parallel kernel
    // called from outside the pool hands its work to the pool and puts the caller to sleep until
    // it is done: two futex wake-ups for each of the ~30 kernels of a training step, about 9% of
    // an epoch's samples in `perf` (try_to_wake_up, schedule). Called from inside, the calling
    // thread does half the work itself and the other half is stolen by a thread that is usually
    // still spinning from the kernel before.
    let result = rayon::scope(|_| run(cli.command));
    match result {
        Ok(code) => match output::failure() {
            // `train` goes on when stdout fails (its outputs are files); a full disk is still
            // worth saying once it is done.
            Some(e) if !e.is_closed_pipe() => {
                output::error_line(&e.to_string());
                ExitCode::from(2)
            }
            _ => code,
        },
        Err(e) => match e.downcast_ref::<output::StdoutError>() {
            Some(stdout) if stdout.is_closed_pipe() => ExitCode::SUCCESS,
            _ => {
                output::error_line(&format!("{e:#}"));
                ExitCode::from(2)
            }
        },
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Train(args) => commands::train::run(args),
        Command::Evaluate(args) => commands::evaluate::run(args),
        Command::Predict(args) => commands::predict::run(args),
        Command::Summary(args) => commands::summary::run(args),
        Command::PlotModel(args) => commands::plot_model::run(args),
        Command::Inspect(cmd) => commands::inspect::run(cmd),
        Command::Gradcheck(args) => commands::gradcheck::run(args),
        Command::Explain(cmd) => commands::explain::run(cmd),
        Command::Bench(cmd) => commands::bench::run(cmd),
        Command::Report(args) => commands::report::run(args),
        Command::Export(args) => commands::export::run(args),
    }
}
