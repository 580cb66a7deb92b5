//! Callbacks: code that runs at fixed points of `fit`, with Keras's semantics. A callback stops
//! training by returning `Control::Stop` with a reason, not by setting a flag on the model.
//!
//! The hooks, in the order `fit` calls them:
//! - `on_train_begin`: check the setup (a monitored metric that will not exist is an error here,
//!   before any work);
//! - `before_update` per batch: sees the loss and whether every gradient is finite, before the
//!   optimizer touches anything;
//! - `on_batch_end` per batch: progress;
//! - `on_epoch_end`: sees the epoch's metrics and the model;
//! - `on_train_end`: may change the model (restore the best weights).

mod early_stopping;
mod model_checkpoint;
mod stop_on_divergence;
mod terminate_on_nan;

pub use early_stopping::EarlyStopping;
pub use model_checkpoint::ModelCheckpoint;
pub use stop_on_divergence::StopOnDivergence;
pub use terminate_on_nan::TerminateOnNaN;

use crate::history::{EpochLogs, History};
use crate::resume::CallbackState;
use crate::{Sequential, TrainError};

/// Whether training goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop { reason: String },
}

/// What `fit` is about to do, for `on_train_begin`.
#[derive(Clone, Debug)]
pub struct TrainInfo {
    /// The epoch to start from (0-based; 0 unless resuming) and the number of epochs (the end).
    pub initial_epoch: usize,
    pub epochs: usize,
    pub steps_per_epoch: usize,
    pub has_validation: bool,
    pub has_accuracy: bool,
}

/// Running figures after one training step.
#[derive(Clone, Debug)]
pub struct BatchLogs {
    /// 1-based epoch, step within the epoch (1-based) and steps per epoch.
    pub epoch: usize,
    pub step: usize,
    pub steps: usize,
    /// Mean loss and accuracy over the epoch's steps so far.
    pub loss: f32,
    pub accuracy: Option<f32>,
}

pub trait Callback {
    fn on_train_begin(&mut self, _info: &TrainInfo) -> Result<(), TrainError> {
        Ok(())
    }

    fn before_update(&mut self, _loss: f32, _grads_finite: bool) -> Control {
        Control::Continue
    }

    fn on_batch_end(&mut self, _logs: &BatchLogs) {}

    fn on_epoch_end(
        &mut self,
        _logs: &EpochLogs,
        _model: &Sequential,
    ) -> Result<Control, TrainError> {
        Ok(Control::Continue)
    }

    fn on_train_end(
        &mut self,
        _model: &mut Sequential,
        _history: &History,
    ) -> Result<(), TrainError> {
        Ok(())
    }

    /// State to save in a backup so a resumed run behaves as an uninterrupted one (see
    /// resume.rs); `None` for callbacks without state.
    fn state(&self) -> Option<CallbackState> {
        None
    }

    fn load_state(&mut self, _state: &CallbackState) -> Result<(), TrainError> {
        Ok(())
    }
}

/// Checks that `monitor` will exist during this training run (Keras only warns; we refuse).
fn check_monitor(
    callback: &str,
    monitor: crate::history::Monitor,
    info: &TrainInfo,
) -> Result<(), TrainError> {
    if monitor.needs_validation() && !info.has_validation {
        return Err(TrainError::MissingMetric {
            callback: callback.to_string(),
            metric: monitor.name(),
            why: "there is no validation data",
        });
    }
    if matches!(
        monitor,
        crate::history::Monitor::Accuracy | crate::history::Monitor::ValAccuracy
    ) && !info.has_accuracy
    {
        return Err(TrainError::MissingMetric {
            callback: callback.to_string(),
            metric: monitor.name(),
            why: "the loss has no accuracy metric",
        });
    }
    Ok(())
}
