//! `convlab train`: the chapter's model, trained with the chapter's settings by default: Adam,
//! batch 32, up to 20 epochs, ModelCheckpoint(save_best_only) and EarlyStopping(patience 2,
//! restore_best_weights), both watching val_loss as Keras does by default, on the scikit-learn
//! split of the training set. Beside the checkpoint it writes the history as CSV (every epoch),
//! a backup to resume from (every epoch) and the learning curves as SVG, and it ends by
//! evaluating the restored best model.
//!
//! `--resume FILE` continues from a backup with the settings saved in it: the same seed, order
//! of batches and dropout masks, optimizer state and callback state, so an interrupted run ends
//! exactly where an uninterrupted one would (on the same number of threads).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use convlab_cli::draw::{learning_curves, HistoryData};
use convlab_nn::callbacks::{Callback, Control};
use convlab_nn::{
    chapter_model, load_backup, Adam, EarlyStopping, EpochLogs, FitOptions, History, Loss,
    ModelCheckpoint, Monitor, Optimizer, RmsProp, Sequential, Sgd, StopOnDivergence,
    TerminateOnNaN, TrainError,
};
use serde::{Deserialize, Serialize};

use super::{beside, write_output, ConvArg};
use crate::data::{self, DataArgs};
use crate::progress::Progress;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum OptimizerArg {
    Adam,
    Sgd,
    Rmsprop,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// EarlyStopping patience (epochs without a better val_loss).
    #[arg(long, default_value_t = 2)]
    patience: usize,
    /// Where the best model is saved.
    #[arg(long, default_value = "best-cnn-model.safetensors")]
    checkpoint: PathBuf,
    /// Seed of the weights, the shuffles and the dropout masks.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Convolution algorithm.
    #[arg(long, value_enum, default_value_t = ConvArg::Auto)]
    conv: ConvArg,
    /// Train on the first N images of the training split only (a quick run).
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long, value_enum, default_value_t = OptimizerArg::Adam)]
    optimizer: OptimizerArg,
    /// Learning rate (default: Keras's, 1e-3 for adam and rmsprop, 1e-2 for sgd).
    #[arg(long)]
    lr: Option<f32>,
    /// Continue an interrupted run from its backup (CHECKPOINT's .backup.safetensors); the
    /// settings saved in it are used; of the other options only --data and --threads apply.
    #[arg(long, value_name = "BACKUP")]
    resume: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
}

/// The settings of a run, kept in its backup so `--resume` continues the same run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    epochs: usize,
    batch_size: usize,
    patience: usize,
    checkpoint: PathBuf,
    seed: u64,
    conv: ConvArg,
    limit: Option<usize>,
    optimizer: OptimizerArg,
    lr: Option<f32>,
}

impl Settings {
    fn from_args(args: &TrainArgs) -> Self {
        Settings {
            epochs: args.epochs,
            batch_size: args.batch_size,
            patience: args.patience,
            checkpoint: args.checkpoint.clone(),
            seed: args.seed,
            conv: args.conv,
            limit: args.limit,
            optimizer: args.optimizer,
            lr: args.lr,
        }
    }

