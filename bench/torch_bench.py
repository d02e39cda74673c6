"""Times an unfold-based PyTorch version of the authors' MDPN, to compare with `mdpn bench`.

The model is written from the paper's description (the README's "The model"), computed the way
the authors' PyTorch code computes it: every 5x5 window of the image is unfolded, and every
synapse of every dendrite is evaluated on it as one large tensor.

    pip install torch numpy && python3 bench/torch_bench.py [--threads N] [--json]

It prints the fields of `mdpn bench --json`: the median images/s of training (forward, backward
and Adam) and inference over the timed rounds (after one warm-up round), and the peak resident
memory. The default model (M=50, batch 64, 28x28 gray, 10 classes) runs on the Fashion-MNIST
test images under /usr/share/datasets/fashion-mnist/ (or --data-dir), else on random images.

`--check FIXTURE` compares the model's logits and loss with a reference fixture of
crates/mdpn/tests/fixtures/ instead of timing, to show that what is timed is the model.
"""

import argparse
import gzip
import json
import math
import os
import resource
import statistics
import struct
import time

import torch
import torch.nn.functional as F
from torch import nn


class Mdpn(nn.Module):
    """Presynaptic -> dendrite -> membrane -> soma -> axon, one set of M dendrites per channel."""

    def __init__(self, channels=1, size=28, dendrites=50, window=5, k=10.0, c=0.6, pool=4,
                 hidden=128, classes=10):
        super().__init__()
        self.window, self.k, self.c, self.pool = window, k, c, pool
        # Synapse weights and thresholds, drawn from N(0, 1): (C, M, window * window).
        self.w = nn.Parameter(torch.randn(channels, dendrites, window * window))
        self.q = nn.Parameter(torch.randn(channels, dendrites, window * window))
        pooled = (size - window + 1) // pool
        self.soma = nn.Linear(channels * pooled * pooled * dendrites, hidden)
        self.axon = nn.Linear(hidden, classes)

    def forward(self, x):
        b, ch, h, _ = x.shape
        win, m = self.window, self.w.shape[1]
        side = h - win + 1
        # Every window, (B, C, 1, window*window, L): synapses in row-major order.
        cols = F.unfold(x.reshape(b * ch, 1, h, h), win).reshape(b, ch, 1, win * win, -1)
        # Presynaptic: Y = 1/2 + atan(k (x w - q)) / pi, (B, C, M, window*window, L).
        z = self.k * (cols * self.w[None, :, :, :, None] - self.q[None, :, :, :, None])
        y = 0.5 + torch.atan(z) / math.pi
        # Dendrite: D = sum over rows of ln(product over columns of (Y + c)).
        rows = (y + self.c).reshape(b, ch, m, win, win, -1).prod(dim=4)
        d = torch.log(rows).sum(dim=3).reshape(b, ch * m, side, side)
        # Membrane: max pool (floor), flattened (channel, row, column, dendrite), dendrite fastest.
        p = F.max_pool2d(d, self.pool)
        p = p.reshape(b, ch, m, p.shape[-2], p.shape[-1]).permute(0, 1, 3, 4, 2).reshape(b, -1)
        # Soma and axon; the softmax is in the loss.
        return self.axon(torch.relu(self.soma(p)))


def read_idx(path):
    """An IDX array as a uint8 tensor of its declared shape."""
    data = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def test_images(data_dir):
    """Fashion-MNIST's test images and labels, or None where they are not found."""
    for name in ("t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz"):
        images = os.path.join(data_dir, name)
        if os.path.exists(images):
            labels = images.replace("images-idx3", "labels-idx1")
            return read_idx(images), read_idx(labels).long()
    return None


