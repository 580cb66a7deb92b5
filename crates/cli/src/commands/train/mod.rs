//! `convlab train`: the chapter's model, trained with the chapter's settings by default: Adam,
//! batch 32, up to 20 epochs, ModelCheckpoint(save_best_only) and EarlyStopping(patience 2,
//! restore_best_weights), both watching val_loss as Keras does by default, on the scikit-learn
//! split of the training set. Beside the checkpoint it writes the history as CSV and the HTML
//! report (every epoch, `epoch_files.rs`), a backup to resume from (every epoch) and the learning
//! curves as SVG, and it ends by evaluating the restored best model.
//!
//! `--resume FILE` continues from a backup with the settings saved in it: the same seed, order
//! of batches and dropout masks, optimizer state and callback state, so an interrupted run ends
//! exactly where an uninterrupted one would (on the same number of threads).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use convlab_cli::draw::{learning_curves, HistoryData};
use convlab_nn::callbacks::Callback;
use convlab_nn::resume::ResumeState;
use convlab_nn::{
    chapter_model, load_backup, Adam, EarlyStopping, FitOptions, Loss, ModelCheckpoint, Monitor,
    Optimizer, RmsProp, Sequential, Sgd, StopOnDivergence, TerminateOnNaN,
};
use serde::{Deserialize, Serialize};

use super::ConvArg;
use crate::data::{self, DataArgs, DatasetArg};
use crate::memory;
use crate::model_arg::{model_file, set_conv};
use crate::progress::Progress;
use crate::run_files::{RunFiles, RunLock};
use crate::run_report::{settings_pairs, SplitRef};
use crate::tensorboard::TensorBoard;
use epoch_files::{EpochFiles, ReportWriter};

mod epoch_files;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum OptimizerArg {
    Adam,
    Sgd,
    Rmsprop,
}

/// The checkpoint when neither --checkpoint nor --resume names one.
const DEFAULT_CHECKPOINT: &str = "best-cnn-model.safetensors";

/// `convlab train --help`: which files a run writes, and where.
const FILES_HELP: &str = "\
Files: the run writes CHECKPOINT (the best model), and beside it CHECKPOINT's stem with
.history.csv, .backup.safetensors, .curves.svg and .report.html (best-cnn-model.safetensors ->
best-cnn-model.history.csv, ...), holding .<stem>.lock while it runs. With --resume BACKUP they go beside --checkpoint if it is
given, else beside BACKUP itself (run.backup.safetensors continues run.safetensors in the same
directory); what a backup file says never decides where anything is written. Existing files are
replaced atomically; a path that is a device, FIFO, directory, symbolic link or read-only file is
refused before training starts, and so is a second run writing the same checkpoint.";

#[derive(Args, Debug)]
#[command(after_help = FILES_HELP, allow_negative_numbers = true)]
pub struct TrainArgs {
    #[arg(long, default_value_t = 20, conflicts_with = "resume")]
    epochs: usize,
    #[arg(long, default_value_t = 32, conflicts_with = "resume")]
    batch_size: usize,
    /// EarlyStopping patience (epochs without a better val_loss).
    #[arg(long, default_value_t = 2, conflicts_with = "resume")]
    patience: usize,
    /// Where the best model is saved (default best-cnn-model.safetensors; with --resume, beside
    /// the backup). The run's other files go beside it (see below).
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Seed of the weights, the shuffles and the dropout masks.
    #[arg(long, default_value_t = 42, conflicts_with = "resume")]
    seed: u64,
    /// Convolution algorithm.
    #[arg(long, value_enum, default_value_t = ConvArg::Auto, conflicts_with = "resume")]
    conv: ConvArg,
    /// Train on the first N images of the training split only (a quick run).
    #[arg(long, conflicts_with = "resume")]
    limit: Option<usize>,
    #[arg(long, value_enum, default_value_t = OptimizerArg::Adam, conflicts_with = "resume")]
    optimizer: OptimizerArg,
    /// Learning rate (default: Keras's, 1e-3 for adam and rmsprop, 1e-2 for sgd).
    #[arg(long, conflicts_with = "resume")]
    lr: Option<f32>,
    /// Continue an interrupted run from its backup (CHECKPOINT's .backup.safetensors) with the
    /// settings saved in it; only --checkpoint, --data, --tensorboard, --no-report and --threads
    /// may be given with it.
    #[arg(long, value_name = "BACKUP")]
    resume: Option<PathBuf>,
    /// The network to train: a model file (convlab's TOML or Keras's model.to_json(); see
    /// models/). Default: the chapter's CNN (models/chapter8.toml).
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    model: Option<PathBuf>,
    /// Also write TensorBoard event files into DIR (created if missing; its parent must exist):
    /// per epoch the loss, accuracy, val_loss, val_accuracy and learning rate, a histogram of
    /// every weight and the first Conv2D layer's filters. View with `tensorboard --logdir DIR`.
    #[arg(long, value_name = "DIR")]
    tensorboard: Option<PathBuf>,
    /// Do not write CHECKPOINT's .report.html after every epoch (each costs one pass over the
    /// test images; an earlier run's report is left as it was).
    #[arg(long)]
    no_report: bool,
    #[command(flatten)]
    data: DataArgs,
}

