//! Training end to end on small synthetic problems: losses fall, accuracy rises, runs repeat
//! bit for bit, and divergence stops cleanly.

use convlab_nn::prelude::*;
use convlab_nn::{Rng, TrainError};

/// Two classes of 6x6 images: a bright vertical bar (class 0) or horizontal bar (class 1) at a
/// random place, plus noise.
fn bars(n: usize, seed: u64) -> InMemory {
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n * 36);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let class = rng.below(2);
        let at = rng.below(6);
        for r in 0..6 {
            for c in 0..6 {
                let on = if class == 0 { c == at } else { r == at };
                x.push(if on { 1.0 } else { 0.0 } + 0.1 * rng.uniform());
            }
        }
        labels.push(class);
    }
    InMemory {
        x: Tensor::new(&[n, 6, 6, 1], x).unwrap(),
        y: Targets::Sparse(labels),
    }
}

fn small_cnn(seed: u64, algorithm: ConvAlgorithm) -> Sequential {
    let mut model = Sequential::new(&[6, 6, 1]).seed(seed);
    model
        .add(
            Conv2D::new(4, 3)
                .padding(Padding::Same)
                .activation(Activation::Relu)
                .algorithm(algorithm),
        )
        .unwrap();
    model.add(MaxPooling2D::new(2)).unwrap();
    model.add(Flatten::new()).unwrap();
    model
        .add(Dense::new(8).activation(Activation::Relu))
        .unwrap();
    model.add(Dropout::new(0.2)).unwrap();
    model
        .add(Dense::new(2).activation(Activation::Softmax))
        .unwrap();
    model.compile(
        Optimizer::Adam(Adam::new(0.01)),
        Loss::SparseCategoricalCrossentropy,
    );
    model
}

#[test]
fn a_small_cnn_learns_bars() {
    for algorithm in [ConvAlgorithm::Im2col, ConvAlgorithm::Direct] {
        let (train, val) = (bars(256, 1), bars(128, 2));
        let mut model = small_cnn(3, algorithm);
        let opts = FitOptions {
            epochs: 8,
            batch_size: 16,
            seed: 4,
            ..FitOptions::default()
        };
        let history = model.fit(&train, Some(&val), &opts, &mut []).unwrap();
        let first = &history.epochs[0];
        let last = history.epochs.last().unwrap();
        assert!(last.loss < first.loss * 0.5, "{history:?}");
        assert!(last.val_accuracy.unwrap() >= 0.95, "{history:?}");
        let eval = model.evaluate(&val, 32).unwrap();
        assert_eq!(Some(eval.loss), last.val_loss);
    }
}

#[test]
fn the_same_seed_gives_bit_identical_runs() {
    let run = || {
        let mut model = small_cnn(5, ConvAlgorithm::Im2col);
        let opts = FitOptions {
            epochs: 2,
            batch_size: 10,
            seed: 6,
            ..FitOptions::default()
        };
        let history = model.fit(&bars(100, 7), None, &opts, &mut []).unwrap();
        (
            history,
            model.weights().into_iter().cloned().collect::<Vec<_>>(),
        )
    };
    let (h1, w1) = run();
    let (h2, w2) = run();
    assert_eq!(w1, w2);
    let losses = |h: &convlab_nn::History| h.epochs.iter().map(|e| e.loss).collect::<Vec<_>>();
    assert_eq!(losses(&h1), losses(&h2));
}

#[test]
fn other_losses_and_optimizers_train() {
    // A linear regression y = 2a - b through MSE, by each optimizer.
    let mut rng = Rng::new(9);
    let x: Vec<f32> = (0..200).map(|_| rng.uniform_range(-1.0, 1.0)).collect();
    let y: Vec<f32> = x.chunks(2).map(|p| 2.0 * p[0] - p[1]).collect();
    let data = InMemory {
        x: Tensor::new(&[100, 2], x).unwrap(),
        y: Targets::Dense(Tensor::new(&[100, 1], y).unwrap()),
    };
    for optimizer in [
        Optimizer::Adam(Adam::new(0.05)),
        Optimizer::Sgd(Sgd::new(0.1).momentum(0.9)),
        Optimizer::Sgd(Sgd::new(0.1).momentum(0.9).nesterov(true)),
        Optimizer::RmsProp(RmsProp::new(0.01)),
    ] {
        let mut model = Sequential::new(&[2]).seed(1);
        model.add(Dense::new(1)).unwrap();
        model.compile(optimizer.clone(), Loss::MeanSquaredError);
        let opts = FitOptions {
            epochs: 30,
            batch_size: 10,
            ..FitOptions::default()
        };
        let history = model.fit(&data, None, &opts, &mut []).unwrap();
        let last = history.epochs.last().unwrap().loss;
        assert!(last < 1e-2, "{optimizer:?}: final loss {last}");
        assert!(history.epochs[0].accuracy.is_none());
    }
}