    fn check(&self) -> Result<()> {
        anyhow::ensure!(self.epochs >= 1, "--epochs must be at least 1");
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

/// Writes the history as CSV after every epoch, so a crash loses at most the running epoch.
struct HistoryCsv {
    path: PathBuf,
    history: History,
}

impl Callback for HistoryCsv {
    fn on_epoch_end(
        &mut self,
        logs: &EpochLogs,
        _model: &Sequential,
    ) -> Result<Control, TrainError> {
        self.history.epochs.push(logs.clone());
        convlab_cli::draw::write_atomic(&self.path, self.history.to_csv().as_bytes())
            .map_err(|e| TrainError::Resume(format!("writing the history: {e}")))?;
        Ok(Control::Continue)
    }
}

pub fn run(args: TrainArgs) -> Result<ExitCode> {
    // A resumed run takes its model, settings and state from the backup.
    let (resumed, settings) = match &args.resume {
        Some(path) => {
            let (model, state) = load_backup(path).context("--resume")?;
            super::check_classifier(&model, path)?;
            let settings: Settings =
                serde_json::from_value(state.extra.clone()).with_context(|| {
                    format!(
                        "--resume {}: no convlab train settings in it",
                        path.display()
                    )
                })?;
            println!(
                "resuming from {} after epoch {} of {}",
                path.display(),
                state.epochs_done,
                settings.epochs
            );
            (Some((model, state)), settings)
        }
        None => (None, Settings::from_args(&args)),
    };
    settings.check()?;
    // Fail now, not after the first epoch, if the outputs cannot be written: create the
    // checkpoint's directory and write the history there.
    let csv_path = beside(&settings.checkpoint, "history.csv");
    if let Some(dir) = settings
        .checkpoint
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "--checkpoint: cannot create the directory {}",
                dir.display()
            )
        })?;
    }
    let so_far = resumed
        .as_ref()
        .map(|(_, state)| state.history.clone())
        .unwrap_or_default();
    convlab_cli::draw::write_atomic(&csv_path, so_far.to_csv().as_bytes()).with_context(|| {
        format!(
            "--checkpoint: cannot write beside {}",
            settings.checkpoint.display()
        )
    })?;
    let data = data::load(&args.data)?;
    let mut train = data.train.clone();
    if let Some(limit) = settings.limit {
        train.items.truncate(limit);
    }
    println!(
        "Fashion-MNIST: {} training, {} validation, {} test images; {} thread(s)",
        train.items.len(),
        data.val.items.len(),
        data.test.items.len(),
        rayon::current_num_threads()
    );

    let (mut model, resume) = match resumed {
        Some((model, state)) => (model, Some(state)),
        None => (chapter_model(settings.seed, settings.conv.into()), None),
    };
    // On resume the backup's optimizer (with its moments) replaces this fresh one in `fit`.
    model.compile(settings.optimizer(), Loss::SparseCategoricalCrossentropy);
    print!("{}", model.summary());

    let mut progress = Progress::new();
    let mut checkpoint = ModelCheckpoint::new(&settings.checkpoint)
        .monitor(Monitor::ValLoss)
        .save_best_only(true);
    let mut early = EarlyStopping::new(Monitor::ValLoss)
        .patience(settings.patience)
        .restore_best_weights(true);
    let (mut nan, mut diverge) = (TerminateOnNaN, StopOnDivergence::default());
    let mut csv = HistoryCsv {
        path: csv_path.clone(),
        history: so_far,
    };
    let backup = beside(&settings.checkpoint, "backup.safetensors");
    let opts = FitOptions {
        epochs: settings.epochs,
        batch_size: settings.batch_size,
        shuffle: true,
        seed: settings.seed,
        initial_epoch: 0,
        backup: Some(backup.clone()),
        backup_extra: serde_json::to_value(&settings)?,
        resume,
    };
    let history = model
        .fit(
            &train,
            Some(&data.val),
            &opts,
            &mut [
                &mut nan,
                &mut diverge,
                &mut progress,
                &mut checkpoint,
                &mut early,
                &mut csv,
            ],
        )
        .context("training")?;
    if let Some(reason) = &history.stop_reason {
        println!("stopped: {reason}");
        // The callback wrote the CSV before fit decided to stop; write it again with the reason.
        convlab_cli::draw::write_atomic(&csv_path, history.to_csv().as_bytes())
            .with_context(|| format!("writing {}", csv_path.display()))?;
    }
    match checkpoint.saved_epochs.last() {
        Some(epoch) => println!(
            "best model (epoch {epoch}) saved to {}",
            settings.checkpoint.display()
        ),
        None => println!("no epoch had a finite val_loss: no checkpoint was written"),
    }
    println!("wrote {}", csv_path.display());
    println!("wrote {} (resume with --resume)", backup.display());

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
    write_output(
        &beside(&settings.checkpoint, "curves.svg"),
        curves.as_bytes(),
    )?;

    // A run stopped inside an epoch (TerminateOnNaN, StopOnDivergence) failed: its last epoch
    // was never validated. Without any good epoch there is nothing worth evaluating.
    let diverged = history.stop_reason.is_some()
        && history.epochs.last().is_some_and(|e| e.val_loss.is_none());
    if diverged && checkpoint.saved_epochs.is_empty() {
        return Ok(ExitCode::from(1));
    }
    // EarlyStopping restored the best epoch's weights: evaluate those, as the chapter does.
    for (name, split) in [("validation", &data.val), ("test", &data.test)] {
        let eval = model.evaluate(split, 256)?;
        println!(
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
