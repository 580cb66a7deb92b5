//! `convlab bench conv|train|predict|peak`: how fast the kernels, a training epoch and inference
//! run here, and how fast this machine could go.
//!
//! - `conv` (`conv.rs`): every convolution algorithm and fused plan, forward and backward, for
//!   the chapter's two layers, any `--shape`, a model's layers or a `--batch-file`, each checked
//!   against the f64 reference before it is timed; time, GFLOP/s, share of the peak, extra
//!   memory and error, as a table, CSV or JSON lines.
//! - `train`: one epoch of the chapter's setup on the real data (48,000 training images at batch
//!   32, then the 12,000 validation images): seconds, images per second, and the GFLOP/s those
//!   FLOP counts imply. `--model FILE` times another network (and `--dataset` its data).
//! - `predict`: images per second of `predict` over the 10,000 test images (batch 256), and
//!   the latency of one image at a time (median and 99th percentile).
//! - `peak` (`peak.rs`): the measured FMA peak, on 1 and on all threads.
//!
//! FLOP are counted as 2 per multiply-add of the direct algorithm (Conv2D and Dense layers
//! only), whatever algorithm runs: a training step is the forward pass, the weight gradients and
//! the input gradients of every layer but the first (see `model_flop`).

mod conv;
mod peak;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, Subcommand};
use convlab_nn::profile::{LayerTimes, StepProfile};
use convlab_nn::{Adam, Dataset, FitOptions, Loss, Optimizer, Sequential};

pub use conv::ConvBenchArgs;
pub use peak::PeakBenchArgs;

use super::ConvArg;
use crate::data::{self, DataArgs};
use crate::memory;
use crate::model_arg::model_or_chapter;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// im2col, direct and Winograd convolution, forward and backward.
    Conv(ConvBenchArgs),
    /// Seconds per training epoch (the chapter's model on Fashion-MNIST, or --model on --dataset).
    Train(TrainBenchArgs),
    /// Inference: images per second of `predict` on the 10,000 test images.
    Predict(PredictBenchArgs),
    /// This machine's fused multiply-add peak (GFLOP/s) on 1 and on all threads, measured.
    Peak(PeakBenchArgs),
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct PredictBenchArgs {
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// Times to predict the whole test split; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    #[arg(long, value_enum, default_value_t = ConvArg::Auto)]
    conv: ConvArg,
    /// The network: a model file or a checkpoint (default: the chapter's).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct TrainBenchArgs {
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, value_enum, default_value_t = ConvArg::Auto)]
    conv: ConvArg,
    /// The network: a model file (TOML or Keras JSON) or a checkpoint's architecture (default:
    /// the chapter's). Its weights are drawn from seed 42.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Also time every part of a training step (each layer's forward and backward, the loss,
    /// the data, the optimizer, the rest) and print where the time goes.
    #[arg(long)]
    profile: bool,
    /// Profile (as --profile) and also draw each layer's GFLOP/s, forward and backward,
    /// against this machine's measured FMA peak (dashed) as an SVG: each kernel's share of it.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
}

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Conv(args) => conv::run(args),
        BenchCommand::Train(args) => train(args),
        BenchCommand::Predict(args) => predict(args),
        BenchCommand::Peak(args) => peak::run(args),
    }
}

/// FLOP per image of a model's forward pass and training step, counted as 2 per multiply-add of
/// the direct algorithm in Conv2D and Dense layers. A training step adds each layer's weight
/// gradient (as much work as its forward) and input gradient (the same again, except for the
/// first layer with weights, whose input needs none). The chapter's model: 8.31 MFLOP forward,
/// 24.0 MFLOP a step.
fn model_flop(model: &Sequential) -> (f64, f64) {
    let (mut forward, mut train) = (0.0, 0.0);
    let mut first = true;
    for entry in model.layers().iter().filter(|e| !e.specs.is_empty()) {
        let macs = entry.multiply_adds();
        forward += 2.0 * macs;
        train += 2.0 * macs * if first { 2.0 } else { 3.0 };
        first = false;
    }
    (forward, train)
}

