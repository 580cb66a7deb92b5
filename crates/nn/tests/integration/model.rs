//! Building models: the chapter's summary table, Keras names, shape checks, weights, and
//! intermediate outputs.

use convlab_nn::prelude::*;
use convlab_nn::{chapter_model, ModelError};
use convlab_tensor::Pool2dGeometry;

/// The table is the chapter's own `model.summary()` output (../shared/seed), with its layer
/// names renumbered as a fresh Keras session names them (the chapter's notebook had made one
/// Conv2D before, so it printed conv2d_1 and conv2d_2).
#[test]
fn summary_matches_the_chapter_golden_table() {
    let model = chapter_model(42, ConvAlgorithm::Im2col);
    let golden = include_str!("../fixtures/chapter_summary.txt");
    assert_eq!(model.summary(), golden);
    assert_eq!(model.count_params(), 333_526);
}

#[test]
fn per_layer_counts_names_and_shapes() {
    let model = chapter_model(42, ConvAlgorithm::Im2col);
    let got: Vec<(String, usize)> = model
        .layers()
        .iter()
        .map(|l| (l.name.clone(), l.count_params()))
        .collect();
    let want = [
        ("conv2d", 320),
        ("max_pooling2d", 0),
        ("conv2d_1", 18_496),
        ("max_pooling2d_1", 0),
        ("flatten", 0),
        ("dense", 313_700),
        ("dropout", 0),
        ("dense_1", 1_010),
    ];
    let want: Vec<(String, usize)> = want.iter().map(|(n, c)| (n.to_string(), *c)).collect();
    assert_eq!(got, want);
    let first = &model.layers()[0];
    assert_eq!(first.weight("kernel").unwrap().shape(), &[3, 3, 1, 32]);
    assert_eq!(first.weight("bias").unwrap().shape(), &[32]);
    assert!(first
        .weight("bias")
        .unwrap()
        .data()
        .iter()
        .all(|&b| b == 0.0));
    assert_eq!(model.weight_names()[0], "conv2d/kernel");
    assert_eq!(model.weight_names()[7], "dense_1/bias");
}

#[test]
fn untrained_first_kernel_has_glorot_statistics() {
    // The chapter's untrained layer: mean -0.003, std 0.080; Glorot uniform's std is 0.082.
    let model = chapter_model(42, ConvAlgorithm::Im2col);
    let k = model.layers()[0].weight("kernel").unwrap().data();
    let mean = k.iter().sum::<f32>() / k.len() as f32;
    let std = (k.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / k.len() as f32).sqrt();
    assert!(mean.abs() < 0.02, "mean {mean}");
    assert!((std - 0.082).abs() < 0.01, "std {std}");
}

#[test]
fn the_same_seed_gives_the_same_weights() {
    let a = chapter_model(7, ConvAlgorithm::Im2col);
    let b = chapter_model(7, ConvAlgorithm::Direct);
    let c = chapter_model(8, ConvAlgorithm::Im2col);
    assert_eq!(a.weights(), b.weights());
    assert_ne!(a.weights(), c.weights());
}

#[test]
fn layers_that_cannot_follow_say_why() {
    let mut model = Sequential::new(&[28, 28, 1]);
    let err = model.add(Dense::new(10)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dense expects a 1-d (features) input, but the previous layer outputs (None, 28, 28, 1); add Flatten() before it"
    );
    let mut model = Sequential::new(&[3, 3, 1]);
    let err = model.add(MaxPooling2D::new(4)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "MaxPooling2D cannot follow an output of (None, 3, 3, 1): pool2d: window 4 is larger than the input 3 along height with valid padding"
    );
    let err = model.add(Dropout::new(1.5)).unwrap_err();
    assert_eq!(err.to_string(), "Dropout: rate must be in [0, 1), got 1.5");
    assert!(matches!(
        model.add(Conv2D::new(0, 3)).unwrap_err(),
        ModelError::InvalidLayer { .. }
    ));
}

#[test]
fn intermediate_outputs_and_predict() {
    let model = chapter_model(1, ConvAlgorithm::Im2col);
    let x = Tensor::full(&[3, 28, 28, 1], 0.5);
    let maps = model.layer_output(&x, 0, 2).unwrap();
    assert_eq!(maps.shape(), &[3, 28, 28, 32]);
    // relu output: nothing negative.
    assert!(maps.data().iter().all(|&v| v >= 0.0));
    let probs = model.predict(&x, 2).unwrap();
    assert_eq!(probs.shape(), &[3, 10]);
    for row in probs.data().chunks(10) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    let err = model.layer_output(&x, 8, 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer index 8 is out of range: the model has 8 layers (0..8)"
    );
    let err = model.predict(&Tensor::zeros(&[1, 28, 28]), 2).unwrap_err();
    assert!(
        err.to_string().contains("expects (None, 28, 28, 1)"),
        "{err}"
    );
}

/// Conv2D(relu) and the MaxPooling2D after it run as one fused op when both are wanted; the
/// pooled output must be the pooling of the convolution's own output (which `layer_output` of the
/// Conv2D alone returns, unfused), for every algorithm.
#[test]
fn fused_conv_and_pool_give_the_pooled_convolution() {
    let mut rng = convlab_tensor::rng::Rng::new(5);
    let x = Tensor::from_vec(
        "x",
        &[5, 28, 28, 1],
        (0..5 * 784).map(|_| rng.uniform()).collect(),
    );
    for algorithm in [
        ConvAlgorithm::Im2col,
        ConvAlgorithm::Direct,
        ConvAlgorithm::Winograd,
    ] {
        let mut model = chapter_model(3, algorithm);
        // Biases start at zero: give them values, so a fused op that dropped one would show.
        for w in model.weights_mut() {
            if w.rank() == 1 {
                w.data_mut()
                    .iter_mut()
                    .for_each(|b| *b = rng.uniform() - 0.5);
            }
        }
        for (conv, pool) in [(0, 1), (2, 3)] {
            let maps = model.layer_output(&x, conv, 2).unwrap();
            let pooled = model.layer_output(&x, pool, 2).unwrap();
            let g = Pool2dGeometry::new(maps.shape(), (2, 2), (2, 2), Padding::Valid).unwrap();
            let want = convlab_tensor::pool2d::max_pool2d_forward(&g, &maps).y;
            assert_eq!(
                pooled.data(),
                want.data(),
                "{algorithm:?}, layers {conv} and {pool}"
            );
        }
    }
}

#[test]
fn architecture_round_trips_through_json_and_rejects_unknowns() {
    let model = chapter_model(3, ConvAlgorithm::Direct);
    let json = serde_json::to_string(&model.config()).unwrap();
    let config: convlab_nn::ModelConfig = serde_json::from_str(&json).unwrap();
    let rebuilt = Sequential::from_config(&config).unwrap();
    assert_eq!(rebuilt.summary(), model.summary());
    assert_eq!(rebuilt.weights(), model.weights());

    let unknown_type = json.replacen("\"Flatten\"", "\"Lambda\"", 1);
    assert!(serde_json::from_str::<convlab_nn::ModelConfig>(&unknown_type).is_err());
    let unknown_field = json.replacen("\"rate\":0.4", "\"rate\":0.4,\"code\":\"rm -rf\"", 1);
    assert_ne!(unknown_field, json);
    assert!(serde_json::from_str::<convlab_nn::ModelConfig>(&unknown_field).is_err());
}
