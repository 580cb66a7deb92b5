//! `convlab report --model CHECKPOINT [--out report.html]`: the training report of a saved model
//! as one self-contained HTML page (`convlab_cli::report`; `train` writes the same page beside
//! its checkpoint after every epoch).
//!
//! The run's settings and history come from its backup (CHECKPOINT's `.backup.safetensors`,
//! found beside it, or `--backup FILE`); without one the page shows everything else and says the
//! history is missing. Only the paths given on the command line are read or written.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use convlab_nn::{load_backup, Adam, Dataset, Loss, Monitor, Optimizer, Sequential};

use super::{beside, load_model, write_output};
use crate::data::{self, DataArgs, Split};
use crate::run_report::{gather, settings_pairs, RunInfo, SplitRef};

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ReportArgs {
    /// A checkpoint saved by `convlab train`.
    #[arg(long, value_name = "CHECKPOINT")]
    model: PathBuf,
    /// Where the page is written (default: beside the checkpoint, its stem + .report.html).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The run's backup, for its settings and history (default: the checkpoint's
    /// .backup.safetensors beside it, when there is one).
    #[arg(long, value_name = "FILE")]
    backup: Option<PathBuf>,
    /// The images evaluated for the confusion matrix, the mistakes and the probes.
    #[arg(long, value_enum, default_value_t = Split::Test)]
    split: Split,
    #[command(flatten)]
    data: DataArgs,
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| beside(&args.model, "report.html"));
    super::check_output("--out", &out)?;
    super::check_not_input("--out", &out, "--model", &args.model)?;
    if let Some(backup) = &args.backup {
        super::check_not_input("--out", &out, "--backup", backup)?;
    }
    let mut model = load_model(&args.model)?;
    let what = format!("--model {}", args.model.display());
    let data = data::load(&args.data, &model, &what)?;
    let split = data.split(args.split);
    crate::memory::check_batch(&model, 256, split.len(), false)?;
    // The optimizer plays no part here; compile only sets the loss that evaluate reports.
    model.compile(
        Optimizer::Adam(Adam::default()),
        Loss::SparseCategoricalCrossentropy,
    );
    let mut run = run_info(&model, &args)?;
    let n = data.train.len();
    run.train_images = Some(run.train_images.map_or(n, |limit| limit.min(n)));
    // The weights the run started from: the checkpoint's architecture and seed.
    let untrained = Sequential::from_config(&model.config())?;
    let split_name = split_name(args.split);
    let report = gather(
        &model,
        &untrained,
        run,
        &SplitRef {
            name: split_name,
            images: split,
            class_names: data.class_names(),
            dataset_title: data.dataset.title(),
        },
    )?;
    write_output(&out, report.to_html().as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

pub fn split_name(split: Split) -> &'static str {
    match split {
        Split::Test => "test",
        Split::Val => "validation",
        Split::Train => "training",
        Split::All => "whole training",
    }
}

/// The run's settings and history, from its backup when there is one.
fn run_info(model: &Sequential, args: &ReportArgs) -> Result<RunInfo> {
    let subtitle = format!("{}: the weights saved in it", args.model.display());
    let (path, explicit) = match &args.backup {
        Some(path) => (path.clone(), true),
        None => (beside(&args.model, "backup.safetensors"), false),
    };
    let missing = |why: String| RunInfo {
        subtitle: subtitle.clone(),
        history_note: Some(why),
        ..RunInfo::default()
    };
    if !explicit && !path.is_file() {
        return Ok(missing(format!(
            "No training history: there is no backup {} beside the checkpoint (give --backup FILE).",
            path.display()
        )));
    }
    let (backup_model, state) = match load_backup(&path) {
        Ok(loaded) => loaded,
        Err(e) if !explicit => {
            return Ok(missing(format!(
                "No training history: the backup beside the checkpoint could not be read ({e})."
            )))
        }
        // TrainError's "cannot resume: ..." is train's wording; here the file is only read.
        Err(convlab_nn::TrainError::Resume(why)) => anyhow::bail!("--backup: {why}"),
        Err(e) => return Err(e).context("--backup"),
    };
    if !same_architecture(&backup_model, model) {
        let why = format!(
            "{} is the backup of another model (its layers or input differ from the checkpoint's)",
            path.display()
        );
        anyhow::ensure!(!explicit, "--backup {why}");
        return Ok(missing(format!("No training history: {why}.")));
    }
    let best = state.history.best_epoch(Monitor::ValLoss);
    let mut settings = vec![("backup".to_string(), path.display().to_string())];
    settings.extend(settings_pairs(&state.extra));
    let train_images = state.extra.get("limit").and_then(|l| l.as_u64());
    Ok(RunInfo {
        subtitle: match best {
            Some(epoch) => format!(
                "{}: the weights of epoch {epoch} (the lowest val_loss of {} epochs)",
                args.model.display(),
                state.history.epochs.len()
            ),
            None => subtitle,
        },
        settings,
        history: Some(state.history),
        history_note: None,
        best_epoch: best,
        train_images: train_images.map(|l| l as usize),
    })
}

fn same_architecture(a: &Sequential, b: &Sequential) -> bool {
    let (a, b) = (a.config(), b.config());
    a.input_shape == b.input_shape && a.layers == b.layers
}
