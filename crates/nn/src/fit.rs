//! Training and evaluation: `compile`, `fit`, `evaluate`, as Keras's.
//!
//! One training step: take a batch, run the model forward on a recording tape (dropout on),
//! compute the loss (fused with the final softmax), walk the tape backwards, let the callbacks
//! look at the loss and gradients, then let the optimizer update the weights.
//!
//! Reproducibility: the shuffle of epoch e comes from `Rng::derive(seed, [e])` and its dropout
//! masks from `Rng::derive(seed, [e, 1])`, so a run is fixed by its seed (and the thread count,
//! which fixes the order of parallel sums), and resuming at epoch e needs no generator state.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use convlab_autograd::{Gradients, ParamId, Tape, Var};
use convlab_tensor::busy_wait::BusyWait;
use convlab_tensor::Tensor;

use crate::callbacks::{BatchLogs, Callback, Control, TrainInfo};
use crate::dataset::Dataset;
use crate::history::{EpochLogs, History};
use crate::layers::ForwardMode;
use crate::loss::{correct_count, Loss};
use crate::optimizers::Optimizer;
use crate::profile::StepProfile;
use crate::resume::{save_backup, ResumeState};
use crate::rng::Rng;
use crate::{Sequential, TrainError};

/// How `fit` runs; Keras's defaults.
#[derive(Clone, Debug)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub shuffle: bool,
    pub seed: u64,
    /// The epoch to start at (0-based), when continuing a run.
    pub initial_epoch: usize,
    /// Save a backup here after every epoch, to resume from (see resume.rs).
    pub backup: Option<PathBuf>,
    /// Stored in the backup as it is (the CLI keeps its settings there).
    pub backup_extra: serde_json::Value,
    /// Continue a run from a backup (`load_backup`) instead of starting at `initial_epoch`.
    pub resume: Option<ResumeState>,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            initial_epoch: 0,
            backup: None,
            backup_extra: serde_json::Value::Null,
            resume: None,
        }
    }
}

/// The optimizer and loss set by `compile`.
#[derive(Clone, Debug)]
pub struct TrainSetup {
    pub optimizer: Optimizer,
    pub loss: Loss,
}

/// Loss and accuracy over a dataset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    pub loss: f32,
    pub accuracy: Option<f32>,
}

impl Sequential {
    /// Sets the optimizer and loss for `fit` and `evaluate` (accuracy is reported whenever the
    /// loss is a classification loss).
    pub fn compile(&mut self, optimizer: Optimizer, loss: Loss) {
        self.training = Some(TrainSetup { optimizer, loss });
    }

    pub fn train_setup(&self) -> Option<&TrainSetup> {
        self.training.as_ref()
    }

    pub fn train_setup_mut(&mut self) -> Option<&mut TrainSetup> {
        self.training.as_mut()
    }

    fn check_data(&self, data: &dyn Dataset, what: &'static str) -> Result<(), TrainError> {
        if data.is_empty() {
            return Err(TrainError::EmptyData(what));
        }
        if data.item_shape() != self.input_shape() {
            return Err(TrainError::DataShape {
                what,
                expected: self.input_shape().to_vec(),
                got: data.item_shape(),
            });
        }
        Ok(())
    }

