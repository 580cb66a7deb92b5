#!/usr/bin/env python3
"""ONNX export and the safetensors checkpoint, checked outside convlab (.ci/run runs this):

  1. for the chapter's model and models with stride-2 `same` convolutions, `valid` padding,
     average pooling, same-padded pooling with strides and no bias: train one short epoch,
     `convlab export` it, run `onnx.checker.check_model` (full check), and compare ONNX
     Runtime's outputs with `convlab predict --csv` on the first 1,000 test images: the same
     class for every image, every probability within 1e-5;
  2. the README's snippet loads a checkpoint with `safetensors.numpy`, and the chapter's
     network computed from those arrays in numpy gives convlab's probabilities;
  3. a model ONNX export cannot take is an error that writes nothing.

    python3 -m venv /tmp/onnx && /tmp/onnx/bin/pip install onnx onnxruntime numpy safetensors
    /tmp/onnx/bin/python crates/cli/tests/onnx/check.py --convlab target/release/convlab
"""
import argparse
import csv
import gzip
import io
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
TEST_IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
MODELS = [
    ("chapter8", "models/chapter8.toml"),
    ("strided", "models/strided.toml"),  # stride-2 same (asymmetric pads), valid, no bias
    ("lenet5", "models/lenet5.toml"),  # 5x5, average pooling, valid
    ("pools", "crates/cli/tests/onnx/pools.toml"),  # same-padded pooling, linear output
]
COUNT = 1000
TOLERANCE = 1e-5


def run(convlab, *args):
    done = subprocess.run([convlab, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"convlab {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def test_images():
    with gzip.open(TEST_IMAGES) as f:
        raw = f.read()
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28, 1)
    return images[:COUNT].astype(np.float32) / 255.0


def convlab_predictions(convlab, checkpoint):
    rows = list(csv.DictReader(io.StringIO(run(
        convlab, "predict", "--model", checkpoint, "--index", "0", "--count", str(COUNT), "--csv"))))
    assert len(rows) == COUNT, len(rows)
    classes = [int(r["predicted"]) for r in rows]
    probs = np.array([[float(r[k]) for k in r if k.startswith("p") and k != "predicted"]
                      for r in rows], dtype=np.float64)
    return np.array(classes), probs


def check_onnx(convlab, work, x):
    for name, model_file in MODELS:
        checkpoint = os.path.join(work, f"{name}.safetensors")
        run(convlab, "train", "--model", os.path.join(ROOT, model_file), "--epochs", "1",
            "--limit", "2000", "--checkpoint", checkpoint)
        path = os.path.join(work, f"{name}.onnx")
        run(convlab, "export", "--model", checkpoint, "--format", "onnx", "--out", path)
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        assert model.opset_import[0].version >= 13
        assert [i.name for i in model.graph.input] == ["input"]
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        (got,) = session.run(None, {"input": x})
        classes, expected = convlab_predictions(convlab, checkpoint)
        worst = float(np.max(np.abs(got.astype(np.float64) - expected)))
        same = int(np.sum(np.argmax(got, axis=1) == classes))
        print(f"{name}: ONNX Runtime vs convlab predict on {COUNT} test images: "
              f"{same} of {COUNT} the same class, max |difference| {worst:.2e}")
        assert same == COUNT, f"{name}: {COUNT - same} images classed differently"
        assert worst <= TOLERANCE, f"{name}: probabilities differ by {worst}"
    return os.path.join(work, "chapter8.safetensors")


def readme_snippet():
    """The README's Python block that follows the load-checkpoint marker."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    found = re.search(r"<!-- tested: load-checkpoint -->\s*```python\n(.*?)```", text, re.S)
    assert found, "the README lost its load-checkpoint snippet"
    return found.group(1)


def check_safetensors(convlab, checkpoint, x):
    """The README's snippet, then the chapter's network in numpy from what it loaded."""
    scope = {}
    cwd = os.getcwd()
    os.chdir(os.path.dirname(checkpoint))
    try:
        os.replace(checkpoint, "best-cnn-model.safetensors")
        exec(readme_snippet(), scope)
    finally:
        os.chdir(cwd)
    w = scope["weights"]
    assert w["conv2d/kernel"].shape == (3, 3, 1, 32) and w["dense/kernel"].shape == (3136, 100)
    assert scope["conv1"].shape == (32, 1, 3, 3) and scope["dense"].shape == (100, 3136)

    def conv_same_relu(a, kernel, bias):  # NHWC, 3x3, stride 1, same
        n, h, wd, c = a.shape
        p = np.pad(a, ((0, 0), (1, 1), (1, 1), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(p, (3, 3), axis=(1, 2))
        # windows: (n, h, w, c, 3, 3) -> sum over c, ky, kx against kernel (ky, kx, c, out)
        y = np.einsum("nhwcyx,yxco->nhwo", windows, kernel, optimize=True) + bias
        return np.maximum(y, 0)

    def max_pool(a):
        n, h, wd, c = a.shape
        return a.reshape(n, h // 2, 2, wd // 2, 2, c).max(axis=(2, 4))

    a = x.astype(np.float64)
    a = max_pool(conv_same_relu(a, w["conv2d/kernel"], w["conv2d/bias"]))
    a = max_pool(conv_same_relu(a, w["conv2d_1/kernel"], w["conv2d_1/bias"]))
    a = a.reshape(len(a), -1)  # NHWC order, as convlab and Keras flatten
    a = np.maximum(a @ w["dense/kernel"] + w["dense/bias"], 0)
    z = a @ w["dense_1/kernel"] + w["dense_1/bias"]
    z = np.exp(z - z.max(axis=1, keepdims=True))
    probs = z / z.sum(axis=1, keepdims=True)
    moved = os.path.join(os.path.dirname(checkpoint), "best-cnn-model.safetensors")
    classes, expected = convlab_predictions(convlab, moved)
    worst = float(np.max(np.abs(probs - expected)))
    same = int(np.sum(np.argmax(probs, axis=1) == classes))
    print(f"numpy from safetensors vs convlab predict: {same} of {COUNT} the same class, "
          f"max |difference| {worst:.2e}")
    assert same == COUNT and worst <= TOLERANCE


def check_refusals(convlab, work):
    out = os.path.join(work, "nothing.onnx")
    done = subprocess.run([convlab, "export", "--model", os.path.join(ROOT, "models/lenet5.toml"),
                           "--out", out], capture_output=True, text=True)
    assert done.returncode == 2 and "needs trained weights" in done.stderr, done.stderr
    assert not os.path.exists(out)
    print("a model file (no weights) is refused and nothing is written")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--convlab", required=True)
    args = ap.parse_args()
    convlab = os.path.abspath(args.convlab)
    x = test_images()
    with tempfile.TemporaryDirectory() as work:
        checkpoint = check_onnx(convlab, work, x)
        check_safetensors(convlab, checkpoint, x)
        check_refusals(convlab, work)
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}: all checks passed")


if __name__ == "__main__":
    main()