/// The settings of a run, kept in its backup so `--resume` continues the same run. Where the
/// files go is not a setting: the command line decides it (see `FILES_HELP`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    epochs: usize,
    batch_size: usize,
    patience: usize,
    seed: u64,
    conv: ConvArg,
    limit: Option<usize>,
    optimizer: OptimizerArg,
    lr: Option<f32>,
    /// The dataset's `--dataset` name; backups written before 2026-12 trained on Fashion-MNIST.
    #[serde(default = "fashion_mnist")]
    dataset: DatasetArg,
    /// Backups written before 2026-12 stored the checkpoint's path here; it is read and ignored.
    #[serde(default, rename = "checkpoint", skip_serializing)]
    _old_checkpoint: Option<serde::de::IgnoredAny>,
}

fn fashion_mnist() -> DatasetArg {
    DatasetArg::FashionMnist
}

impl Settings {
    fn from_args(args: &TrainArgs) -> Self {
        Settings {
            epochs: args.epochs,
            batch_size: args.batch_size,
            patience: args.patience,
            seed: args.seed,
            conv: args.conv,
            limit: args.limit,
            optimizer: args.optimizer,
            lr: args.lr,
            dataset: args.data.dataset.unwrap_or(DatasetArg::FashionMnist),
            _old_checkpoint: None,
        }
    }

    /// The same rules for the command line and for a backup's settings, which come from a file.
    fn check(&self) -> Result<()> {
        anyhow::ensure!(self.epochs >= 1, "--epochs must be at least 1");
        anyhow::ensure!(
            self.epochs <= MAX_EPOCHS,
            "--epochs {} is more than {MAX_EPOCHS}",
            self.epochs
        );
        anyhow::ensure!(self.batch_size >= 1, "--batch-size must be at least 1");
        anyhow::ensure!(self.limit != Some(0), "--limit must be at least 1");
        if let Some(lr) = self.lr {
            anyhow::ensure!(
                lr.is_finite() && lr > 0.0,
                "--lr must be a positive number, got {lr}"
            );
        }
        Ok(())
    }

    fn optimizer(&self) -> Optimizer {
        match self.optimizer {
            OptimizerArg::Adam => Optimizer::Adam(Adam::new(self.lr.unwrap_or(1e-3))),
            OptimizerArg::Sgd => Optimizer::Sgd(Sgd::new(self.lr.unwrap_or(1e-2))),
            OptimizerArg::Rmsprop => Optimizer::RmsProp(RmsProp::new(self.lr.unwrap_or(1e-3))),
        }
    }
}

/// More epochs than anyone trains for: a history that long would itself be the problem.
const MAX_EPOCHS: usize = 100_000;

