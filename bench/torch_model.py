#!/usr/bin/env python3
"""The PyTorch twin of `convlab bench train --model FILE`: the same network, built from the same
model file (convlab's TOML or Keras's model.to_json()), trained the same way on the same data and
split, so the two can be timed back to back on one machine.

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy scikit-learn
    convlab bench train --model models/lenet5.toml
    /tmp/torch/bin/python bench/torch_model.py --model models/lenet5.toml

What "the same" means here:
  * layers, arguments and defaults as Keras's (and convlab's): Glorot-uniform kernels and zero
    biases unless the file says otherwise, he_*/glorot_normal as Keras's truncated normals;
  * `same` padding by TensorFlow's rule, asymmetric where it must be (a stride-2 3x3 on 28x28 pads
    one more row and column at the bottom and right), padded cells never winning a max pooling
    and never counted by an average pooling;
  * Flatten in NHWC order (the tensors run NCHW, as PyTorch prefers, and are permuted back before
    flattening), so a Dense kernel has convlab's and Keras's layout;
  * a final softmax fused into the loss (CrossEntropyLoss on the logits), as convlab fuses it;
  * Adam with Keras's epsilon 1e-7, batch 32, reshuffled every epoch, the last partial batch
    kept; scikit-learn's train_test_split(test_size=0.2, random_state=42) of the training set;
    an epoch's time covers training and then validating the held-out 20% at batch 32.
"""
import argparse
import gzip
import json
import math
import os
import statistics
import sys
import time
import tomllib

DATASETS = {
    # name: (item shape, system directory or None)
    "fashion-mnist": ((28, 28, 1), "/usr/share/datasets/fashion-mnist"),
    "mnist": ((28, 28, 1), None),
    "kmnist": ((28, 28, 1), None),
    "cifar10": ((32, 32, 3), None),
}


# ---- the model file -------------------------------------------------------------------------

