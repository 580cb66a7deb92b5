//! A model of your own, on data of your own: here a small CNN that learns to tell horizontal
//! stripes from vertical ones in noisy 12x12 images made up on the spot.
//!
//!     cargo run --release -p convlab-nn --example custom_model
//!
//! It shows the pieces a new model needs: inputs in a tensor (N, H, W, C) with labels
//! (`InMemory`), layers with their Keras options, a choice of optimizer, and the numbers
//! training gives back. The same network as a model file is a few lines of TOML (see
//! `models/README.md`), and `convlab gradcheck --model` checks its gradients.

use std::error::Error;

use convlab_nn::prelude::*;
use convlab_nn::Rng;

const SIDE: usize = 12;

/// `n` images: label 0 has bright rows every 3 pixels, label 1 bright columns, both with noise.
fn stripes(n: usize, seed: u64) -> InMemory {
    let mut rng = Rng::new(seed);
    let mut pixels = Vec::with_capacity(n * SIDE * SIDE);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = i % 2;
        let phase = (rng.uniform() * 3.0) as usize;
        for r in 0..SIDE {
            for c in 0..SIDE {
                let along = if label == 0 { r } else { c };
                let stripe = if (along + phase).is_multiple_of(3) {
                    0.8
                } else {
                    0.1
                };
                pixels.push(stripe + 0.2 * rng.uniform());
            }
        }
        labels.push(label);
    }
    InMemory {
        x: Tensor::new(&[n, SIDE, SIDE, 1], pixels).expect("n * 12 * 12 values"),
        y: Targets::Sparse(labels),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let train = stripes(512, 1);
    let test = stripes(128, 2);

    let mut model = Sequential::new(&[SIDE, SIDE, 1]).seed(7);
    model.add(
        Conv2D::new(8, 3)
            .activation(Activation::Relu)
            .kernel_initializer(Initializer::HeUniform),
    )?;
    model.add(AveragePooling2D::new(2))?;
    model.add(
        Conv2D::new(8, 3)
            .strides(2)
            .padding(Padding::Same)
            .activation(Activation::Relu)
            .use_bias(false),
    )?;
    model.add(Flatten::new())?;
    model.add(Dense::new(2).activation(Activation::Softmax))?;
    print!("{}", model.summary());

    model.compile(
        Optimizer::Sgd(Sgd::new(0.05)),
        Loss::SparseCategoricalCrossentropy,
    );
    let options = FitOptions {
        epochs: 5,
        batch_size: 16,
        seed: 3,
        ..FitOptions::default()
    };
    let history = model.fit(&train, Some(&test), &options, &mut [])?;
    for e in &history.epochs {
        println!(
            "epoch {}: loss {:.4} - val_accuracy {:.4}",
            e.epoch,
            e.loss,
            e.val_accuracy.unwrap_or(f32::NAN)
        );
    }
    let result = model.evaluate(&test, 64)?;
    let accuracy = result.accuracy.unwrap_or(0.0);
    println!("test accuracy {accuracy:.4}");
    if accuracy < 0.9 {
        return Err(format!("the stripes should be learnt (accuracy {accuracy:.4})").into());
    }
    Ok(())
}