pub fn run(args: TrainArgs) -> Result<ExitCode> {
    // A resumed run takes its model, settings and state from the backup; where its files go
    // comes from the command line alone.
    let (resumed, settings, checkpoint) = match &args.resume {
        Some(path) => {
            let (model, state) = load_backup(path).context("--resume")?;
            let checkpoint = match &args.checkpoint {
                Some(checkpoint) => checkpoint.clone(),
                None => RunFiles::checkpoint_of_backup(path)?,
            };
            let settings: Settings =
                serde_json::from_value(state.extra.clone()).with_context(|| {
                    format!(
                        "--resume {}: no convlab train settings in it",
                        path.display()
                    )
                })?;
            settings
                .check()
                .with_context(|| format!("--resume {}: its settings", path.display()))?;
            check_resumed(&state, &settings)
                .with_context(|| format!("--resume {}", path.display()))?;
            anyhow::ensure!(
                args.data.dataset.is_none_or(|d| d == settings.dataset),
                "--resume {}: the run trains on {}; --dataset cannot change that",
                path.display(),
                settings.dataset.name()
            );
            data::check_model(
                &model,
                settings.dataset,
                &format!("--resume {}", path.display()),
            )?;
            anyhow::ensure!(
                state.epochs_done <= settings.epochs
                    && state.history.epochs.len() == state.epochs_done,
                "--resume {}: it says {} epochs are done of {}, with {} in its history",
                path.display(),
                state.epochs_done,
                settings.epochs,
                state.history.epochs.len()
            );
            (Some((model, state)), settings, checkpoint)
        }
        None => {
            let settings = Settings::from_args(&args);
            settings.check()?;
            let checkpoint = args
                .checkpoint
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CHECKPOINT));
            (None, settings, checkpoint)
        }
    };
    let files = RunFiles::new(checkpoint);
    files.check_writable()?;
    // Checked now, written from the first epoch's end on.
    let mut board = args
        .tensorboard
        .as_deref()
        .map(|dir| TensorBoard::new(dir, settings.optimizer().learning_rate()))
        .transpose()?;
    // No output may be an input, except the backup a resumed run goes on updating.
    for (arg, input) in [("--model", &args.model), ("--resume", &args.resume)] {
        if let Some(input) = input {
            for out in files.all() {
                if arg == "--resume" && out == &files.backup {
                    continue;
                }
                super::check_not_input("--checkpoint", out, arg, input)?;
            }
        }
    }
    if let (Some(path), Some((_, state))) = (&args.resume, &resumed) {
        note!(
            "resuming from {} after epoch {} of {}",
            path.display(),
            state.epochs_done,
            settings.epochs
        );
    }

    let (mut model, resume) = match resumed {
        Some((model, state)) => (model, Some(state)),
        None => (new_model(&args, &settings)?, None),
    };
    model.dataset = Some(settings.dataset.name().to_string());
    let data = data::load_dataset(&args.data, settings.dataset)?;
    let mut train = data.train.clone();
    if let Some(limit) = settings.limit {
        train.items.truncate(limit);
    }
    let largest = train.items.len().max(data.val.items.len());
    memory::check_batch(&model, settings.batch_size, largest, true)?;
    // Everything is in place: from here on the run writes.
    files.create_dir()?;
    let _lock = RunLock::acquire(&files.checkpoint)?;
    note!(
        "{}: {} training, {} validation, {} test images; {} thread(s)",
        settings.dataset.title(),
        train.items.len(),
        data.val.items.len(),
        data.test.items.len(),
        rayon::current_num_threads()
    );

    // On resume the backup's optimizer (with its moments) replaces this fresh one in `fit`.
    model.compile(settings.optimizer(), Loss::SparseCategoricalCrossentropy);
    note!("{}", model.summary().trim_end());
    note!("{}", model.plan_table().trim_end());

    let so_far = resume
        .as_ref()
        .map(|state| state.history.clone())
        .unwrap_or_default();
    let epochs_before = so_far.epochs.len();
    let mut progress = Progress::new();
    let mut checkpoint = ModelCheckpoint::new(&files.checkpoint)
        .monitor(Monitor::ValLoss)
        .save_best_only(true);
    let mut early = EarlyStopping::new(Monitor::ValLoss)
        .patience(settings.patience)
        .restore_best_weights(true);
    let (mut nan, mut diverge) = (TerminateOnNaN, StopOnDivergence::default());
    let report = (!args.no_report)
        .then(|| -> Result<ReportWriter> {
            let mut run_settings = settings_pairs(&serde_json::to_value(&settings)?);
            run_settings.push(("threads".into(), rayon::current_num_threads().to_string()));
            Ok(ReportWriter {
                path: files.report.clone(),
                // The weights the run started from: its architecture and seed.
                untrained: Sequential::from_config(&model.config())?,
                settings: run_settings,
                split: SplitRef {
                    name: "test",
                    images: &data.test,
                    class_names: data.class_names(),
                    dataset_title: settings.dataset.title(),
                },
                train_images: train.items.len(),
            })
        })
        .transpose()?;
    let mut epoch_files = EpochFiles {
        history_path: files.history.clone(),
        history: so_far,
        written: false,
        report,
    };
    let opts = FitOptions {
        epochs: settings.epochs,
        batch_size: settings.batch_size,
        shuffle: true,
        seed: settings.seed,
        initial_epoch: 0,
        backup: Some(files.backup.clone()),
        backup_extra: serde_json::to_value(&settings)?,
        resume,
    };
    let mut callbacks: Vec<&mut dyn Callback> = vec![
        &mut nan,
        &mut diverge,
        &mut progress,
        &mut checkpoint,
        &mut early,
        &mut epoch_files,
    ];
    if let Some(board) = board.as_mut() {
        callbacks.push(board);
    }
    let history = model
        .fit(&train, Some(&data.val), &opts, &mut callbacks)
        .context("training")?;
    drop(callbacks);
    if let Some(path) = board.as_ref().and_then(|b| b.path()) {
        note!("wrote {}", path.display());
    }
    let trained = history.epochs.len() > epochs_before;
    if !trained {
        note!(
            "nothing left to train: the run had ended after epoch {} of {}{}",
            epochs_before,
            settings.epochs,
            history
                .stop_reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    } else if let Some(reason) = &history.stop_reason {
        note!("stopped: {reason}");
        // The callback wrote the CSV before fit decided to stop; write it again with the reason.
        convlab_cli::draw::write_atomic(&files.history, history.to_csv().as_bytes())
            .with_context(|| format!("writing {}", files.history.display()))?;
    }
    report_best_model(
        &model,
        &files.checkpoint,
        &checkpoint,
        &early,
        epochs_before,
    )?;
    if trained {
        if epoch_files.written {
            note!("wrote {}", files.history.display());
        }
        note!("wrote {} (resume with --resume)", files.backup.display());
        let best = history.best_epoch(Monitor::ValLoss);
        let curves = learning_curves(
            &HistoryData {
                loss: history.epochs.iter().map(|e| e.loss).collect(),
                accuracy: history.epochs.iter().filter_map(|e| e.accuracy).collect(),
                val_loss: history.epochs.iter().filter_map(|e| e.val_loss).collect(),
                val_accuracy: history
                    .epochs
                    .iter()
                    .filter_map(|e| e.val_accuracy)
                    .collect(),
            },
            best,
        );
        convlab_cli::draw::write_atomic(&files.curves, curves.as_bytes())?;
        note!("wrote {}", files.curves.display());
        // The model holds the best epoch's weights again (EarlyStopping restored them): the
        // report's last version describes those, as `convlab report --model CHECKPOINT` would.
        if let (Some(report), Some((best_epoch, _))) = (&epoch_files.report, early.best()) {
            let subtitle = format!(
                "{}: the weights of epoch {best_epoch} (the lowest val_loss of {} epochs)",
                files.checkpoint.display(),
                history.epochs.len()
            );
            report
                .write(&model, &history, subtitle)
                .with_context(|| format!("writing {}", files.report.display()))?;
            note!("wrote {}", files.report.display());
        }
    }

    // A run stopped inside an epoch (TerminateOnNaN, StopOnDivergence) failed: its last epoch
    // was never validated. Without any good epoch there is nothing worth evaluating.
    let diverged = history.stop_reason.is_some()
        && history.epochs.last().is_some_and(|e| e.val_loss.is_none());
    if diverged && early.best().is_none() {
        return Ok(ExitCode::from(1));
    }
    // EarlyStopping restored the best epoch's weights: evaluate those, as the chapter does.
    for (name, split) in [("validation", &data.val), ("test", &data.test)] {
        let eval = model.evaluate(split, 256)?;
        note!(
            "{name}: loss {:.4} - accuracy {:.4}",
            eval.loss,
            eval.accuracy.unwrap_or(f32::NAN)
        );
    }
    Ok(if diverged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The model a new run trains: `--model FILE` built from the seed, or the chapter's; either
/// must classify the dataset's images (a model file's error names its line and layer).
fn new_model(args: &TrainArgs, settings: &Settings) -> Result<Sequential> {
    let Some(path) = &args.model else {
        let model = chapter_model(settings.seed, settings.conv.into());
        data::check_model(&model, settings.dataset, "the chapter's model")?;
        return Ok(model);
    };
    let file = model_file(path, "--model")?;
    crate::memory::ensure_fits(
        &format!(
            "--model {}: its {} weights",
            path.display(),
            file.weight_count()
        ),
        file.weight_count() as f64 * 4.0 * 4.0,
    )?;
    let mut model = file.build(settings.seed)?;
    set_conv(&mut model, settings.conv);
    let dataset = settings.dataset;
    if model.input_shape() != dataset.item_shape() {
        let problem = data::mismatch(&model, dataset).unwrap_or_default();
        return Err(file
            .input_error(format!("{problem} (--dataset chooses the data)"))
            .into());
    }
    if let Some(problem) = data::mismatch(&model, dataset) {
        let last = model.layers().len() - 1;
        return Err(file
            .layer_error(last, format!("{problem} (--dataset chooses the data)"))
            .into());
    }
    Ok(model)
}

/// Refuses a backup whose parts disagree (a crafted or damaged file): its optimizer must be the
/// one its settings name, with their learning rate, and the best epoch that ModelCheckpoint and
/// EarlyStopping remember must be the history's (the callbacks' order is `run`'s).
fn check_resumed(state: &ResumeState, settings: &Settings) -> Result<()> {
    let expected = settings.optimizer();
    anyhow::ensure!(
        state.optimizer.name() == expected.name()
            && state.optimizer.learning_rate() == expected.learning_rate(),
        "its optimizer ({} at lr {}) is not the one its settings name ({} at lr {})",
        state.optimizer.name(),
        state.optimizer.learning_rate(),
        expected.name(),
        expected.learning_rate()
    );
    let best_epoch = state.history.best_epoch(Monitor::ValLoss);
    let best = best_epoch.and_then(|e| state.history.epochs[e - 1].val_loss);
    let field = |callback: usize, key: &str| {
        state
            .callbacks
            .get(callback)
            .and_then(|c| c.as_ref())
            .and_then(|c| c.json.get(key).cloned())
            .unwrap_or(serde_json::Value::Null)
    };
    let as_f32 = |v: serde_json::Value| v.as_f64().map(|v| v as f32);
    let saved: Vec<usize> =
        serde_json::from_value(field(CHECKPOINT_CALLBACK, "saved_epochs")).unwrap_or_default();
    let agree = as_f32(field(CHECKPOINT_CALLBACK, "best")) == best
        && saved.last().copied() == best_epoch
        && as_f32(field(EARLY_STOPPING_CALLBACK, "best")) == best
        && field(EARLY_STOPPING_CALLBACK, "best_epoch")
            .as_u64()
            .map(|e| e as usize)
            == best_epoch;
    anyhow::ensure!(
        agree,
        "its callbacks' best epoch does not match its history's (epoch {best_epoch:?}, val_loss {best:?})"
    );
    Ok(())
}

/// Where `run` puts ModelCheckpoint and EarlyStopping among its callbacks.
const CHECKPOINT_CALLBACK: usize = 3;
const EARLY_STOPPING_CALLBACK: usize = 4;

/// Says where the best model is, and makes it true: the model now holds the best epoch's weights
/// (EarlyStopping restored them), so if this run saved no checkpoint and the file at `path` is
/// missing or holds other weights (a backup resumed in a new place), they are saved there.
fn report_best_model(
    model: &Sequential,
    path: &std::path::Path,
    checkpoint: &ModelCheckpoint,
    early: &EarlyStopping,
    epochs_before: usize,
) -> Result<()> {
    let Some((best_epoch, _)) = early.best() else {
        note!("no epoch had a finite val_loss: no checkpoint was written");
        return Ok(());
    };
    if checkpoint
        .saved_epochs
        .last()
        .is_some_and(|&epoch| epoch > epochs_before)
    {
        note!(
            "best model (epoch {best_epoch}) saved to {}",
            path.display()
        );
        return Ok(());
    }
    let on_disk = convlab_nn::checkpoint::load_model(path).ok();
    if on_disk.is_some_and(|saved| saved.weights() == model.weights()) {
        note!(
            "best model (epoch {best_epoch}) is in {}, saved before the backup",
            path.display()
        );
        return Ok(());
    }
    convlab_nn::checkpoint::save_model(path, model)?;
    note!(
        "best model (epoch {best_epoch}) saved to {}",
        path.display()
    );
    Ok(())
}
