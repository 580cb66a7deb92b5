//! Callbacks driven by scripted metric sequences, as Keras tests them: no training needed.
//! Each epoch the tiny model's single weight is set to the epoch number, so "which weights were
//! restored" is a number we can read back.

use convlab_nn::callbacks::{Callback, Control, TrainInfo};
use convlab_nn::prelude::*;
use convlab_nn::{EpochLogs, History, TrainError};

fn tiny_model() -> Sequential {
    let mut model = Sequential::new(&[1]);
    model.add(Dense::new(1).use_bias(false)).unwrap();
    model
}

fn info(has_validation: bool) -> TrainInfo {
    TrainInfo {
        initial_epoch: 0,
        epochs: 100,
        steps_per_epoch: 1,
        has_validation,
        has_accuracy: true,
    }
}

fn logs(epoch: usize, val_loss: f32) -> EpochLogs {
    EpochLogs {
        epoch,
        loss: val_loss,
        accuracy: Some(0.5),
        val_loss: Some(val_loss),
        val_accuracy: Some(1.0 - val_loss),
        seconds: 0.0,
    }
}

/// Runs `cb` over the scripted val_loss values; returns the epoch it stopped at (if any) and
/// the weight the model holds after `on_train_end`.
fn script(cb: &mut dyn Callback, val_losses: &[f32]) -> (Option<usize>, f32) {
    let mut model = tiny_model();
    cb.on_train_begin(&info(true)).unwrap();
    let mut stopped = None;
    for (i, &v) in val_losses.iter().enumerate() {
        let epoch = i + 1;
        model
            .set_weights(vec![Tensor::full(&[1, 1], epoch as f32)])
            .unwrap();
        if let Control::Stop { .. } = cb.on_epoch_end(&logs(epoch, v), &model).unwrap() {
            stopped = Some(epoch);
            break;
        }
    }
    cb.on_train_end(&mut model, &History::default()).unwrap();
    (stopped, model.weights()[0].data()[0])
}

#[test]
fn early_stopping_counts_patience_and_restores_the_best() {
    // Best at epoch 3 (0.5); epochs 4 and 5 do not improve; patience 2 stops at epoch 5.
    let mut es = EarlyStopping::new(Monitor::ValLoss)
        .patience(2)
        .restore_best_weights(true);
    assert_eq!(
        script(&mut es, &[0.9, 0.7, 0.5, 0.6, 0.55, 0.1]),
        (Some(5), 3.0)
    );
}

#[test]
fn early_stopping_restores_even_when_epochs_run_out() {
    let mut es = EarlyStopping::new(Monitor::ValLoss)
        .patience(5)
        .restore_best_weights(true);
    assert_eq!(script(&mut es, &[0.9, 0.4, 0.6, 0.7]), (None, 2.0));
}

#[test]
fn without_restore_the_last_weights_stay() {
    let mut es = EarlyStopping::new(Monitor::ValLoss).patience(1);
    assert_eq!(script(&mut es, &[0.9, 0.4, 0.6, 0.7]), (Some(3), 3.0));
}

#[test]
fn min_delta_ignores_tiny_improvements() {
    // 0.495 beats 0.5 by less than min_delta 0.01: not an improvement.
    let mut es = EarlyStopping::new(Monitor::ValLoss)
        .patience(2)
        .min_delta(0.01)
        .restore_best_weights(true);
    assert_eq!(script(&mut es, &[0.5, 0.495, 0.494, 0.2]), (Some(3), 1.0));
}

#[test]
fn nan_is_never_best() {
    let mut es = EarlyStopping::new(Monitor::ValLoss)
        .patience(2)
        .restore_best_weights(true);
    assert_eq!(
        script(&mut es, &[f32::NAN, 0.8, f32::NAN, f32::NAN]),
        (Some(4), 2.0)
    );
    assert_eq!(es.best(), Some((2, 0.8)));
}

#[test]
fn patience_zero_stops_at_the_first_non_improvement() {
    let mut es = EarlyStopping::new(Monitor::ValLoss);
    assert_eq!(script(&mut es, &[0.5, 0.4, 0.45]), (Some(3), 3.0));
}

#[test]
fn accuracy_is_maximised() {
    // val_accuracy = 1 - val_loss in the script: best is the lowest loss, epoch 2.
    let mut es = EarlyStopping::new(Monitor::ValAccuracy)
        .patience(1)
        .restore_best_weights(true);
    assert_eq!(script(&mut es, &[0.5, 0.3, 0.4, 0.2]), (Some(3), 2.0));
}

#[test]
fn monitoring_a_metric_that_will_not_exist_is_an_error_at_the_start() {
    let mut es = EarlyStopping::new(Monitor::ValLoss);
    let err = es.on_train_begin(&info(false)).unwrap_err();
    assert!(matches!(err, TrainError::MissingMetric { .. }));
    assert_eq!(
        err.to_string(),
        "EarlyStopping monitors val_loss, which will not exist: there is no validation data"
    );
    let mut mc = ModelCheckpoint::new("unused.safetensors").save_best_only(true);
    assert!(mc.on_train_begin(&info(false)).is_err());
}

#[test]
fn model_checkpoint_saves_only_improvements() {
    let dir = std::env::temp_dir().join(format!("convlab-mc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("best.safetensors");
    let mut mc = ModelCheckpoint::new(&path).save_best_only(true);
    script(&mut mc, &[0.9, 0.7, 0.8, f32::NAN, 0.6, 0.65]);
    assert_eq!(mc.saved_epochs, vec![1, 2, 5]);
    // The file holds epoch 5's weights.
    let saved = convlab_nn::checkpoint::load_model(&path).unwrap();
    assert_eq!(saved.weights()[0].data(), &[5.0]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn terminate_on_nan_stops_before_the_update() {
    let mut t = TerminateOnNaN;
    assert_eq!(t.before_update(0.5, true), Control::Continue);
    assert!(matches!(
        t.before_update(f32::NAN, true),
        Control::Stop { .. }
    ));
    assert!(matches!(
        t.before_update(f32::INFINITY, true),
        Control::Stop { .. }
    ));
    assert!(matches!(t.before_update(0.5, false), Control::Stop { .. }));
}
