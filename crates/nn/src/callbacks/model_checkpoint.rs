//! ModelCheckpoint: save the model after an epoch, or only when the monitored metric improved
//! (`save_best_only`), as Keras's. Each save is atomic (see the checkpoint module): a crash leaves
//! the previous file or the new one, never half of one.

use std::path::PathBuf;

use super::{check_monitor, Callback, Control, TrainInfo};
use crate::history::{EpochLogs, Monitor};
use crate::resume::CallbackState;
use crate::{Sequential, TrainError};

#[derive(Clone, Debug)]
pub struct ModelCheckpoint {
    pub path: PathBuf,
    pub monitor: Monitor,
    pub save_best_only: bool,
    best: Option<f32>,
    /// Epochs (1-based) at which the file was written.
    pub saved_epochs: Vec<usize>,
}

impl ModelCheckpoint {
    /// Keras's defaults: monitor val_loss, save every epoch.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ModelCheckpoint {
            path: path.into(),
            monitor: Monitor::ValLoss,
            save_best_only: false,
            best: None,
            saved_epochs: Vec::new(),
        }
    }

    pub fn monitor(mut self, monitor: Monitor) -> Self {
        self.monitor = monitor;
        self
    }

    pub fn save_best_only(mut self, save_best_only: bool) -> Self {
        self.save_best_only = save_best_only;
        self
    }
}

impl Callback for ModelCheckpoint {
    fn on_train_begin(&mut self, info: &TrainInfo) -> Result<(), TrainError> {
        if self.save_best_only {
            check_monitor("ModelCheckpoint", self.monitor, info)?;
        }
        self.best = None;
        self.saved_epochs.clear();
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        logs: &EpochLogs,
        model: &Sequential,
    ) -> Result<Control, TrainError> {
        if self.save_best_only {
            let Some(current) = self.monitor.get(logs) else {
                return Ok(Control::Continue);
            };
            if !self.monitor.improves(current, self.best, 0.0) {
                return Ok(Control::Continue);
            }
            self.best = Some(current);
        }
        crate::checkpoint::save_model(&self.path, model)?;
        self.saved_epochs.push(logs.epoch);
        Ok(Control::Continue)
    }

    fn state(&self) -> Option<CallbackState> {
        Some(CallbackState {
            json: serde_json::json!({ "best": self.best, "saved_epochs": self.saved_epochs }),
            tensors: Vec::new(),
        })
    }

    fn load_state(&mut self, state: &CallbackState) -> Result<(), TrainError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Saved {
            best: Option<f32>,
            saved_epochs: Vec<usize>,
        }
        let saved: Saved = serde_json::from_value(state.json.clone())
            .map_err(|e| TrainError::Resume(format!("ModelCheckpoint state: {e}")))?;
        self.best = saved.best;
        self.saved_epochs = saved.saved_epochs;
        Ok(())
    }
}
