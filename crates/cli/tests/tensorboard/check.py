#!/usr/bin/env python3
"""`convlab train --tensorboard DIR`, read back by the real TensorBoard (.ci/run runs this).

Trains the chapter's model for two short epochs with --tensorboard, then reads the event file
with the `tensorboard` package's own reader (EventAccumulator, what `tensorboard --logdir`
serves) and checks:
  - every record's framing and CRCs (the reader refuses a bad CRC) and the file version;
  - the scalars loss, accuracy, val_loss, val_accuracy per epoch (steps 0 and 1) equal the
    run's history CSV (to the CSV's 6 decimals), and learning_rate is Adam's 0.001;
  - a histogram for every weight, with as many values as the weight has and min <= max;
  - the first Conv2D layer's filters as a PNG image of the size convlab draws.

    python3 -m venv /tmp/tb && /tmp/tb/bin/pip install tensorboard
    /tmp/tb/bin/python crates/cli/tests/tensorboard/check.py --convlab target/release/convlab
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
# The chapter's weights and their sizes (models/chapter8.toml: 333,526 parameters).
WEIGHTS = {
    "conv2d/kernel": 3 * 3 * 1 * 32,
    "conv2d/bias": 32,
    "conv2d_1/kernel": 3 * 3 * 32 * 64,
    "conv2d_1/bias": 64,
    "dense/kernel": 7 * 7 * 64 * 100,
    "dense/bias": 100,
    "dense_1/kernel": 100 * 10,
    "dense_1/bias": 10,
}


def fail(message):
    print(f"tensorboard check: FAILED: {message}")
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--convlab", required=True)
    args = parser.parse_args()
    convlab = os.path.abspath(args.convlab)
    with tempfile.TemporaryDirectory() as work:
        checkpoint = os.path.join(work, "m.safetensors")
        logdir = os.path.join(work, "tb")
        run = subprocess.run(
            [convlab, "train", "--limit", "640", "--epochs", "2", "--patience", "5",
             "--checkpoint", checkpoint, "--tensorboard", logdir],
            cwd=ROOT, capture_output=True, text=True)
        if run.returncode != 0:
            fail(f"train exited {run.returncode}: {run.stderr}")
        files = os.listdir(logdir)
        if len(files) != 1 or "tfevents" not in files[0]:
            fail(f"expected one event file in {logdir}, found {files}")
        events = EventAccumulator(logdir, size_guidance={"histograms": 0, "images": 0, "scalars": 0})
        events.Reload()
        tags = events.Tags()

        with open(os.path.join(work, "m.history.csv")) as f:
            history = list(csv.DictReader(f))
        if len(history) != 2:
            fail(f"history has {len(history)} epochs")
        for tag in ["loss", "accuracy", "val_loss", "val_accuracy"]:
            if tag not in tags["scalars"]:
                fail(f"no scalar {tag}: {tags['scalars']}")
            points = events.Scalars(tag)
            if [p.step for p in points] != [0, 1]:
                fail(f"{tag}: steps {[p.step for p in points]}")
            for point, row in zip(points, history):
                if abs(point.value - float(row[tag])) > 1e-6:
                    fail(f"{tag} at step {point.step}: {point.value} in the event file, {row[tag]} in the CSV")
        rates = [p.value for p in events.Scalars("learning_rate")]
        if any(abs(r - 1e-3) > 1e-9 for r in rates) or len(rates) != 2:
            fail(f"learning_rate {rates}")

        for name, size in WEIGHTS.items():
            if name not in tags["histograms"]:
                fail(f"no histogram {name}: {tags['histograms']}")
            for h in events.Histograms(name):
                v = h.histogram_value
                if int(v.num) != size or not v.min <= v.max or int(sum(v.bucket)) != size:
                    fail(f"histogram {name} at step {h.step}: num {v.num}, buckets {sum(v.bucket)}, min {v.min}, max {v.max}")

        if "conv2d/filters" not in tags["images"]:
            fail(f"no filter image: {tags['images']}")
        for image in events.Images("conv2d/filters"):
            png = image.encoded_image_string
            if png[:8] != b"\x89PNG\r\n\x1a\n" or image.width <= 0 or image.height <= 0:
                fail("the filter image is not a PNG of a positive size")
            # The PNG's own header (IHDR) says the size the event says.
            width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
            if (width, height) != (image.width, image.height):
                fail(f"image {image.width}x{image.height} in the event, {width}x{height} in the PNG")
        print(f"tensorboard check: ok ({len(tags['scalars'])} scalars, {len(tags['histograms'])} histograms, "
              f"{len(tags['images'])} image, read by tensorboard's EventAccumulator)")


if __name__ == "__main__":
    main()
