#!/usr/bin/env python3
"""Writes what real Keras's model.to_json() gives for a few Sequential models, and what Keras says
of each (parameter count, every layer's output shape), for crates/nn/tests/integration/keras_json.rs.

    python3 -m venv /tmp/keras && /tmp/keras/bin/pip install keras jax
    KERAS_BACKEND=jax /tmp/keras/bin/python crates/nn/tests/keras/make_models.py OUT_DIR

The committed fixtures (crates/nn/tests/fixtures/keras/) were written by Keras 3.15.1; .ci/run
writes them again with the newest Keras from PyPI and runs the test on those too.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
from keras import initializers, layers  # noqa: E402


def models():
    # The chapter's code, unchanged: input_shape on the first layer.
    yield "chapter8", keras.Sequential([
        layers.Conv2D(32, (3, 3), activation="relu", padding="same", input_shape=(28, 28, 1)),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu", padding="same"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(100, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(10, activation="softmax"),
    ])
    # Keras 3's recommended form, with an Input.
    yield "lenet5_input", keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(6, 5, padding="same", activation="tanh"),
        layers.AveragePooling2D(2),
        layers.Conv2D(16, 5, activation="tanh"),
        layers.AveragePooling2D(pool_size=2, strides=2),
        layers.Flatten(),
        layers.Dense(120, activation="tanh"),
        layers.Dense(84, activation="tanh"),
        layers.Dense(10, activation="softmax"),
    ])
    # Strides, no bias, other initializers, pooling with its own strides and same padding.
    yield "strided_options", keras.Sequential([
        keras.Input(shape=(32, 32, 3)),
        layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False,
                      kernel_initializer="he_normal"),
        layers.Conv2D(32, (5, 3), strides=(1, 2), activation="sigmoid",
                      kernel_initializer=initializers.RandomNormal(mean=0.0, stddev=0.01),
                      bias_initializer="zeros"),
        layers.MaxPooling2D(pool_size=3, strides=2, padding="same"),
        layers.Flatten(),
        layers.Dropout(0.25),
        layers.Dense(10, kernel_initializer="glorot_normal", bias_initializer="zeros"),
    ])
    # A layer convlab does not have: the error must name it.
    yield "batchnorm", keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(8, 3),
        layers.BatchNormalization(),
        layers.Flatten(),
        layers.Dense(10),
    ])
    # An option convlab does not have.
    yield "dilated", keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(8, 3, dilation_rate=2),
        layers.Flatten(),
        layers.Dense(10),
    ])


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, model in models():
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            f.write(model.to_json())
        if name in ("batchnorm", "dilated"):
            expected = {"error": {"batchnorm": "BatchNormalization", "dilated": "dilation_rate"}[name]}
        else:
            expected = {
                "keras_version": keras.__version__,
                "count_params": model.count_params(),
                "layers": [l.__class__.__name__ for l in model.layers],
                "output_shapes": [list(l.output.shape[1:]) for l in model.layers],
            }
        with open(os.path.join(out, f"{name}.expected.json"), "w") as f:
            json.dump(expected, f)
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
