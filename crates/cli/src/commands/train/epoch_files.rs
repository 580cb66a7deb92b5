//! The files `train` rewrites after every epoch besides the backup: the history as CSV and the
//! HTML report, so a crash loses at most the running epoch and the report can be opened while
//! the run goes on. Both are written atomically (`write_atomic`): a reader sees the old file or
//! the new one, never half of one.

use std::path::PathBuf;

use anyhow::Result;
use convlab_cli::draw::write_atomic;
use convlab_nn::callbacks::{Callback, Control};
use convlab_nn::{EpochLogs, History, Monitor, Sequential, TrainError};

use crate::run_report::{gather, RunInfo, SplitRef};

pub(super) struct EpochFiles<'a> {
    pub history_path: PathBuf,
    pub history: History,
    /// Whether this run has written the files (they are not touched before its first epoch ends).
    pub written: bool,
    /// None with `--no-report`.
    pub report: Option<ReportWriter<'a>>,
}

/// What the report needs besides the model and its history.
pub(super) struct ReportWriter<'a> {
    pub path: PathBuf,
    /// The weights the run started from (the model's architecture and seed).
    pub untrained: Sequential,
    pub settings: Vec<(String, String)>,
    pub split: SplitRef<'a>,
    pub train_images: usize,
}

impl ReportWriter<'_> {
    /// Writes the report of `model` (compiled) after `history`'s epochs.
    pub fn write(&self, model: &Sequential, history: &History, subtitle: String) -> Result<()> {
        let run = RunInfo {
            subtitle,
            settings: self.settings.clone(),
            history: Some(history.clone()),
            history_note: None,
            best_epoch: history.best_epoch(Monitor::ValLoss),
            train_images: Some(self.train_images),
        };
        let report = gather(model, &self.untrained, run, &self.split)?;
        write_atomic(&self.path, report.to_html().as_bytes())?;
        Ok(())
    }
}

impl Callback for EpochFiles<'_> {
    fn on_epoch_end(
        &mut self,
        logs: &EpochLogs,
        model: &Sequential,
    ) -> Result<Control, TrainError> {
        self.history.epochs.push(logs.clone());
        write_atomic(&self.history_path, self.history.to_csv().as_bytes())
            .map_err(|e| TrainError::Resume(format!("writing the history: {e}")))?;
        if let Some(report) = &self.report {
            let subtitle = format!(
                "after epoch {}: the latest weights (the checkpoint keeps the best epoch's)",
                logs.epoch
            );
            report
                .write(model, &self.history, subtitle)
                .map_err(|e| TrainError::Resume(format!("writing the report: {e:#}")))?;
        }
        self.written = true;
        Ok(Control::Continue)
    }
}