def check(path):
    """Logits and loss of a fixture's model on its images, against the fixture's."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    dtypes = {"F32": torch.float32, "I64": torch.int64, "U8": torch.uint8}

    def tensor(name):
        t = header[name]
        start, end = t["data_offsets"]
        data = bytearray(raw[8 + n + start:8 + n + end])
        return torch.frombuffer(data, dtype=dtypes[t["dtype"]]).reshape(t["shape"])

    cfg = json.loads(header["__metadata__"]["config"])
    model = Mdpn(cfg["channels"], cfg["image_size"], cfg["dendrites"], cfg["window"], cfg["k"],
                 cfg["c"], cfg["pool"], cfg["hidden"], cfg["classes"])
    with torch.no_grad():
        model.w.copy_(tensor("model.0.params.w").reshape(model.w.shape))
        model.q.copy_(tensor("model.0.params.q").reshape(model.q.shape))
        for layer, key in ((model.soma, "model.2.fc"), (model.axon, "model.3.fc")):
            layer.weight.copy_(tensor(key + ".weight"))
            layer.bias.copy_(tensor(key + ".bias"))
        x = tensor("input")
        x = x.reshape(x.shape[0], cfg["channels"], cfg["image_size"], cfg["image_size"])
        logits = model(x)
        loss = F.cross_entropy(logits, tensor("labels"))
    want = tensor("expected.logits")
    error = ((logits - want).abs().max() / want.abs().max()).item()
    loss_error = abs(loss.item() - tensor("expected.loss").item())
    print(f"{path}: logits within {error:.1e} of the largest, loss within {loss_error:.1e}")
    assert error < 1e-4 and loss_error < 1e-4, "the model does not match the fixture"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dendrites", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--train-batches", type=int, default=5, help="training batches per round")
    ap.add_argument("--infer-batches", type=int, default=10, help="inference batches per round")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds; the median is reported")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--check", metavar="FIXTURE", help="compare with a fixture instead of timing")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.check:
        return check(args.check)

    batch = args.batch_size
    found = test_images(args.data_dir)
    if found is not None:
        images, labels = found
        source = "fashion-mnist"
    else:
        gen = torch.Generator().manual_seed(0)
        count = batch * max(args.train_batches, args.infer_batches)
        images = torch.randint(0, 256, (count, 28, 28), dtype=torch.uint8, generator=gen)
        labels = torch.arange(count) % 10
        source = "random"
    # As the authors normalise Fashion-MNIST: (x/255 - 0.5)/0.5.
    x_all = ((images.float() / 255 - 0.5) / 0.5).unsqueeze(1)
    available = x_all.shape[0]

    def cut(i):
        start = (i * batch) % (available - batch + 1)
        return x_all[start:start + batch], labels[start:start + batch]

    model = Mdpn(dendrites=args.dendrites)
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_rates, infer_rates = [], []
    for round_ in range(args.rounds + 1):
        start = time.perf_counter()
        for i in range(args.train_batches):
            x, y = cut(i)
            adam.zero_grad()
            F.cross_entropy(model(x), y).backward()
            adam.step()
        train = args.train_batches * batch / (time.perf_counter() - start)
        start = time.perf_counter()
        with torch.no_grad():
            for i in range(args.infer_batches):
                model(cut(i)[0])
        infer = args.infer_batches * batch / (time.perf_counter() - start)
        if round_ > 0:  # round 0 warms caches and the allocator
            train_rates.append(train)
            infer_rates.append(infer)

    # ru_maxrss is in KiB on Linux; MiB as `mdpn bench` reports it.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "train_images_per_s": statistics.median(train_rates),
        "infer_images_per_s": statistics.median(infer_rates),
        "peak_rss_mb": rss,
        "threads": torch.get_num_threads(),
        "dendrites": args.dendrites,
        "batch_size": batch,
        "image_size": 28,
        "input": source,
        "kernel": "torch-unfold",
        "rounds": args.rounds,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"PyTorch unfold MDPN M={args.dendrites} batch {batch} 28x28 ({source} images), "
              f"{result['threads']} threads, median of {args.rounds} rounds")
        print(f"training   {result['train_images_per_s']:>9.0f} images/s")
        print(f"inference  {result['infer_images_per_s']:>9.0f} images/s")
        print(f"peak RSS   {rss:>9.1f} MB")


if __name__ == "__main__":
    main()
