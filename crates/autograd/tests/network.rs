//! The chapter's whole network, checked end to end: every parameter of every layer against
//! central differences of the loss.
//!
//! Conv2D(32, 3, same) -> relu -> MaxPool(2) -> Conv2D(64, 3, same) -> relu -> MaxPool(2) ->
//! Flatten -> Dense(100) -> relu -> Dropout (a fixed mask) -> Dense(10) -> cross-entropy,
//! on a batch of two 8x8 images (the layers are the chapter's; only the image is smaller).

use convlab_autograd::gradcheck::{gradcheck, uniform, GradcheckOptions};
use convlab_autograd::{dropout_mask, Tape, Var};
use convlab_tensor::{ConvAlgorithm, Padding, Tensor};

fn random(shape: &[usize], seed: u64, scale: f32) -> Tensor {
    let values = uniform(shape.iter().product(), seed);
    Tensor::new(shape, values.into_iter().map(|v| v * scale).collect()).unwrap()
}

/// Glorot-uniform-sized weights (limit sqrt(6 / (fan_in + fan_out))) and small nonzero biases.
fn parameters() -> Vec<Tensor> {
    let glorot = |shape: &[usize], fan_in: usize, fan_out: usize, seed| {
        random(shape, seed, (6.0 / (fan_in + fan_out) as f32).sqrt())
    };
    vec![
        glorot(&[3, 3, 1, 32], 9, 288, 1),
        random(&[32], 2, 0.1),
        glorot(&[3, 3, 32, 64], 288, 576, 3),
        random(&[64], 4, 0.1),
        glorot(&[2 * 2 * 64, 100], 256, 100, 5),
        random(&[100], 6, 0.1),
        glorot(&[100, 10], 100, 10, 7),
        random(&[10], 8, 0.1),
    ]
}

fn network(tape: &mut Tape, x: &Tensor, p: &[Var], algorithm: ConvAlgorithm) -> Var {
    let labels = [3usize, 7];
    let mut seed = 0u32;
    let mask = dropout_mask(&[2, 100], 0.4, || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as f32 / (1u32 << 24) as f32
    });
    let x = tape.constant(x.clone());
    let same = Padding::Same;
    let h = tape.conv2d(&x, &p[0], Some(&p[1]), (1, 1), same, algorithm);
    let h = tape.relu(&h);
    let h = tape.max_pool2d(&h, (2, 2), (2, 2), Padding::Valid);
    let h = tape.conv2d(&h, &p[2], Some(&p[3]), (1, 1), same, algorithm);
    let h = tape.relu(&h);
    let h = tape.max_pool2d(&h, (2, 2), (2, 2), Padding::Valid);
    let h = tape.flatten(&h);
    let h = tape.matmul(&h, &p[4]);
    let h = tape.add_bias(&h, &p[5]);
    let h = tape.relu(&h);
    let h = tape.dropout(&h, mask);
    let h = tape.matmul(&h, &p[6]);
    let logits = tape.add_bias(&h, &p[7]);
    tape.sparse_categorical_crossentropy(&logits, &labels)
        .unwrap()
}

#[test]
fn every_parameter_of_the_chapter_network() {
    let x = random(&[2, 8, 8, 1], 42, 1.0);
    for algorithm in [ConvAlgorithm::Im2col, ConvAlgorithm::Direct] {
        // Step 2e-3: small enough that few ReLU/max-pool kinks are crossed, large enough that
        // f32 rounding of the loss stays ~1e-4 of the gradient. Judged by norm (see
        // GradcheckOptions::norm_tolerance); measured here: 2e-4 .. 3e-2 per parameter.
        let opts = GradcheckOptions {
            step: 2e-3,
            atol: 1e-4,
            rtol: 1e-2,
            seed: 9,
            norm_tolerance: Some(6e-2),
        };
        let report = gradcheck(
            |tape, p| network(tape, &x, p, algorithm),
            &parameters(),
            opts,
        );
        println!("{algorithm:?}\n{report}");
        assert!(report.passed(), "{algorithm:?}\n{report}");
    }
}