#[test]
fn divergence_stops_before_nan_reaches_the_weights() {
    let mut model = small_cnn(1, ConvAlgorithm::Im2col);
    model.compile(
        Optimizer::Adam(Adam::new(1e6)),
        Loss::SparseCategoricalCrossentropy,
    );
    let (mut nan, mut diverge) = (TerminateOnNaN, StopOnDivergence::default());
    let opts = FitOptions {
        epochs: 20,
        batch_size: 8,
        ..FitOptions::default()
    };
    let history = model
        .fit(
            &bars(64, 2),
            Some(&bars(16, 3)),
            &opts,
            &mut [&mut nan, &mut diverge],
        )
        .unwrap();
    let reason = history.stop_reason.expect("must stop");
    assert!(reason.contains("diverged"), "{reason}");
    assert_eq!(history.epochs.len(), 1, "stops in the first epoch");
    for w in model.weights() {
        assert!(
            w.data().iter().all(|v| v.is_finite()),
            "NaN reached the weights"
        );
    }
}

#[test]
fn bad_setups_are_errors() {
    let mut model = small_cnn(1, ConvAlgorithm::Im2col);
    let wrong = InMemory {
        x: Tensor::zeros(&[4, 5, 5, 1]),
        y: Targets::Sparse(vec![0; 4]),
    };
    let err = model
        .fit(&wrong, None, &FitOptions::default(), &mut [])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "training data has items of shape [5, 5, 1], but the model expects [6, 6, 1]"
    );
    let labels_out_of_range = InMemory {
        x: Tensor::zeros(&[2, 6, 6, 1]),
        y: Targets::Sparse(vec![0, 5]),
    };
    let err = model
        .fit(
            &labels_out_of_range,
            None,
            &FitOptions {
                shuffle: false,
                ..FitOptions::default()
            },
            &mut [],
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("label 5 at index 1 is out of range for 2 classes"),
        "{err}"
    );
    let mut uncompiled = Sequential::new(&[6, 6, 1]);
    uncompiled.add(Flatten::new()).unwrap();
    assert!(matches!(
        uncompiled.fit(&bars(4, 1), None, &FitOptions::default(), &mut []),
        Err(TrainError::NotCompiled)
    ));
}

#[test]
fn an_interrupted_and_resumed_run_is_bit_identical() {
    // One thread: the thread count fixes the order of parallel sums (see the README).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        let dir = std::env::temp_dir().join(format!("convlab-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (train, val) = (bars(120, 11), bars(40, 12));
        let callbacks = |name: &str| {
            (
                EarlyStopping::new(Monitor::ValLoss)
                    .patience(5)
                    .restore_best_weights(true),
                ModelCheckpoint::new(dir.join(name)).save_best_only(true),
            )
        };
        let opts = |epochs| FitOptions {
            epochs,
            batch_size: 16,
            seed: 3,
            ..FitOptions::default()
        };
        // Straight through: 5 epochs.
        let mut straight = small_cnn(8, ConvAlgorithm::Im2col);
        let (mut es, mut mc) = callbacks("a.safetensors");
        let h1 = straight
            .fit(&train, Some(&val), &opts(5), &mut [&mut es, &mut mc])
            .unwrap();

        // Interrupted after 2 epochs (a backup each epoch), then resumed from the backup alone.
        let backup = dir.join("backup.safetensors");
        let mut first = small_cnn(8, ConvAlgorithm::Im2col);
        let (mut es, mut mc) = callbacks("b.safetensors");
        let first_opts = FitOptions {
            backup: Some(backup.clone()),
            ..opts(2)
        };
        first
            .fit(&train, Some(&val), &first_opts, &mut [&mut es, &mut mc])
            .unwrap();
        let (mut resumed, state) = convlab_nn::load_backup(&backup).unwrap();
        assert_eq!(state.epochs_done, 2);
        resumed.compile(state.optimizer.clone(), Loss::SparseCategoricalCrossentropy);
        // Leaving out a callback whose state the backup kept (ModelCheckpoint's) is refused.
        let (mut es, _) = callbacks("b.safetensors");
        let short_opts = FitOptions {
            resume: Some(state.clone()),
            ..opts(5)
        };
        let err = resumed
            .clone()
            .fit(&train, Some(&val), &short_opts, &mut [&mut es])
            .unwrap_err();
        assert!(
            err.to_string().contains("a left-out one had state"),
            "{err}"
        );
        let (mut es, mut mc) = callbacks("b.safetensors");
        let resume_opts = FitOptions {
            resume: Some(state),
            ..opts(5)
        };
        let h2 = resumed
            .fit(&train, Some(&val), &resume_opts, &mut [&mut es, &mut mc])
            .unwrap();

        assert_eq!(resumed.weights(), straight.weights());
        let strip = |h: &convlab_nn::History| {
            h.epochs
                .iter()
                .map(|e| (e.epoch, e.loss, e.accuracy, e.val_loss, e.val_accuracy))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&h2), strip(&h1));
        assert_eq!(h2.stop_reason, h1.stop_reason);
        let a = convlab_nn::load_model(&dir.join("a.safetensors")).unwrap();
        let b = convlab_nn::load_model(&dir.join("b.safetensors")).unwrap();
        assert_eq!(a.weights(), b.weights());
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

