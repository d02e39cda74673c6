"""Times exported MDPN ONNX graphs (`mdpn export`) in ONNX Runtime, as `mdpn bench --model` times
the same model file.

    pip install onnxruntime numpy
    mdpn export MODEL --out tables.onnx                         # the default: synapse tables
    mdpn export MODEL --synapses formulas --out formulas.onnx   # atan and ln on every window
    python3 bench/onnx_bench.py tables.onnx formulas.onnx [--threads 2] [--json]

The graphs take turns in every round, so that a busy machine slows them alike; each prints the
fields of `mdpn bench --json` that apply to inference: the median images/s over the timed rounds
(after one warm-up round) of `--batches` batches of `--batch-size` images, on the Fashion-MNIST
test images under /usr/share/datasets/fashion-mnist/ (or --data-dir), else random images.
"""

import argparse
import gzip
import json
import os
import statistics
import time

import numpy as np
import onnxruntime as ort


def test_images(data_dir, count, shape):
    """Fashion-MNIST's first `count` test images where found and 28x28 gray, else random ones."""
    path = os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")
    if shape == (1, 28, 28) and os.path.exists(path):
        raw = np.frombuffer(gzip.open(path).read(), np.uint8, offset=16)
        return raw[: count * 784].reshape(-1, *shape), "fashion-mnist"
    return np.random.default_rng(0).integers(0, 256, (count, *shape), np.uint8), "random"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="ONNX files written by `mdpn export`")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--batches", type=int, default=20, help="batches per timed round")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds; the median is reported")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--json", action="store_true", help="print one JSON object per model")
    args = ap.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    sessions = [ort.InferenceSession(m, options, providers=["CPUExecutionProvider"])
                for m in args.models]
    shapes = {tuple(s.get_inputs()[0].shape[1:]) for s in sessions}
    assert len(shapes) == 1, f"the models take different images: {shapes}"
    images, source = test_images(args.data_dir, args.batch_size * args.batches, shapes.pop())
    batches = [images[i : i + args.batch_size] for i in range(0, len(images), args.batch_size)]
    rates = [[] for _ in sessions]
    for round_ in range(args.rounds + 1):
        for session, r in zip(sessions, rates):
            start = time.perf_counter()
            for batch in batches:
                session.run(["probabilities"], {"image": batch})
            if round_ > 0:  # round 0 warms caches and the allocator
                r.append(len(images) / (time.perf_counter() - start))
    for path, r in zip(args.models, rates):
        result = {
            "infer_images_per_s": statistics.median(r),
            "threads": args.threads,
            "model": path,
            "model_bytes": os.path.getsize(path),
            "batch_size": args.batch_size,
            "input": source,
            "kernel": f"onnxruntime-{ort.__version__}",
            "rounds": args.rounds,
        }
        if args.json:
            print(json.dumps(result))
        else:
            print(f"{path} ({result['model_bytes']:,} bytes): "
                  f"{result['infer_images_per_s']:>7.0f} images/s, ONNX Runtime {ort.__version__}, "
                  f"{args.threads} threads, batch {args.batch_size} ({source} images), "
                  f"median of {args.rounds} rounds")


if __name__ == "__main__":
    main()