def read_model(path):
    """(input_shape, [(type, args)]) from convlab's TOML or Keras's JSON."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw.lstrip().startswith(b"{"):
        return read_keras_json(json.loads(raw))
    doc = tomllib.loads(raw.decode())
    layers = [(dict(l).pop("type"), {k: v for k, v in l.items() if k != "type"})
              for l in doc["layers"]]
    return list(doc["input_shape"]), layers


def read_keras_json(doc):
    config = doc["config"]
    entries = config if isinstance(config, list) else config["layers"]
    shape = None if isinstance(config, list) else config.get("build_input_shape")
    layers = []
    for entry in entries:
        cls, cfg = entry["class_name"], dict(entry["config"])
        if cls == "InputLayer":
            shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
            continue
        if not layers and "batch_input_shape" in cfg:
            shape = cfg["batch_input_shape"]
        layers.append((cls, cfg))
    return list(shape[1:]), layers


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def same_pads(size, k, s):
    """TensorFlow's `same`: output ceil(size / s), the extra padding at the end."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def build(input_shape, layers):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Pad(nn.Module):
        """TensorFlow's `same` padding, asymmetric where it must be."""

        def __init__(self, pads, value):
            super().__init__()
            self.pads, self.value = pads, value  # (left, right, top, bottom)

        def forward(self, x):
            return F.pad(x, self.pads, value=self.value)

    class AvgSame(nn.Module):
        """Average pooling whose padded cells are not counted (TensorFlow's, convlab's)."""

        def __init__(self, k, s, pads):
            super().__init__()
            self.k, self.s, self.pads = k, s, pads

        def forward(self, x):
            ones = torch.ones_like(x[:1, :1])
            total = F.avg_pool2d(F.pad(x, self.pads), self.k, self.s, divisor_override=1)
            count = F.avg_pool2d(F.pad(ones, self.pads), self.k, self.s, divisor_override=1)
            return total / count

    class FlattenNHWC(nn.Module):
        def forward(self, x):
            return x.permute(0, 2, 3, 1).flatten(1) if x.dim() == 4 else x

    def initialise(weight, value, default, fan_in, fan_out):
        """Keras's initializer `value` (a name, or {class_name, config}) on `weight`."""
        value = default if value is None else value
        name, cfg = (value["class_name"], value.get("config") or {}) if isinstance(value, dict) else (value, {})
        key = name.lower().replace("_", "")
        if key in ("glorotuniform", "heuniform"):
            limit = math.sqrt(6 / ((fan_in + fan_out) if key == "glorotuniform" else fan_in))
            nn.init.uniform_(weight, -limit, limit)
        elif key in ("glorotnormal", "henormal"):
            # Keras's truncated normal (cut at 2 std), scaled so the truncated draws have the std.
            std = math.sqrt(2 / ((fan_in + fan_out) if key == "glorotnormal" else fan_in)) / 0.87962566
            nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)
        elif key == "zeros":
            nn.init.zeros_(weight)
        elif key == "randomnormal":
            nn.init.normal_(weight, cfg.get("mean", 0.0), cfg.get("stddev", 0.05))
        else:
            raise SystemExit(f"initializer {name} is not one convlab has")

    def set_weights(module, args, fan_in, fan_out):
        with torch.no_grad():
            initialise(module.weight, args.get("kernel_initializer"), "glorot_uniform", fan_in, fan_out)
            if module.bias is not None:
                initialise(module.bias, args.get("bias_initializer"), "zeros", fan_in, fan_out)

    fused = []

    def activation(name, last):
        name = (name or "linear").lower()
        if name == "softmax" and last:
            fused.append(True)
            return None  # fused into CrossEntropyLoss
        return {"linear": None, "relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(),
                "softmax": nn.Softmax(dim=-1)}[name]

    shape = list(input_shape)
    modules = []
    named = []  # (convlab's name, module): conv2d, conv2d_1, ..., dense, dense_1, ...
    counts = {}

    def name_of(base):
        k = counts.get(base, 0)
        counts[base] = k + 1
        return base if k == 0 else f"{base}_{k}"

    for index, (kind, args) in enumerate(layers):
        last = index == len(layers) - 1
        if kind in ("Conv2D", "Convolution2D"):
            h, w, c = shape
            kh, kw = pair(args["kernel_size"])
            sh, sw = pair(args.get("strides", 1))
            filters = args["filters"]
            if args.get("padding", "valid").lower() == "same":
                ho, top, bottom = same_pads(h, kh, sh)
                wo, left, right = same_pads(w, kw, sw)
                if top or bottom or left or right:
                    modules.append(Pad((left, right, top, bottom), 0.0))
            else:
                ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
            conv = nn.Conv2d(c, filters, (kh, kw), (sh, sw), bias=args.get("use_bias", True))
            set_weights(conv, args, kh * kw * c, kh * kw * filters)
            modules.append(conv)
            named.append((name_of("conv2d"), conv))
            act = activation(args.get("activation"), last)
            if act is not None:
                modules.append(act)
            shape = [ho, wo, filters]
        elif kind in ("MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D"):
            h, w, c = shape
            ph, pw = pair(args.get("pool_size", 2))
            sh, sw = pair(args.get("strides") or (ph, pw))
            pads = (0, 0, 0, 0)
            if args.get("padding", "valid").lower() == "same":
                ho, top, bottom = same_pads(h, ph, sh)
                wo, left, right = same_pads(w, pw, sw)
                pads = (left, right, top, bottom)
            else:
                ho, wo = (h - ph) // sh + 1, (w - pw) // sw + 1
            if kind.startswith("Max"):
                if any(pads):
                    modules.append(Pad(pads, float("-inf")))
                modules.append(nn.MaxPool2d((ph, pw), (sh, sw)))
            elif any(pads):
                modules.append(AvgSame((ph, pw), (sh, sw), pads))
            else:
                modules.append(nn.AvgPool2d((ph, pw), (sh, sw)))
            shape = [ho, wo, c]
        elif kind == "Flatten":
            modules.append(FlattenNHWC())
            shape = [math.prod(shape)]
        elif kind == "Dense":
            units = args["units"]
            dense = nn.Linear(shape[0], units, bias=args.get("use_bias", True))
            set_weights(dense, args, shape[0], units)
            modules.append(dense)
            named.append((name_of("dense"), dense))
            act = activation(args.get("activation"), last)
            if act is not None:
                modules.append(act)
            shape = [units]
        elif kind == "Dropout":
            modules.append(nn.Dropout(args["rate"]))
        else:
            raise SystemExit(f"layer {index}: {kind} is not a layer convlab has")
    model = nn.Sequential(*modules)
    model.convlab_names = named
    model.ends_in_softmax = bool(fused)
    return model, shape


def load_convlab_weights(model, path):
    """A convlab checkpoint's weights (safetensors, Keras's names and layouts) into the twin:
    a Conv2D kernel (kh, kw, in, out) becomes PyTorch's (out, in, kh, kw), a Dense kernel
    (in, out) its (out, in)."""
    import numpy as np
    import torch
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]

    def tensor(name):
        meta = header[name]
        start, end = meta["data_offsets"]
        return np.frombuffer(data[start:end], dtype="<f4").reshape(meta["shape"])

    with torch.no_grad():
        for name, module in model.convlab_names:
            kernel = tensor(f"{name}/kernel")
            if kernel.ndim == 4:
                kernel = kernel.transpose(3, 2, 0, 1)
            else:
                kernel = kernel.T
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
            if module.bias is not None:
                module.bias.copy_(torch.from_numpy(tensor(f"{name}/bias").copy()))


# ---- the data -------------------------------------------------------------------------------

def find_dir(dataset, given):
    if given:
        for d in (os.path.join(given, dataset), given):
            if os.path.isdir(d):
                return d
        raise SystemExit(f"--data {given}: no such directory")
    places = []
    if os.environ.get("CONVLAB_DATA"):
        places += [os.path.join(os.environ["CONVLAB_DATA"], dataset), os.environ["CONVLAB_DATA"]]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    places.append(os.path.join(cache, "convlab", dataset))
    if DATASETS[dataset][1]:
        places.append(DATASETS[dataset][1])
    for d in places:
        if os.path.isdir(d) and os.listdir(d):
            return d
    raise SystemExit(f"{dataset}: no files in {places}; run `convlab bench train --dataset {dataset}` "
                     "once (it downloads them into the cache) or give --data DIR")


