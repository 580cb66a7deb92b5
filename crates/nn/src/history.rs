//! What training records: one `EpochLogs` per epoch, and why it stopped.

use serde::{Deserialize, Serialize};

/// The metrics of one epoch. `epoch` counts from 1, as Keras prints it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochLogs {
    pub epoch: usize,
    pub loss: f32,
    pub accuracy: Option<f32>,
    pub val_loss: Option<f32>,
    pub val_accuracy: Option<f32>,
    /// Wall-clock seconds of the epoch, validation included.
    pub seconds: f64,
}

/// A metric a callback can watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Monitor {
    Loss,
    Accuracy,
    ValLoss,
    ValAccuracy,
}

impl Monitor {
    pub fn name(self) -> &'static str {
        match self {
            Monitor::Loss => "loss",
            Monitor::Accuracy => "accuracy",
            Monitor::ValLoss => "val_loss",
            Monitor::ValAccuracy => "val_accuracy",
        }
    }

    /// Keras's mode "auto": accuracies improve upwards, losses downwards.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Monitor::Accuracy | Monitor::ValAccuracy)
    }

    pub fn needs_validation(self) -> bool {
        matches!(self, Monitor::ValLoss | Monitor::ValAccuracy)
    }

    /// The value in `logs`, if that epoch has it.
    pub fn get(self, logs: &EpochLogs) -> Option<f32> {
        match self {
            Monitor::Loss => Some(logs.loss),
            Monitor::Accuracy => logs.accuracy,
            Monitor::ValLoss => logs.val_loss,
            Monitor::ValAccuracy => logs.val_accuracy,
        }
    }

    /// Whether `current` beats `best` by more than `min_delta` (Keras's `_is_improvement`).
    /// NaN never improves on anything, so it can never become the best.
    pub fn improves(self, current: f32, best: Option<f32>, min_delta: f32) -> bool {
        if current.is_nan() {
            return false;
        }
        match best {
            None => true,
            Some(best) if self.higher_is_better() => current - min_delta.abs() > best,
            Some(best) => current + min_delta.abs() < best,
        }
    }
}

impl std::str::FromStr for Monitor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "loss" => Ok(Monitor::Loss),
            "accuracy" => Ok(Monitor::Accuracy),
            "val_loss" => Ok(Monitor::ValLoss),
            "val_accuracy" => Ok(Monitor::ValAccuracy),
            _ => Err(format!(
                "unknown metric {s:?}: expected loss, accuracy, val_loss or val_accuracy"
            )),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub epochs: Vec<EpochLogs>,
    /// Why training ended before its last epoch, if it did (early stopping, NaN, ...).
    pub stop_reason: Option<String>,
}

impl History {
    /// Why this history cannot be one that `fit` wrote, or None: epochs numbered 1, 2, ... in
    /// order, times finite and not negative, losses not negative, accuracies in [0, 1], and (when
    /// there was validation) only the last epoch, one that diverged, without it. Histories come back from backups,
    /// which are files.
    pub fn problem(&self) -> Option<String> {
        let last = self.epochs.len();
        let validated = self.epochs.iter().any(|e| e.val_loss.is_some());
        for (i, e) in self.epochs.iter().enumerate() {
            let bad = |why: &str| Some(format!("epoch {} of the history: {why}", i + 1));
            if e.epoch != i + 1 {
                return bad(&format!("it is numbered {}", e.epoch));
            }
            if !(e.seconds.is_finite() && e.seconds >= 0.0) {
                return bad(&format!("it took {} seconds", e.seconds));
            }
            if e.loss.is_nan() || e.loss < 0.0 || e.val_loss.is_some_and(|v| v.is_nan() || v < 0.0)
            {
                return bad("a loss is negative or not a number");
            }
            let fraction = |a: Option<f32>| a.is_some_and(|a| !(0.0..=1.0).contains(&a));
            if fraction(e.accuracy) || fraction(e.val_accuracy) {
                return bad("an accuracy is outside [0, 1]");
            }
            if validated && e.val_loss.is_none() && i + 1 != last {
                return bad("it has no val_loss, but training went on after it");
            }
        }
        None
    }

    /// The epoch (from 1) with the best value of `monitor`, NaN never counting.
    pub fn best_epoch(&self, monitor: Monitor) -> Option<usize> {
        let mut best: Option<(usize, f32)> = None;
        for logs in &self.epochs {
            if let Some(v) = monitor.get(logs) {
                if monitor.improves(v, best.map(|b| b.1), 0.0) {
                    best = Some((logs.epoch, v));
                }
            }
        }
        best.map(|b| b.0)
    }

    /// The history as CSV: epoch,loss,accuracy,val_loss,val_accuracy,seconds,stop_reason. The
    /// stop reason, if training stopped early, is on the last epoch's row (quoted, since it is
    /// prose); every other row leaves it empty.
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("epoch,loss,accuracy,val_loss,val_accuracy,seconds,stop_reason\n");
        let opt = |v: Option<f32>| v.map_or(String::new(), |v| format!("{v:.6}"));
        for (i, e) in self.epochs.iter().enumerate() {
            let last = i + 1 == self.epochs.len();
            let reason = match &self.stop_reason {
                Some(reason) if last => csv_quote(reason),
                _ => String::new(),
            };
            out.push_str(&format!(
                "{},{:.6},{},{},{},{:.3},{reason}\n",
                e.epoch,
                e.loss,
                opt(e.accuracy),
                opt(e.val_loss),
                opt(e.val_accuracy),
                e.seconds
            ));
        }
        out
    }
}

/// A CSV field in double quotes, with inner quotes doubled (RFC 4180).
fn csv_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(epoch: usize) -> EpochLogs {
        EpochLogs {
            epoch,
            loss: 0.5,
            accuracy: Some(0.75),
            val_loss: None,
            val_accuracy: None,
            seconds: 1.25,
        }
    }

    #[test]
    fn csv_puts_the_stop_reason_on_the_last_row_quoted() {
        let mut history = History {
            epochs: vec![logs(1), logs(2)],
            stop_reason: None,
        };
        let header = "epoch,loss,accuracy,val_loss,val_accuracy,seconds,stop_reason";
        let row = |epoch: usize| format!("{epoch},0.500000,0.750000,,,1.250,");
        assert_eq!(
            history.to_csv(),
            format!("{header}\n{}\n{}\n", row(1), row(2))
        );
        history.stop_reason = Some("diverged: loss 1e30, \"x\" > 1e6".into());
        assert_eq!(
            history.to_csv(),
            format!(
                "{header}\n{}\n{}\"diverged: loss 1e30, \"\"x\"\" > 1e6\"\n",
                row(1),
                row(2)
            )
        );
    }
}