    /// Trains the model; returns the history of every epoch run.
    pub fn fit(
        &mut self,
        train: &dyn Dataset,
        validation: Option<&dyn Dataset>,
        opts: &FitOptions,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<History, TrainError> {
        self.fit_timing(train, validation, opts, callbacks, None)
    }

    /// [`Self::fit`], also timing every part of every training step (profile.rs): each layer's
    /// forward and backward, the loss, the data, the optimizer and the rest. The same
    /// computation, so the same history.
    pub fn fit_profiled(
        &mut self,
        train: &dyn Dataset,
        validation: Option<&dyn Dataset>,
        opts: &FitOptions,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<(History, StepProfile), TrainError> {
        let mut profile = StepProfile::default();
        let history = self.fit_timing(train, validation, opts, callbacks, Some(&mut profile))?;
        Ok((history, profile))
    }

    fn fit_timing(
        &mut self,
        train: &dyn Dataset,
        validation: Option<&dyn Dataset>,
        opts: &FitOptions,
        callbacks: &mut [&mut dyn Callback],
        mut profile: Option<&mut StepProfile>,
    ) -> Result<History, TrainError> {
        let loss_kind = self.training.as_ref().ok_or(TrainError::NotCompiled)?.loss;
        if self.layers().is_empty() {
            return Err(crate::ModelError::Empty.into());
        }
        if opts.batch_size == 0 {
            return Err(TrainError::BatchSize);
        }
        self.check_data(train, "training data")?;
        if let Some(v) = validation {
            self.check_data(v, "validation data")?;
        }
        let n = train.len();
        let steps = n.div_ceil(opts.batch_size);
        let mut history = History::default();
        let mut first_epoch = opts.initial_epoch;
        if let Some(resume) = &opts.resume {
            // States are matched to callbacks by position. A callback beyond the backup's list
            // (say, a TensorBoard writer added on resume) starts fresh; one the backup has
            // beyond this run's list may be left out only if it saved no state.
            let dropped = resume.callbacks.iter().skip(callbacks.len());
            if dropped.clone().any(Option::is_some) {
                return Err(TrainError::Resume(format!(
                    "the backup was made with {} callbacks, this run has {}, and a left-out one had state",
                    resume.callbacks.len(),
                    callbacks.len()
                )));
            }
            self.training.as_mut().expect("checked above").optimizer = resume.optimizer.clone();
            history = resume.history.clone();
            first_epoch = resume.epochs_done;
        }
        let info = TrainInfo {
            initial_epoch: first_epoch,
            epochs: opts.epochs,
            steps_per_epoch: steps,
            has_validation: validation.is_some(),
            has_accuracy: loss_kind.has_accuracy(),
        };
        for cb in callbacks.iter_mut() {
            cb.on_train_begin(&info)?;
        }
        // After on_train_begin, which resets a callback for a new run.
        if let Some(resume) = &opts.resume {
            for (cb, state) in callbacks.iter_mut().zip(&resume.callbacks) {
                if let Some(state) = state {
                    cb.load_state(state)?;
                }
            }
        }

        // A resumed run that had already stopped (early stopping, divergence) trains no more.
        let first_epoch = if history.stop_reason.is_some() {
            opts.epochs
        } else {
            first_epoch
        };
        // Between kernels the other pool threads spin instead of falling asleep (see `BusyWait`
        // and the README's Performance section), until the last epoch is done.
        let busy_wait = BusyWait::start();
        for epoch in first_epoch..opts.epochs {
            let started = Instant::now();
            let mut order: Vec<usize> = (0..n).collect();
            if opts.shuffle {
                Rng::derive(opts.seed, &[epoch as u64]).shuffle(&mut order);
            }
            let mut dropout_rng = Rng::derive(opts.seed, &[epoch as u64, 1]);
            let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
            let mut stop: Option<String> = None;

            for (step, batch) in order.chunks(opts.batch_size).enumerate() {
                // Clocks read only when profiling (profile.rs).
                let step_started = profile.is_some().then(Instant::now);
                let mut tape = Tape::new();
                let mut spans = Vec::new();
                let mut mode = ForwardMode {
                    training: true,
                    rng: &mut dropout_rng,
                    spans: profile.is_some().then_some(&mut spans),
                };
                let mut times = BatchTimes::default();
                let (loss, batch_correct, _) = self.batch_loss_timed(
                    &mut tape,
                    train,
                    batch,
                    loss_kind,
                    &mut mode,
                    profile.is_some().then_some(&mut times),
                )?;
                let grads = match profile.as_deref_mut() {
                    Some(profile) => {
                        let (grads, node_times) = tape.backward_timed(&loss)?;
                        profile.add_layers(&spans, &node_times);
                        profile.data += times.data;
                        profile.loss_forward += times.loss;
                        grads
                    }
                    None => tape.backward(&loss)?,
                };
                let loss_value = loss.value().item();

                let grads = self.weight_grads(&grads);
                let finite = grads.iter().all(|g| all_finite(g.data()));

                loss_sum += loss_value as f64 * batch.len() as f64;
                seen += batch.len();
                correct += batch_correct;
                for cb in callbacks.iter_mut() {
                    if let Control::Stop { reason } = cb.before_update(loss_value, finite) {
                        stop.get_or_insert(reason);
                    }
                }
                if stop.is_some() {
                    break; // the optimizer never sees this batch
                }
                // The tape's saved tensors share storage with the weights: drop it first, or
                // every in-place update below would copy each weight (copy on write).
                drop(tape);
                let (mut weights, setup) = self.weights_and_setup_mut();
                let grad_refs: Vec<&Tensor> = grads.iter().collect();
                let optimizer_started = profile.is_some().then(Instant::now);
                setup
                    .expect("checked above")
                    .optimizer
                    .step(&mut weights, &grad_refs);
                let optimizer_time = optimizer_started.map(|t| t.elapsed());

                let logs = BatchLogs {
                    epoch: epoch + 1,
                    step: step + 1,
                    steps,
                    loss: (loss_sum / seen as f64) as f32,
                    accuracy: loss_kind
                        .has_accuracy()
                        .then(|| correct as f32 / seen as f32),
                };
                for cb in callbacks.iter_mut() {
                    cb.on_batch_end(&logs);
                }
                if let (Some(profile), Some(step_started), Some(optimizer_time)) =
                    (profile.as_deref_mut(), step_started, optimizer_time)
                {
                    profile.optimizer += optimizer_time;
                    profile.total += step_started.elapsed();
                    profile.steps += 1;
                }
            }

            // A diverged epoch is not validated: its weights are the last good ones, and its
            // metrics are the NaN that stopped it.
            let val_started = Instant::now();
            let val = match (validation, &stop) {
                (Some(v), None) => Some(self.evaluate(v, opts.batch_size)?),
                _ => None,
            };
            if let Some(profile) = profile.as_deref_mut() {
                profile.validation += val_started.elapsed();
            }
            let logs = EpochLogs {
                epoch: epoch + 1,
                loss: (loss_sum / seen.max(1) as f64) as f32,
                accuracy: loss_kind
                    .has_accuracy()
                    .then(|| correct as f32 / seen.max(1) as f32),
                val_loss: val.map(|v| v.loss),
                val_accuracy: val.and_then(|v| v.accuracy),
                seconds: started.elapsed().as_secs_f64(),
            };
            history.epochs.push(logs.clone());
            for cb in callbacks.iter_mut() {
                if let Control::Stop { reason } = cb.on_epoch_end(&logs, self)? {
                    stop.get_or_insert(reason);
                }
            }
            history.stop_reason = stop;
            if let Some(path) = &opts.backup {
                let optimizer = &self.training.as_ref().expect("checked above").optimizer;
                save_backup(
                    path,
                    self,
                    optimizer,
                    epoch + 1,
                    &history,
                    callbacks,
                    &opts.backup_extra,
                )?;
            }
            if history.stop_reason.is_some() {
                break;
            }
        }
        drop(busy_wait);
        for cb in callbacks.iter_mut() {
            cb.on_train_end(self, &history)?;
        }
        Ok(history)
    }

    /// One batch through the model on `tape` and its loss (fused with a final softmax), with how
    /// many of its rows were classified right: the part training and evaluation share.
    fn batch_loss(
        &self,
        tape: &mut Tape,
        data: &dyn Dataset,
        batch: &[usize],
        loss_kind: Loss,
        mode: &mut ForwardMode,
    ) -> Result<(Var, usize, Var), TrainError> {
        self.batch_loss_timed(tape, data, batch, loss_kind, mode, None)
    }

    /// [`Self::batch_loss`], timing the data and the loss into `times` if given.
    fn batch_loss_timed(
        &self,
        tape: &mut Tape,
        data: &dyn Dataset,
        batch: &[usize],
        loss_kind: Loss,
        mode: &mut ForwardMode,
        times: Option<&mut BatchTimes>,
    ) -> Result<(Var, usize, Var), TrainError> {
        let clock = || times.is_some().then(Instant::now);
        let data_started = clock();
        let input = tape.constant(data.inputs(batch));
        let y = data.targets(batch);
        let data_time = data_started.map(|t| t.elapsed());
        let last = self.layers().len() - 1;
        let out = self.forward_to(tape, &input, last, mode, loss_kind.fuses_softmax());
        let loss_started = clock();
        let loss = loss_kind.compute(tape, &out, &y)?;
        if let (Some(times), Some(data), Some(loss_started)) = (times, data_time, loss_started) {
            *times = BatchTimes {
                data,
                loss: loss_started.elapsed(),
            };
        }
        let correct = if loss_kind.has_accuracy() {
            correct_count(&out.output, &y)
        } else {
            0
        };
        Ok((loss, correct, out.output))
    }

    /// One training step's loss and every weight's gradient (in `weights()` order, zeros for a
    /// weight that did not affect the loss), without updating anything: what `fit` computes for
    /// a batch, with the same fused ops, and the dropout masks drawn from `rng`. The loss is the
    /// compiled one (sparse categorical cross-entropy if the model is not compiled).
    pub fn gradients(
        &self,
        x: &Tensor,
        labels: &[usize],
        rng: &mut Rng,
    ) -> Result<(f32, Vec<Tensor>), TrainError> {
        let loss_kind = self
            .training
            .as_ref()
            .map_or(Loss::SparseCategoricalCrossentropy, |t| t.loss);
        let data = crate::dataset::InMemory {
            x: x.clone(),
            y: crate::dataset::Targets::Sparse(labels.to_vec()),
        };
        self.check_data(&data, "the batch")?;
        let batch: Vec<usize> = (0..labels.len()).collect();
        let mut tape = Tape::new();
        let mut mode = ForwardMode {
            training: true,
            rng,
            spans: None,
        };
        let (loss, _, _) = self.batch_loss(&mut tape, &data, &batch, loss_kind, &mut mode)?;
        let grads = tape.backward(&loss)?;
        Ok((loss.value().item(), self.weight_grads(&grads)))
    }

    /// Every weight's gradient in `weights()` order (zeros if it did not affect the loss).
    fn weight_grads(&self, grads: &Gradients) -> Vec<Tensor> {
        self.weights()
            .iter()
            .enumerate()
            .map(|(i, w)| {
                grads
                    .param(ParamId(i))
                    .cloned()
                    .unwrap_or_else(|| Tensor::zeros(w.shape()))
            })
            .collect()
    }

    /// Mean loss and accuracy over `data`, in batches, with no graph recorded and dropout off.
    pub fn evaluate(
        &self,
        data: &dyn Dataset,
        batch_size: usize,
    ) -> Result<Evaluation, TrainError> {
        self.evaluate_each(data, batch_size, &mut |_, _| {})
    }

    /// [`Self::evaluate`], also handing `each` every batch's item indices and the model's
    /// outputs for them (N, outputs...): the probabilities after a final softmax. One pass
    /// gives the loss and, say, a confusion matrix.
    pub fn evaluate_each(
        &self,
        data: &dyn Dataset,
        batch_size: usize,
        each: &mut dyn FnMut(&[usize], &Tensor),
    ) -> Result<Evaluation, TrainError> {
        let loss_kind = self.training.as_ref().ok_or(TrainError::NotCompiled)?.loss;
        if self.layers().is_empty() {
            return Err(crate::ModelError::Empty.into());
        }
        if batch_size == 0 {
            return Err(TrainError::BatchSize);
        }
        self.check_data(data, "evaluation data")?;
        let _busy_wait = BusyWait::start(); // see `fit`
        let mut rng = Rng::new(0); // unused: no dropout in inference
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        let indices: Vec<usize> = (0..data.len()).collect();
        for batch in indices.chunks(batch_size) {
            let mut tape = Tape::no_grad();
            let mut mode = ForwardMode {
                training: false,
                rng: &mut rng,
                spans: None,
            };
            let (loss, batch_correct, output) =
                self.batch_loss(&mut tape, data, batch, loss_kind, &mut mode)?;
            each(batch, output.value());
            loss_sum += loss.value().item() as f64 * batch.len() as f64;
            correct += batch_correct;
        }
        let n = data.len() as f64;
        Ok(Evaluation {
            loss: (loss_sum / n) as f32,
            accuracy: loss_kind
                .has_accuracy()
                .then(|| (correct as f64 / n) as f32),
        })
    }
}

/// What `batch_loss_timed` measured of one batch.
#[derive(Default)]
struct BatchTimes {
    data: Duration,
    loss: Duration,
}

/// Whether every value is finite. The check runs over every gradient each step, so it looks at
/// 1024 values at a time without stopping early inside a chunk, a loop the compiler vectorises
/// (the plain short-circuiting `all` did not, and showed in the profile), and splits a large
/// gradient between the threads (a dense layer's 4M values took 0.3 ms on one).
fn all_finite(values: &[f32]) -> bool {
    use rayon::prelude::*;
    let chunk_ok = |chunk: &[f32]| chunk.iter().fold(true, |ok, v| ok & v.is_finite());
    if values.len() < 1 << 16 {
        return values.chunks(1024).all(chunk_ok);
    }
    values
        .par_chunks(1 << 14)
        .all(|part| part.chunks(1024).all(chunk_ok))
}

#[cfg(test)]
mod tests {
    use super::all_finite;

    #[test]
    fn all_finite_finds_a_nan_or_infinity_anywhere() {
        let mut values = vec![1.0f32; 3000];
        assert!(all_finite(&values));
        for at in [0, 1023, 1024, 2999] {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                values[at] = bad;
                assert!(!all_finite(&values), "{bad} at {at}");
                values[at] = f32::MAX;
            }
        }
        assert!(all_finite(&values) && all_finite(&[]));
    }
}
