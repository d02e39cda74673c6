"""mdpn.datasets: the program's data sets, files and look-up order."""

import gzip
import json
import struct

import numpy as np

import mdpn
from conftest import run_mdpn


def fashion_folder(data_dir=None):
    """Where `mdpn datasets` finds Fashion-MNIST."""
    args = ["datasets", "--json"] + (["--data-dir", data_dir] if data_dir else [])
    rows = [json.loads(line) for line in run_mdpn(*args).splitlines()]
    return next(r for r in rows if r["name"] == "fashion-mnist")["folder"]


def write_idx(path, array):
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    magic = struct.pack(">HBB", 0, 0x08, array.ndim)
    with gzip.open(path, "wb") as f:
        f.write(magic + dims + array.astype(np.uint8).tobytes())


def test_fashion_mnist_as_the_program_reads_it(fashion):
    assert str(fashion.folder) == fashion_folder()
    assert fashion.x_train.shape == (60000, 28, 28) and fashion.x_train.dtype == np.uint8
    assert fashion.x_test.shape == (10000, 28, 28)
    assert fashion.y_train.dtype == np.int64 and set(fashion.y_train) == set(range(10))
    assert fashion.class_names[0] == "T-shirt/top" and len(fashion.class_names) == 10
    assert fashion.x_val is None and not fashion.multi_label
    assert (fashion.mean, fashion.std) == (0.0, 1.0)


def test_data_dir_comes_first(tmp_path, fashion):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    x, y = fashion.x_train[:30], fashion.y_train[:30]
    for prefix, (images, labels) in {"train": (x, y), "t10k": (x[:10], y[:10])}.items():
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    small = mdpn.datasets.load("fashion-mnist", data_dir=tmp_path)
    assert str(small.folder) == fashion_folder(tmp_path) == str(folder)
    assert np.array_equal(small.x_train, x) and np.array_equal(small.y_train, y)
    assert small.x_test.shape == (10, 28, 28)


def test_split_is_the_programs():
    train, val, test = mdpn.datasets.split(100, 50, seed=1)
    assert len(val) == 10 and len(train) == 90 and np.array_equal(test, np.arange(50))
    assert sorted(np.concatenate([train, val])) == list(range(100))
    train, val, test = mdpn.datasets.split(100, 3050, seed=1, protocol="paper")
    assert len(val) == 3000 and len(test) == 50 and np.array_equal(train, np.arange(100))
