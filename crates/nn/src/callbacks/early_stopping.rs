//! EarlyStopping: stop when the monitored metric has not improved for `patience` epochs.
//!
//! Keras's semantics (keras/callbacks/early_stopping.py): each epoch `wait` grows by one and is
//! reset to 0 by an improvement (better than the best by more than `min_delta`); when `wait`
//! reaches `patience`, training stops. With `restore_best_weights`, the weights of the best epoch
//! are put back when training ends, whether it stopped early or ran out of epochs (Keras 3 does
//! the same). NaN is never an improvement, so it can never be "best".

use serde::{Deserialize, Serialize};

use super::{check_monitor, Callback, Control, TrainInfo};
use crate::history::{EpochLogs, History, Monitor};
use crate::resume::CallbackState;
use crate::{Sequential, Tensor, TrainError};

#[derive(Clone, Debug)]
pub struct EarlyStopping {
    pub monitor: Monitor,
    pub patience: usize,
    pub min_delta: f32,
    pub restore_best_weights: bool,
    state: StopState,
    best_weights: Option<Vec<Tensor>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct StopState {
    wait: usize,
    best: Option<f32>,
    best_epoch: Option<usize>,
}

impl EarlyStopping {
    /// Keras's defaults: monitor val_loss, patience 0, min_delta 0, no restoring.
    pub fn new(monitor: Monitor) -> Self {
        EarlyStopping {
            monitor,
            patience: 0,
            min_delta: 0.0,
            restore_best_weights: false,
            state: StopState::default(),
            best_weights: None,
        }
    }

    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    pub fn min_delta(mut self, min_delta: f32) -> Self {
        self.min_delta = min_delta;
        self
    }

    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// The best epoch so far (1-based) and its value.
    pub fn best(&self) -> Option<(usize, f32)> {
        Some((self.state.best_epoch?, self.state.best?))
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, info: &TrainInfo) -> Result<(), TrainError> {
        check_monitor("EarlyStopping", self.monitor, info)?;
        // As Keras: an instance can be reused; a resumed run gets its state from `load_state`.
        self.state = StopState::default();
        self.best_weights = None;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        logs: &EpochLogs,
        model: &Sequential,
    ) -> Result<Control, TrainError> {
        let Some(current) = self.monitor.get(logs) else {
            return Ok(Control::Continue);
        };
        if self.restore_best_weights && self.best_weights.is_none() {
            // Until something improves, the first epoch's weights are the fallback.
            self.best_weights = Some(model.weights().into_iter().cloned().collect());
        }
        self.state.wait += 1;
        if self
            .monitor
            .improves(current, self.state.best, self.min_delta)
        {
            self.state.best = Some(current);
            self.state.best_epoch = Some(logs.epoch);
            self.state.wait = 0;
            if self.restore_best_weights {
                self.best_weights = Some(model.weights().into_iter().cloned().collect());
            }
            return Ok(Control::Continue);
        }
        if self.state.wait >= self.patience && logs.epoch > 1 {
            return Ok(Control::Stop {
                reason: format!(
                    "early stopping: {} did not improve for {} epochs (best {:.4} at epoch {})",
                    self.monitor.name(),
                    self.state.wait,
                    self.state.best.unwrap_or(f32::NAN),
                    self.state.best_epoch.unwrap_or(0)
                ),
            });
        }
        Ok(Control::Continue)
    }

    fn on_train_end(
        &mut self,
        model: &mut Sequential,
        _history: &History,
    ) -> Result<(), TrainError> {
        if self.restore_best_weights {
            if let Some(best) = self.best_weights.take() {
                model.set_weights(best)?;
            }
        }
        Ok(())
    }

    fn state(&self) -> Option<CallbackState> {
        Some(CallbackState {
            json: serde_json::to_value(&self.state).ok()?,
            tensors: self.best_weights.clone().unwrap_or_default(),
        })
    }

    fn load_state(&mut self, state: &CallbackState) -> Result<(), TrainError> {
        self.state = serde_json::from_value(state.json.clone())
            .map_err(|e| TrainError::Resume(format!("EarlyStopping state: {e}")))?;
        self.best_weights = (!state.tensors.is_empty()).then(|| state.tensors.clone());
        Ok(())
    }
}
