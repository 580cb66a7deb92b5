//! `convlab`: train, evaluate and look inside the chapter's CNN from the command line.
//!
//! Every command is a module of `commands/`; this file only parses arguments and turns errors
//! into one line on stderr with exit code 2 (1 is kept for "a check failed", e.g. gradcheck).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod data;
mod progress;

/// Training allocates and frees the same large buffers every step (activations of a few MB).
/// With glibc's allocator each such buffer is a fresh mmap and munmap, and the page faults and
/// TLB shootdowns that follow took about 40% of an epoch (perf: 33.6 s per epoch; 19.8 s with
/// glibc told to keep freed memory). mimalloc keeps freed pages for reuse.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "convlab",
    version,
    about = "A from-scratch CNN lab: the Fashion-MNIST chapter, trained and inspected in Rust",
    propagate_version = true
)]
struct Cli {
    /// Threads for the kernels (default: all cores; RAYON_NUM_THREADS is honoured too).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the chapter's model (defaults: the chapter's settings).
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
    /// Benchmarks: convolution algorithms, or a training epoch on the real data.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

/// Turns transparent huge pages off for this process (Linux; elsewhere nothing to do).
///
/// mimalloc asks the kernel for huge pages (`madvise(MADV_HUGEPAGE)`), so the first touch of
/// each 2 MB region of the heap faults in and clears a whole huge page. While the heap grows to
/// its steady size during the first epoch, that was one thread clearing pages with the other
/// idle: `clear_page_erms` was ~1,000 of the main thread's perf samples (0.25 s) on a 2-vCPU EPYC,
/// and the first epoch took 3.5-4.3 s against 3.3 s for the later ones. With 4 KB pages only the
/// memory that is used gets cleared; later epochs are the same speed either way.
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

fn main() -> ExitCode {
    disable_transparent_huge_pages();
    let cli = Cli::parse();
    if let Some(threads) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
        {
            eprintln!("convlab: error: --threads {threads}: {e}");
            return ExitCode::from(2);
        }
    }
    // The command runs on one of the pool's own threads, not on `main`'s. A parallel kernel
    // called from outside the pool hands its work to the pool and puts the caller to sleep until
    // it is done: two futex wake-ups for each of the ~30 kernels of a training step, about 9% of
    // an epoch's samples in `perf` (try_to_wake_up, schedule). Called from inside, the calling
    // thread does half the work itself and the other half is stolen by a thread that is usually
    // still spinning from the kernel before.
    let result = rayon::scope(|_| run(cli.command));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("convlab: error: {e:#}");
            ExitCode::from(2)
        }
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
        Command::Bench(cmd) => commands::bench::run(cmd),
    }
}
