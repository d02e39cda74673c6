"""Shared fixtures of the Python package's tests: the `mdpn` program they compare with, real
Fashion-MNIST, and one small run of `mdpn train`."""

import json
import os
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

import mdpn

ROOT = Path(__file__).resolve().parents[2]

# The settings of the small run that both the program and the estimator train.
RUN = dict(limit=2000, epochs=2, dendrites=8, hidden=32, seed=3, batch_size=64)


def mdpn_bin():
    """The `mdpn` program: $MDPN_BIN (set by crates/mdpn-cli/tests/python.rs), else the release
    build of this checkout."""
    path = Path(os.environ.get("MDPN_BIN", ROOT / "target" / "release" / "mdpn"))
    if not path.is_file():
        pytest.fail(f"the mdpn program is not at {path}: build it (cargo build --release) or "
                    "set MDPN_BIN")
    return str(path)


def run_mdpn(*args):
    """Runs the program, failing the test with its output if it fails; returns stdout."""
    done = subprocess.run([mdpn_bin(), *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"mdpn {' '.join(map(str, args))} failed ({done.returncode}):\n"
                    f"{done.stdout}\n{done.stderr}")
    return done.stdout


def write_png(path, image):
    """A gray 8-bit PNG of a 2-D uint8 array."""
    h, w = image.shape
    raw = b"".join(b"\x00" + image[r].tobytes() for r in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    Path(path).write_bytes(png)


@pytest.fixture(scope="session")
def fashion():
    """Real Fashion-MNIST, found as the program finds it."""
    return mdpn.datasets.load("fashion-mnist")


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory):
    """A run folder of `mdpn train` with the RUN settings (holdout protocol)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    run_mdpn("train", "--dataset", "fashion-mnist", "--limit", RUN["limit"], "--epochs",
             RUN["epochs"], "--dendrites", RUN["dendrites"], "--hidden", RUN["hidden"],
             "--seed", RUN["seed"], "--batch-size", RUN["batch_size"], "--out", out)
    return out


def metrics_rows(run_dir):
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:]]


def eval_json(model_path, *extra):
    return json.loads(run_mdpn("eval", "--model", model_path, "--json", *extra))