#[test]
fn the_chapter_model_trains_to_the_same_bits_on_one_two_or_three_threads() {
    // Batch 16 takes every parallel path whose order of summation could depend on threads: conv
    // blocks (im2col for conv1, Winograd for conv2 under Auto) and the dense layer's GEMM, whose
    // 16 rows are too few to split, so its K = 3,136 is split instead.
    let mut rng = Rng::new(4);
    let x: Vec<f32> = (0..64 * 784).map(|_| rng.uniform()).collect();
    let labels: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let data = InMemory {
        x: Tensor::new(&[64, 28, 28, 1], x).unwrap(),
        y: Targets::Sparse(labels),
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut model = convlab_nn::chapter_model(3, ConvAlgorithm::Auto);
            model.compile(
                Optimizer::Adam(Adam::default()),
                Loss::SparseCategoricalCrossentropy,
            );
            let opts = FitOptions {
                epochs: 1,
                batch_size: 16,
                seed: 5,
                ..FitOptions::default()
            };
            model.fit(&data, None, &opts, &mut []).unwrap();
            model.weights().into_iter().cloned().collect::<Vec<_>>()
        })
    };
    let one = run(1);
    assert_eq!(one, run(2), "2 threads");
    assert_eq!(one, run(3), "3 threads");
}

#[test]
fn a_profiled_fit_trains_the_same_and_accounts_for_every_layer() {
    let (train, val) = (bars(100, 1), bars(40, 2));
    let opts = FitOptions {
        epochs: 2,
        batch_size: 16,
        seed: 4,
        ..FitOptions::default()
    };
    let mut plain = small_cnn(5, ConvAlgorithm::Im2col);
    let history = plain.fit(&train, Some(&val), &opts, &mut []).unwrap();
    let mut timed = small_cnn(5, ConvAlgorithm::Im2col);
    let (timed_history, profile) = timed
        .fit_profiled(&train, Some(&val), &opts, &mut [])
        .unwrap();
    // The same computation: the same losses and weights, bit for bit.
    let strip = |h: &convlab_nn::History| -> Vec<(f32, Option<f32>)> {
        h.epochs.iter().map(|e| (e.loss, e.val_loss)).collect()
    };
    assert_eq!(strip(&history), strip(&timed_history));
    assert_eq!(plain.weights(), timed.weights());
    // 2 epochs of 7 steps (100 images at 16: the last batch has 4).
    assert_eq!(profile.steps, 14);
    // Conv2D ran fused with its pooling (one row for layers 0 and 1), then every other layer.
    let rows: Vec<(usize, usize)> = profile.layers.iter().map(|l| (l.first, l.count)).collect();
    assert_eq!(rows, [(0, 2), (2, 1), (3, 1), (4, 1), (5, 1)]);
    for layer in &profile.layers {
        assert!(layer.forward > std::time::Duration::ZERO, "{layer:?}");
    }
    // Every layer with weights has a backward that computes something (and so do Dropout's
    // mask and Flatten's reshape).
    for &k in &[0, 2, 4] {
        assert!(
            profile.layers[k].backward > std::time::Duration::ZERO,
            "{profile:?}"
        );
    }
    assert!(profile.optimizer > std::time::Duration::ZERO);
    assert!(profile.accounted() <= profile.total && profile.validation > std::time::Duration::ZERO);
}
