//! Layer (c): whole networks, the f32 tape against the f64 reference network and that against
//! central differences, on the standard small networks and the chapter's model; and a planted
//! wrong gradient fails.

use convlab_nn::network_check::{network_checks, random_batch, small_networks};
use convlab_nn::reference_network::reference_step;
use convlab_nn::{chapter_model, ConvAlgorithm, Rng};
use convlab_tensor::reference::numerical::{compare, Tolerance};

#[test]
fn small_networks_pass_every_element() {
    for seed in 0..3 {
        for (name, model) in small_networks(seed) {
            let results = network_checks(
                &model,
                |k| random_batch(&model, 3, seed * 10 + k),
                seed,
                None,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(results.len(), 2 * model.weights().len());
            for r in &results {
                assert!(r.passed, "{name} seed {seed}: {r:?}");
                assert!(r.elements > 0, "{name}: {r:?}");
            }
        }
    }
}

#[test]
fn the_chapters_model_passes_with_sampled_central_differences() {
    let model = chapter_model(3, ConvAlgorithm::Auto);
    let results = network_checks(&model, |k| random_batch(&model, 2, 100 + k), 1, Some(6)).unwrap();
    for r in &results {
        assert!(r.passed, "{r:?}");
    }
}

/// The tape's gradient of one weight with an element moved by 1% of the tensor's scale fails
/// the comparison with the reference network.
#[test]
fn a_wrong_tape_gradient_fails_the_check() {
    let (_, model) = small_networks(1).remove(0);
    let (x, labels) = random_batch(&model, 3, 5);
    let weights: Vec<Vec<f64>> = model
        .weights()
        .into_iter()
        .map(|w| w.data().iter().map(|&v| v as f64).collect())
        .collect();
    let mut rng = Rng::new(9);
    let masks_rng = rng.clone();
    let (_, tape) = model.gradients(&x, &labels, &mut rng).unwrap();
    // The reference with the masks the tape drew (the same draws, in order).
    let mut draw = masks_rng;
    let masks: Vec<Vec<f64>> = model
        .layers()
        .iter()
        .filter_map(|e| match &e.layer {
            convlab_nn::Layer::Dropout(d) => {
                let mut shape = vec![3];
                shape.extend(&e.input_shape);
                let m = convlab_autograd::dropout_mask(&shape, d.rate, || draw.uniform());
                Some(m.data().iter().map(|&v| v as f64).collect())
            }
            _ => None,
        })
        .collect();
    let reference = reference_step(
        &model,
        &weights,
        &x.data().iter().map(|&v| v as f64).collect::<Vec<_>>(),
        &labels,
        &masks,
    )
    .unwrap();
    let tol = |want: &[f64]| Tolerance {
        eps: 0.0,
        atol: 1e-4 * want.iter().fold(0.0f64, |m, v| m.max(v.abs())),
        rtol: 1e-3,
    };
    let got: Vec<f64> = tape[2].data().iter().map(|&v| v as f64).collect();
    assert!(compare(&got, &reference.grads[2], tol(&reference.grads[2])).passed());
    let mut wrong = got.clone();
    let scale = reference.grads[2]
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    wrong[0] += 0.01 * scale;
    assert!(!compare(&wrong, &reference.grads[2], tol(&reference.grads[2])).passed());
}