def read_idx(path):
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(dataset, data_dir):
    """(train images NHWC u8, train labels, test images, test labels)."""
    import numpy as np
    d = find_dir(dataset, data_dir)
    if dataset == "cifar10":
        if os.path.isdir(os.path.join(d, "cifar-10-batches-bin")):
            d = os.path.join(d, "cifar-10-batches-bin")

        def batches(names):
            raw = np.concatenate([np.fromfile(os.path.join(d, n), dtype=np.uint8) for n in names])
            records = raw.reshape(-1, 3073)
            images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            return np.ascontiguousarray(images), records[:, 0].copy()

        x, y = batches([f"data_batch_{i}.bin" for i in range(1, 6)])
        tx, ty = batches(["test_batch.bin"])
        return x, y, tx, ty

    def idx(name):
        for candidate in (name + ".gz", name):
            if os.path.exists(os.path.join(d, candidate)):
                return read_idx(os.path.join(d, candidate))
        raise SystemExit(f"{d}: no {name}")

    x = idx("train-images-idx3-ubyte")[..., None]
    tx = idx("t10k-images-idx3-ubyte")[..., None]
    return x, idx("train-labels-idx1-ubyte"), tx, idx("t10k-labels-idx1-ubyte")


# ---- training -------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a model file: TOML or Keras JSON")
    ap.add_argument("--dataset", choices=sorted(DATASETS), default="fashion-mnist")
    ap.add_argument("--data", help="the dataset's directory (default: where convlab looks)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--weights", help="a convlab checkpoint of this model: load its weights, "
                    "print the class probabilities of --predict test images, and stop")
    ap.add_argument("--predict", type=int, default=5, help="with --weights: how many test images")
    ap.add_argument("--summary", action="store_true",
                    help="print the network and its parameter count, and stop (no data needed)")
    args = ap.parse_args()

    import numpy as np
    import torch
    import torch.nn.functional as F
    from sklearn.model_selection import train_test_split

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    input_shape, layers = read_model(args.model)
    expected = list(DATASETS[args.dataset][0])
    if input_shape != expected:
        raise SystemExit(f"{args.model}: the model takes {input_shape}, {args.dataset} images are {expected}")
    model, out_shape = build(input_shape, layers)
    n_params = sum(p.numel() for p in model.parameters())
    if args.summary:
        print(model)
        print(f"{n_params:,} parameters; output {out_shape}")
        return 0

    x, y, test_x, _ = load(args.dataset, args.data)
    if args.weights:
        load_convlab_weights(model, args.weights)
        model.eval()
        images = torch.from_numpy(np.ascontiguousarray(
            test_x[:args.predict].transpose(0, 3, 1, 2), dtype=np.float32) / 255.0)
        with torch.inference_mode():
            logits = model(images)
            probs = torch.softmax(logits, dim=1) if model.ends_in_softmax else logits
        for i, row in enumerate(probs.tolist()):
            print(f"test image {i}: " + " ".join(f"{p:.6f}" for p in row))
        return 0
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=42)

    def tensor(images):  # N,H,W,C u8 -> N,C,H,W f32 in [0, 1]
        return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0)

    xtr, xva = tensor(x_train), tensor(x_val)
    ytr, yva = torch.from_numpy(y_train.astype(np.int64)), torch.from_numpy(y_val.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    print(f"model {os.path.basename(args.model)} ({n_params:,} parameters) on {args.dataset}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"training {args.epochs} epoch(s): {len(xtr)} images + {len(xva)} validation, batch {args.batch_size}")
    rows = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(xtr))
        total, correct = 0.0, 0
        for i in range(0, len(xtr), args.batch_size):
            idx = order[i:i + args.batch_size]
            out = model(xtr[idx])
            loss = F.cross_entropy(out, ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += (out.argmax(1) == ytr[idx]).sum().item()
        model.eval()
        val_loss, val_correct = 0.0, 0
        with torch.inference_mode():
            for i in range(0, len(xva), 32):
                out = model(xva[i:i + 32])
                val_loss += F.cross_entropy(out, yva[i:i + 32], reduction="sum").item()
                val_correct += (out.argmax(1) == yva[i:i + 32]).sum().item()
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, "seconds": seconds, "loss": total / len(xtr),
               "accuracy": correct / len(xtr), "val_loss": val_loss / len(xva),
               "val_accuracy": val_correct / len(xva)}
        rows.append(row)
        print(f"epoch {epoch}: {seconds:.2f} s, {(len(xtr) + len(xva)) / seconds:.0f} images/s - "
              f"loss {row['loss']:.4f} - val_accuracy {row['val_accuracy']:.4f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "dataset": args.dataset, "parameters": n_params,
                       "torch": torch.__version__, "threads": torch.get_num_threads(),
                       "batch_size": args.batch_size, "epochs": rows,
                       "median_seconds": statistics.median(r["seconds"] for r in rows)}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
