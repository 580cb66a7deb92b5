//! `convlab gradcheck`: the gradient checks, in three layers (see the README's tour):
//!
//! - (a) every reference op (f64) against central differences, element by element with
//!   PyTorch's `gradcheck` tolerances (`convlab_tensor::reference::checks`);
//! - (b) every fast kernel and fused op (f32) against the reference, each element within a
//!   multiple of its sum's f32 rounding bound (`convlab_tensor::reference::agreement`);
//! - (c) the whole network: the f32 tape against the f64 reference network, and that against
//!   central differences (`convlab_nn::network_check`), on small networks of the chapter's
//!   layers, the chapter's model, or `--model CHECKPOINT` at its trained weights.
//!
//! A table by default, or `--json`: one object per line and check. Exit code 1 on any failure.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use convlab_nn::network_check::{network_checks, random_batch, small_networks};
use convlab_nn::{chapter_model, ConvAlgorithm, Sequential};
use convlab_tensor::reference::report::CheckResult;
use convlab_tensor::reference::{agreement, checks};

use super::ConvArg;
use crate::model_arg::Source;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LayerArg {
    A,
    B,
    C,
    All,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct GradcheckArgs {
    /// Which layer of checks: a (reference ops), b (fast kernels), c (whole networks), all.
    #[arg(long, value_enum, default_value_t = LayerArg::All)]
    layer: LayerArg,
    /// Only the checks whose name starts with this ("conv2d", "winograd", "network"), or all.
    #[arg(long, default_value = "all")]
    op: String,
    /// Seed of the inputs, the projections and the dropout masks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run layer (c) on this model instead of the standard ones: a model file (TOML or Keras
    /// JSON, its weights drawn from --seed) or a checkpoint (at its trained weights).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Elements of each weight checked by central differences in a model of more than 5,000
    /// weights (each costs two passes of the f64 network); smaller ones check every element.
    #[arg(long, default_value_t = 16)]
    sample: usize,
    /// Images in the batch of layer (c).
    #[arg(long, default_value_t = 2)]
    batch: usize,
    /// One JSON object per line and check instead of the table.
    #[arg(long)]
    json: bool,
}

/// The f64 reference network's loops are plain: more multiply-adds an image than this (the
/// chapter's model has 4.2 million) would keep layer (c) running for hours.
const MAX_REFERENCE_MACS: f64 = 2e9;

/// Refuses a model whose reference passes would take hours, before they start.
fn check_reference_work(model: &Sequential, path: &std::path::Path) -> Result<()> {
    let macs: f64 = model.layers().iter().map(|l| l.multiply_adds()).sum();
    anyhow::ensure!(
        macs <= MAX_REFERENCE_MACS,
        "--model {}: {macs:.2e} multiply-adds an image, more than the {MAX_REFERENCE_MACS:.0e} the f64 reference loops check in reasonable time; check a smaller model",
        path.display()
    );
    Ok(())
}

/// Models with more weights than this get sampled central differences.
const FULL_CHECK_WEIGHTS: usize = 5_000;

fn network(model: &Sequential, args: &GradcheckArgs, seed: u64) -> Result<Vec<CheckResult>> {
    let count: usize = model.weights().iter().map(|w| w.len()).sum();
    let sample = (count > FULL_CHECK_WEIGHTS).then_some(args.sample);
    network_checks(
        model,
        |k| random_batch(model, args.batch, seed * 100 + k),
        seed,
        sample,
    )
    .map_err(|e| anyhow::anyhow!("the network check: {e}"))
}

pub fn run(args: GradcheckArgs) -> Result<ExitCode> {
    anyhow::ensure!(
        !args.op.is_empty(),
        "--op is empty: give all or a check's name"
    );
    anyhow::ensure!(
        (1..=1_000_000).contains(&args.sample),
        "--sample must be between 1 and 1000000"
    );
    anyhow::ensure!(
        (1..=64).contains(&args.batch),
        "--batch must be between 1 and 64"
    );
    let wants = |layer: LayerArg| args.layer == LayerArg::All || args.layer == layer;
    let mut results = Vec::new();
    if let Some(path) = &args.model {
        let model = Source::open(path)?.into_model(args.seed, ConvArg::Auto)?;
        crate::memory::check_batch(&model, args.batch, args.batch, true)?;
        check_reference_work(&model, path)?;
        results.extend(network(&model, &args, args.seed)?);
    } else {
        if wants(LayerArg::A) {
            results.extend(checks::standard(args.seed));
        }
        if wants(LayerArg::B) {
            results.extend(agreement::standard(args.seed));
        }
        if wants(LayerArg::C) {
            for (_, model) in small_networks(args.seed) {
                results.extend(network(&model, &args, args.seed)?);
            }
            let chapter = chapter_model(args.seed, ConvAlgorithm::Auto);
            results.extend(network(&chapter, &args, args.seed)?);
        }
    }
    let chosen: Vec<&CheckResult> = results
        .iter()
        .filter(|r| args.op == "all" || r.check.starts_with(&args.op))
        .collect();
    if chosen.is_empty() {
        let mut names: Vec<&str> = results.iter().map(|r| r.check.as_str()).collect();
        names.sort();
        names.dedup();
        anyhow::bail!(
            "--op {:?} matches no check; the checks are: all, {}",
            args.op,
            names.join(", ")
        );
    }
    if args.json {
        for r in &chosen {
            outln!("{}", json_line(r))?;
        }
    } else {
        print_table(&chosen)?;
    }
    let failed = chosen.iter().filter(|r| !r.passed).count();
    if !args.json {
        if failed > 0 {
            outln!("{failed} of {} checks failed", chosen.len())?;
        } else {
            outln!("all {} checks passed", chosen.len())?;
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn json_line(r: &CheckResult) -> String {
    serde_json::json!({
        "check": r.check,
        "layer": r.layer.letter(),
        "dtype": r.dtype,
        "shapes": r.shapes,
        "max_abs_err": r.max_abs_err,
        "max_rel_err": r.max_rel_err,
        "worst_ratio": r.worst_ratio,
        "limit": r.limit,
        "elements": r.elements,
        "skipped": r.skipped,
        "passed": r.passed,
    })
    .to_string()
}

fn print_table(results: &[&CheckResult]) -> Result<()> {
    outln!(
        "{:<2} {:<46} {:<44} {:<4} {:>8} {:>4} {:>11} {:>11} {:>12}  result",
        "",
        "check",
        "shapes",
        "type",
        "elements",
        "skip",
        "max abs err",
        "max rel err",
        "worst/limit"
    )?;
    for r in results {
        let ratio = match (r.worst_ratio, r.limit) {
            (Some(w), Some(l)) => format!("{w:.3}/{l}"),
            _ => String::new(),
        };
        outln!(
            "{:<2} {:<46} {:<44} {:<4} {:>8} {:>4} {:>11.3e} {:>11.3e} {:>12}  {}",
            r.layer.letter(),
            r.check,
            r.shapes,
            r.dtype,
            r.elements,
            r.skipped,
            r.max_abs_err,
            r.max_rel_err,
            ratio,
            if r.passed { "pass" } else { "FAIL" }
        )?;
    }
    Ok(())
}
