//! The chapter's Keras program (../shared/seed), step by step, as Rust on convlab's library.
//!
//!     cargo run --release -p convlab-nn --example chapter8            # 20 epochs, as the chapter
//!     cargo run --release -p convlab-nn --example chapter8 -- --epochs 1
//!
//! Each step names the Keras line it stands for. The data is the real Fashion-MNIST, found where
//! convlab-datasets looks (Debian's `dataset-fashion-mnist` package, `$CONVLAB_DATA`, the cache)
//! or downloaded and verified.

use std::error::Error;
use std::sync::Arc;

use convlab_datasets::{fashion_mnist, train_test_split};
use convlab_nn::load_model;
use convlab_nn::prelude::*;

fn main() -> Result<(), Box<dyn Error>> {
    let epochs = epochs_from_args()?;

    // (train_input, train_target), (test_input, test_target) =
    //     keras.datasets.fashion_mnist.load_data()
    let ((train_images, train_labels), (test_images, test_labels)) = fashion_mnist::load_data()?;
    println!(
        "train_input {:?}, test_input {:?}",
        train_images.shape(),
        test_images.shape()
    );

    // train_scaled = train_input.reshape(-1, 28, 28, 1) / 255.0
    // (the images stay bytes; each batch is scaled to [0, 1] when it is read)
    let item_shape = train_images.item_shape();
    let train_all = U8Images::new(
        "train_input",
        Arc::new(train_images.pixels),
        Arc::new(train_labels),
        &item_shape,
    )?;
    let test = U8Images::new(
        "test_input",
        Arc::new(test_images.pixels),
        Arc::new(test_labels),
        &item_shape,
    )?;

    // train_scaled, val_scaled, train_target, val_target = train_test_split(
    //     train_scaled, train_target, test_size=0.2, random_state=42)
    let split = train_test_split(train_all.len(), 0.2, 42)?;
    let train = train_all.subset(split.train);
    let val = train_all.subset(split.test);
    println!(
        "train {} images, validation {} images",
        train.len(),
        val.len()
    );

    // model = keras.Sequential()
    // model.add(keras.layers.Conv2D(32, kernel_size=3, activation='relu', padding='same',
    //                               input_shape=(28,28,1)))
    // model.add(keras.layers.MaxPooling2D(2))
    // model.add(keras.layers.Conv2D(64, kernel_size=(3,3), activation='relu', padding='same'))
    // model.add(keras.layers.MaxPooling2D(2))
    // model.add(keras.layers.Flatten())
    // model.add(keras.layers.Dense(100, activation='relu'))
    // model.add(keras.layers.Dropout(0.4))
    // model.add(keras.layers.Dense(10, activation='softmax'))
    let mut model = Sequential::new(&[28, 28, 1]).seed(42);
    model.add(
        Conv2D::new(32, 3)
            .activation(Activation::Relu)
            .padding(Padding::Same),
    )?;
    model.add(MaxPooling2D::new(2))?;
    model.add(
        Conv2D::new(64, (3, 3))
            .activation(Activation::Relu)
            .padding(Padding::Same),
    )?;
    model.add(MaxPooling2D::new(2))?;
    model.add(Flatten::new())?;
    model.add(Dense::new(100).activation(Activation::Relu))?;
    model.add(Dropout::new(0.4))?;
    model.add(Dense::new(10).activation(Activation::Softmax))?;

    // model.summary()
    print!("{}", model.summary());

    // model.compile(optimizer='adam', loss='sparse_categorical_crossentropy',
    //               metrics=['accuracy'])
    model.compile(
        Optimizer::Adam(Adam::default()),
        Loss::SparseCategoricalCrossentropy,
    );

    // checkpoint_cb = keras.callbacks.ModelCheckpoint('best-cnn-model.keras',
    //                                                 save_best_only=True)
    // early_stopping_cb = keras.callbacks.EarlyStopping(patience=2,
    //                                                   restore_best_weights=True)
    let checkpoint_path = std::env::temp_dir().join(format!(
        "convlab-chapter8-{}.safetensors",
        std::process::id()
    ));
    let mut checkpoint = ModelCheckpoint::new(&checkpoint_path).save_best_only(true);
    let mut early_stopping = EarlyStopping::new(Monitor::ValLoss)
        .patience(2)
        .restore_best_weights(true);

    // history = model.fit(train_scaled, train_target, epochs=20,
    //                     validation_data=(val_scaled, val_target),
    //                     callbacks=[checkpoint_cb, early_stopping_cb])
    let options = FitOptions {
        epochs,
        batch_size: 32,
        seed: 42,
        ..FitOptions::default()
    };
    let history = model.fit(
        &train,
        Some(&val),
        &options,
        &mut [&mut checkpoint, &mut early_stopping],
    )?;
    for e in &history.epochs {
        println!(
            "epoch {}: loss {:.4} - accuracy {:.4} - val_loss {:.4} - val_accuracy {:.4}",
            e.epoch,
            e.loss,
            e.accuracy.unwrap_or(f32::NAN),
            e.val_loss.unwrap_or(f32::NAN),
            e.val_accuracy.unwrap_or(f32::NAN)
        );
    }

    // model.evaluate(val_scaled, val_target)
    let on_val = model.evaluate(&val, 256)?;
    println!(
        "validation: loss {:.4} - accuracy {:.4}",
        on_val.loss,
        on_val.accuracy.unwrap_or(f32::NAN)
    );

    // model = keras.models.load_model('best-cnn-model.keras')
    let mut best = load_model(&checkpoint_path)?;
    best.compile(
        Optimizer::Adam(Adam::default()),
        Loss::SparseCategoricalCrossentropy,
    );
    // model.evaluate(test_scaled, test_target)
    let on_test = best.evaluate(&test, 256)?;
    println!(
        "test (the best checkpoint): loss {:.4} - accuracy {:.4}",
        on_test.loss,
        on_test.accuracy.unwrap_or(f32::NAN)
    );

    // conv = model.layers[0]
    // conv_weights = conv.weights[0].numpy()
    // print(conv_weights.mean(), conv_weights.std())
    let conv = &best.layers()[0];
    let kernel = conv
        .weight("kernel")
        .ok_or("the first layer has no kernel")?;
    let (mean, std) = mean_std(kernel.data());
    println!(
        "{} kernel {:?}: mean {mean:.4}, std {std:.4}",
        conv.name,
        kernel.shape()
    );
    std::fs::remove_file(&checkpoint_path)?;
    Ok(())
}

/// numpy's mean() and std() (population).
fn mean_std(values: &[f32]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

/// `--epochs N` (default 20, the chapter's).
fn epochs_from_args() -> Result<usize, Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(20),
        [flag, n] if flag == "--epochs" => {
            let n: usize = n
                .parse()
                .map_err(|_| format!("--epochs {n}: not a whole number"))?;
            if n == 0 {
                return Err("--epochs must be at least 1".into());
            }
            Ok(n)
        }
        _ => Err("usage: chapter8 [--epochs N]".into()),
    }
}