fn train(args: TrainBenchArgs) -> Result<ExitCode> {
    anyhow::ensure!(
        (1..=1000).contains(&args.epochs),
        "--epochs must be between 1 and 1000"
    );
    anyhow::ensure!(args.batch_size >= 1, "--batch-size must be at least 1");
    if let Some(plot) = &args.plot {
        super::check_svg_output("--plot", plot, &[("--model", args.model.as_deref())])?;
    }
    let mut model = model_or_chapter(args.model.as_deref(), 42, args.conv)?;
    let what = model_label(args.model.as_deref());
    let data = data::load(&args.data, &model, &what)?;
    let (forward_flop, train_flop) = model_flop(&model);
    memory::check_batch(&model, args.batch_size, data.train.len(), true)?;
    model.compile(
        Optimizer::Adam(Adam::default()),
        Loss::SparseCategoricalCrossentropy,
    );
    let opts = FitOptions {
        epochs: args.epochs,
        batch_size: args.batch_size,
        seed: 42,
        ..FitOptions::default()
    };
    outln!(
        "model {} ({} parameters; {:.2} MFLOP forward, {:.2} MFLOP a training step per image) on {}",
        model.name,
        convlab_nn::with_commas(model.count_params()),
        forward_flop / 1e6,
        train_flop / 1e6,
        data.dataset.title()
    )?;
    outln!(
        "training {} epoch(s): {} images + {} validation, batch {}, {} thread(s), vector kernels {}",
        args.epochs,
        data.train.items.len(),
        data.val.items.len(),
        args.batch_size,
        rayon::current_num_threads(),
        convlab_tensor::isa::describe()
    )?;
    let (history, profile) = if args.profile || args.plot.is_some() {
        let (history, profile) =
            model.fit_profiled(&data.train, Some(&data.val), &opts, &mut [])?;
        (history, Some(profile))
    } else {
        (
            model.fit(&data.train, Some(&data.val), &opts, &mut [])?,
            None,
        )
    };
    let (n_train, n_val) = (data.train.items.len() as f64, data.val.items.len() as f64);
    for e in &history.epochs {
        let flop = n_train * train_flop + n_val * forward_flop;
        outln!(
            "epoch {}: {:.2} s, {:.0} images/s, {:.1} GFLOP/s - loss {:.4} - val_accuracy {:.4}",
            e.epoch,
            e.seconds,
            (n_train + n_val) / e.seconds,
            flop / e.seconds / 1e9,
            e.loss,
            e.val_accuracy.unwrap_or(f32::NAN)
        )?;
    }
    if let Some(profile) = profile {
        let epochs = history.epochs.len().max(1) as f64;
        outln!(
            "{}",
            profile_table(
                &model,
                &profile,
                args.batch_size,
                profile.validation.as_secs_f64() / epochs
            )
        )?;
        if let Some(path) = &args.plot {
            let threads = rayon::current_num_threads();
            let peak = convlab_tensor::peak::measure(threads, 3, Duration::from_millis(200)).gflops;
            let svg = share_of_peak_plot(&model, &profile, args.batch_size, threads, peak);
            convlab_cli::draw::write_atomic(path, svg.as_bytes())?;
            outln!(
                "measured FMA peak {peak:.1} GFLOP/s on {threads} thread(s); wrote {}",
                path.display()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Multiply-adds per image of one profiled row (a layer, or a convolution and the pooling fused
/// into it): its forward's, and its backward's, which is twice that but for the first layer
/// with weights (no input gradient).
fn row_macs(model: &Sequential, times: &LayerTimes) -> (f64, f64) {
    let entries = &model.layers()[times.first..times.first + times.count];
    let macs: f64 = entries.iter().map(|e| e.multiply_adds()).sum();
    let first_with_weights = model.layers().iter().position(|e| !e.specs.is_empty());
    let backward = if Some(times.first) == first_with_weights {
        macs
    } else {
        2.0 * macs
    };
    (macs, backward)
}

/// GFLOP/s of `macs` multiply-adds an image at `batch` images a step, done in `total` over the
/// profile's steps; None where there is no work or no time.
fn row_gflops(profile: &StepProfile, batch: usize, macs: f64, total: Duration) -> Option<f64> {
    let seconds = profile.per_step(total).as_secs_f64();
    (macs > 0.0 && seconds > 0.0).then(|| 2.0 * macs * batch as f64 / seconds / 1e9)
}

/// `bench train --plot`: one category per layer with weights, one panel per pass, its GFLOP/s
/// (`row_gflops`, the table's column) as a point, and the measured FMA peak dashed, so each
/// kernel's share of the peak reads off the picture.
fn share_of_peak_plot(
    model: &Sequential,
    profile: &StepProfile,
    batch: usize,
    threads: usize,
    peak: f64,
) -> String {
    use convlab_cli::draw::{bench_plot, BenchPanel, BenchSeries};
    let rows: Vec<(&LayerTimes, (f64, f64))> = profile
        .layers
        .iter()
        .map(|times| (times, row_macs(model, times)))
        .filter(|(_, (forward, _))| *forward > 0.0)
        .collect();
    let labels: Vec<String> = rows
        .iter()
        .map(|(times, _)| {
            let entries = &model.layers()[times.first..times.first + times.count];
            let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            names.join("+")
        })
        .collect();
    let panel = |title: &str, backward: bool| BenchPanel {
        title: title.to_string(),
        series: vec![BenchSeries {
            label: format!("{} (batch {batch})", model.name),
            points: rows
                .iter()
                .enumerate()
                .map(|(x, (times, (forward, backward_macs)))| {
                    let (macs, time) = if backward {
                        (*backward_macs, times.backward)
                    } else {
                        (*forward, times.forward)
                    };
                    (x, row_gflops(profile, batch, macs, time).unwrap_or(0.0))
                })
                .collect(),
        }],
        peaks: vec![(format!("FMA peak, {threads} thread(s)"), peak)],
    };
    bench_plot(
        "layer",
        &labels,
        &[
            panel("forward, GFLOP/s in training", false),
            panel("backward, GFLOP/s in training", true),
        ],
    )
}

/// Where a training step's time went (`bench train --profile`): milliseconds a step for each
/// layer's forward and backward with the GFLOP/s they imply (direct convolution's multiply-adds,
/// as `model_flop` counts them; a first layer's backward computes no input gradient), then the
/// loss, the data, the optimizer and the rest of the step.
fn profile_table(
    model: &Sequential,
    profile: &StepProfile,
    batch: usize,
    validation_seconds: f64,
) -> String {
    use std::fmt::Write;
    let ms = |d: Duration| profile.per_step(d).as_secs_f64() * 1e3;
    let gflops = |macs: f64, d: Duration| {
        row_gflops(profile, batch, macs, d).map_or(String::new(), |v| format!("{v:.1}"))
    };
    let mut rows: Vec<[String; 5]> = Vec::new();
    for times in &profile.layers {
        let entries = &model.layers()[times.first..times.first + times.count];
        let name = entries
            .iter()
            .map(|e| format!("{} ({})", e.name, e.layer.kind()))
            .collect::<Vec<_>>()
            .join(" + ");
        let (macs, backward_macs) = row_macs(model, times);
        rows.push([
            name,
            format!("{:.3}", ms(times.forward)),
            gflops(macs, times.forward),
            format!("{:.3}", ms(times.backward)),
            gflops(backward_macs, times.backward),
        ]);
    }
    let loss = model.train_setup().map_or("loss", |t| t.loss.name());
    rows.push([
        format!("loss ({loss})"),
        format!("{:.3}", ms(profile.loss_forward)),
        String::new(),
        format!("{:.3}", ms(profile.loss_backward)),
        String::new(),
    ]);
    let one = |name: &str, d: Duration| {
        [
            name.to_string(),
            format!("{:.3}", ms(d)),
            String::new(),
            String::new(),
            String::new(),
        ]
    };
    rows.push(one(
        "data (the batch's images and labels to f32)",
        profile.data,
    ));
    let optimizer = model
        .train_setup()
        .map_or("optimizer", |t| t.optimizer.name());
    rows.push(one(
        &format!("optimizer ({optimizer}, every weight)"),
        profile.optimizer,
    ));
    rows.push(one(
        "the rest (tape, gradient list, finite check, bookkeeping)",
        profile.rest(),
    ));
    rows.push(one("a whole step", profile.total));
    let width = rows.iter().map(|r| r[0].chars().count()).max().unwrap_or(0);
    let mut out = format!(
        "where a training step's time goes (mean of {} steps at batch {batch}, ms; GFLOP/s as direct convolution counts them):\n",
        profile.steps
    );
    let _ = writeln!(
        out,
        "  {:width$}  {:>9} {:>8}  {:>9} {:>8}",
        "part", "forward", "GFLOP/s", "backward", "GFLOP/s"
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "  {:width$}  {:>9} {:>8}  {:>9} {:>8}",
            r[0], r[1], r[2], r[3], r[4]
        );
    }
    let _ = write!(
        out,
        "beyond the layers, loss and optimizer: {:.3} ms a step (data {:.3} + the rest {:.3}); validation {:.2} s an epoch",
        ms(profile.data + profile.rest()),
        ms(profile.data),
        ms(profile.rest()),
        validation_seconds
    );
    out
}

/// How a bench names its model in errors.
fn model_label(path: Option<&Path>) -> String {
    match path {
        Some(path) => format!("--model {}", path.display()),
        None => "the chapter's model".to_string(),
    }
}

/// `predict` of the chapter's model (untrained: the weights do not change the work) over the test
/// split, timed from the u8 images to the probabilities, batch by batch as `evaluate` runs it.
fn predict(args: PredictBenchArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.batch_size >= 1, "--batch-size must be at least 1");
    anyhow::ensure!(
        (1..=1000).contains(&args.repeats),
        "--repeats must be between 1 and 1000"
    );
    let model = model_or_chapter(args.model.as_deref(), 42, args.conv)?;
    let what = model_label(args.model.as_deref());
    let data = data::load(&args.data, &model, &what)?;
    let (forward_flop, _) = model_flop(&model);
    memory::check_batch(&model, args.batch_size, data.test.len(), false)?;
    let indices: Vec<usize> = (0..data.test.len()).collect();
    outln!(
        "predicting {} test images, batch {}, {} thread(s), vector kernels {}, median of {}",
        indices.len(),
        args.batch_size,
        rayon::current_num_threads(),
        convlab_tensor::isa::describe(),
        args.repeats
    )?;
    let mut times = Vec::new();
    for _ in 0..args.repeats {
        let start = Instant::now();
        // Batch by batch from the u8 images, as `evaluate` runs.
        for batch in indices.chunks(args.batch_size) {
            let probs = model.predict(&data.test.inputs(batch), args.batch_size)?;
            std::hint::black_box(probs);
        }
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2].as_secs_f64();
    let n = indices.len() as f64;
    outln!(
        "{:.3} s, {:.0} images/s, {:.1} GFLOP/s",
        median,
        n / median,
        n * forward_flop / median / 1e9
    )?;
    // Latency: one image at a time, as a service answering one request would run it, from the
    // u8 image to its probabilities. Every test image in turn, for at least a second.
    let mut latencies = Vec::new();
    let started = Instant::now();
    let _busy_wait = convlab_tensor::busy_wait::BusyWait::start(); // as `evaluate` runs
    for &i in indices.iter().cycle() {
        if latencies.len() >= LATENCY_RUNS.1
            || (latencies.len() >= LATENCY_RUNS.0 && started.elapsed().as_secs_f64() >= 1.0)
        {
            break;
        }
        let start = Instant::now();
        let probs = model.predict(&data.test.inputs(&[i]), 1)?;
        std::hint::black_box(probs);
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    outln!(
        "one image at a time (batch 1, {} images): median {:.0} µs, 99th percentile {:.0} µs",
        latencies.len(),
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6
    )?;
    Ok(ExitCode::SUCCESS)
}

/// How many single-image predictions the latency takes: at least the first, at most the second
/// (and otherwise as many as one second allows).
const LATENCY_RUNS: (usize, usize) = (100, 100_000);
