//! Training progress as Keras shows it: a bar per epoch with ETA, loss and accuracy on a terminal,
//! and one line per epoch either way:
//! `Epoch 3/20 - 14s - 9ms/step - loss: 0.2903 - accuracy: 0.8912 - val_loss: 0.2660 - val_accuracy: 0.9006`
//! When the output is not a terminal (CI logs, pipes) only the lines are printed.

use std::io::IsTerminal;

use convlab_nn::callbacks::{BatchLogs, Callback, Control, TrainInfo};
use convlab_nn::{EpochLogs, Sequential, TrainError};
use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    epochs: usize,
    steps: usize,
    bar: Option<ProgressBar>,
    interactive: bool,
}

impl Progress {
    pub fn new() -> Self {
        Progress {
            epochs: 0,
            steps: 0,
            bar: None,
            interactive: std::io::stderr().is_terminal(),
        }
    }
}

/// The epoch line Keras prints, from an epoch's logs.
pub fn epoch_line(logs: &EpochLogs, epochs: usize, steps: usize) -> String {
    let mut line = format!(
        "Epoch {}/{} - {:.0}s - {:.0}ms/step - loss: {:.4}",
        logs.epoch,
        epochs,
        logs.seconds,
        logs.seconds * 1000.0 / steps.max(1) as f64,
        logs.loss
    );
    if let Some(a) = logs.accuracy {
        line.push_str(&format!(" - accuracy: {a:.4}"));
    }
    if let Some(v) = logs.val_loss {
        line.push_str(&format!(" - val_loss: {v:.4}"));
    }
    if let Some(v) = logs.val_accuracy {
        line.push_str(&format!(" - val_accuracy: {v:.4}"));
    }
    line
}

impl Callback for Progress {
    fn on_train_begin(&mut self, info: &TrainInfo) -> Result<(), TrainError> {
        self.epochs = info.epochs;
        self.steps = info.steps_per_epoch;
        Ok(())
    }

    fn on_batch_end(&mut self, logs: &BatchLogs) {
        if !self.interactive {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(logs.steps as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} {pos:>5}/{len} [{bar:30}] ETA {eta:>3} - {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("Epoch {}/{}", logs.epoch, self.epochs));
            bar
        });
        bar.set_position(logs.step as u64);
        let mut msg = format!("loss: {:.4}", logs.loss);
        if let Some(a) = logs.accuracy {
            msg.push_str(&format!(" - accuracy: {a:.4}"));
        }
        bar.set_message(msg);
    }

    fn on_epoch_end(
        &mut self,
        logs: &EpochLogs,
        _model: &Sequential,
    ) -> Result<Control, TrainError> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        note!("{}", epoch_line(logs, self.epochs, self.steps));
        Ok(Control::Continue)
    }
}
