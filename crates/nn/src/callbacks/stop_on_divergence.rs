//! StopOnDivergence: stop when a batch's loss grows past `factor` times the run's first batch
//! loss. TerminateOnNaN alone misses a run that has blown up but stays finite, which is what the
//! fused, stable cross-entropy gives: with a learning rate of 1e6 the loss reaches 1e18 and
//! wanders there without ever becoming NaN. Like TerminateOnNaN it runs before the optimizer
//! step, so the batch that blew up never updates the weights.

use super::{Callback, Control, TrainInfo};
use crate::resume::CallbackState;
use crate::TrainError;

#[derive(Clone, Debug)]
pub struct StopOnDivergence {
    pub factor: f32,
    first_loss: Option<f32>,
}

impl StopOnDivergence {
    pub fn new(factor: f32) -> Self {
        StopOnDivergence {
            factor,
            first_loss: None,
        }
    }
}

impl Default for StopOnDivergence {
    /// 100x: a classifier starts near ln(classes) (2.3 for 10) and never legitimately reaches 230.
    fn default() -> Self {
        StopOnDivergence::new(100.0)
    }
}

impl Callback for StopOnDivergence {
    fn on_train_begin(&mut self, _info: &TrainInfo) -> Result<(), TrainError> {
        self.first_loss = None; // a new run (a resumed one gets it back from `load_state`)
        Ok(())
    }

    fn state(&self) -> Option<CallbackState> {
        Some(CallbackState {
            json: serde_json::json!({ "first_loss": self.first_loss }),
            tensors: Vec::new(),
        })
    }

    fn load_state(&mut self, state: &CallbackState) -> Result<(), TrainError> {
        let bad = || TrainError::Resume(format!("StopOnDivergence state: {}", state.json));
        self.first_loss = match state.json.get("first_loss") {
            Some(serde_json::Value::Null) => None,
            Some(v) => Some(v.as_f64().ok_or_else(bad)? as f32),
            None => return Err(bad()),
        };
        Ok(())
    }

    fn before_update(&mut self, loss: f32, _grads_finite: bool) -> Control {
        if !loss.is_finite() {
            return Control::Continue; // TerminateOnNaN's case
        }
        let first = *self.first_loss.get_or_insert(loss.abs().max(1e-3));
        if loss.abs() > self.factor * first {
            return Control::Stop {
                reason: format!(
                    "training diverged: batch loss {loss:.4e} is over {}x the first batch's {first:.4}; try a smaller --lr",
                    self.factor
                ),
            };
        }
        Control::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_on_growth_only() {
        let mut s = StopOnDivergence::default();
        assert_eq!(s.before_update(2.3, true), Control::Continue);
        assert_eq!(s.before_update(50.0, true), Control::Continue);
        assert!(matches!(s.before_update(231.0, true), Control::Stop { .. }));
        assert_eq!(s.before_update(f32::NAN, true), Control::Continue);
    }
}
