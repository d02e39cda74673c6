#!/usr/bin/env python3
"""Writes scikit-learn's handwritten digits (UCI optical recognition of handwritten digits:
1,797 images of 8x8 pixels, 16 gray levels, 43 writers) as an MNIST-style IDX folder that
`mdpn train --dataset DIR` and `mdpn study --datasets DIR` read: each image scaled up to 28x28
(bilinear) and to 0-255, the first 1,437 images for training and the last 360 for testing.
The data ship inside scikit-learn, so nothing is downloaded.

    python3 scripts/digits-idx.py OUT_DIR    (with numpy and scikit-learn, e.g. target/venv)
"""

import gzip
import pathlib
import struct
import sys

import numpy as np
from sklearn.datasets import load_digits

SIDE = 28
TRAIN = 1437


def upscale(images):
    """Bilinear resampling of (N, 8, 8) images to (N, SIDE, SIDE), pixel centres aligned."""
    n, h, w = images.shape
    ys = np.clip((np.arange(SIDE) + 0.5) * h / SIDE - 0.5, 0, h - 1)
    xs = np.clip((np.arange(SIDE) + 0.5) * w / SIDE - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[None, :, None], (xs - x0)[None, None, :]
    top = images[:, y0][:, :, x0] * (1 - fx) + images[:, y0][:, :, x1] * fx
    bottom = images[:, y1][:, :, x0] * (1 - fx) + images[:, y1][:, :, x1] * fx
    return top * (1 - fy) + bottom * fy


def write_idx(path, array):
    """IDX: zero, zero, type 0x08 (unsigned byte), the rank, big-endian sizes, the bytes."""
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR")
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    images = np.rint(upscale(digits.images) * 255 / 16).clip(0, 255)
    labels = digits.target
    for prefix, part in [("train", slice(0, TRAIN)), ("t10k", slice(TRAIN, None))]:
        write_idx(out / f"{prefix}-images-idx3-ubyte.gz", images[part])
        write_idx(out / f"{prefix}-labels-idx1-ubyte.gz", labels[part])
    print(f"wrote {out}: {TRAIN} training and {len(labels) - TRAIN} test images, {SIDE}x{SIDE}")


if __name__ == "__main__":
    main()
