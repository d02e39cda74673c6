"""mdpn.MDPNClassifier: the same training as `mdpn train`, scikit-learn's tools, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import mdpn
from conftest import RUN, metrics_rows


def test_fit_gives_the_metrics_and_model_of_mdpn_train(cli_run, fashion, tmp_path):
    train, val, _ = mdpn.datasets.split(60000, 10000, seed=RUN["seed"])
    train = train[:RUN["limit"]]
    run = tmp_path / "run"
    clf = mdpn.MDPNClassifier(dendrites=RUN["dendrites"], hidden=RUN["hidden"],
                              epochs=RUN["epochs"], batch_size=RUN["batch_size"],
                              seed=RUN["seed"], verbose=False, out=run)
    clf.fit(fashion.x_train[train], fashion.y_train[train],
            fashion.x_train[val], fashion.y_train[val])
    rows = metrics_rows(cli_run)
    assert len(clf.history_) == len(rows) == RUN["epochs"]
    for mine, theirs in zip(clf.history_, rows):
        for key, column in [("train_loss", "train_loss"), ("train_accuracy", "train_acc"),
                            ("val_loss", "val_loss"), ("val_accuracy", "val_acc")]:
            assert f"{mine[key]:.6f}" == theirs[column], key
    # The model kept is the program's model.safetensors, bit for bit.
    theirs = mdpn.load(cli_run / "model.safetensors").state_dict()
    for name, value in clf.model_.state_dict().items():
        assert np.array_equal(value, theirs[name]), name
    # And so is its test accuracy at the best validation epoch.
    best = max(rows, key=lambda r: float(r["val_acc"]))
    accuracy = clf.score(fashion.x_test, fashion.y_test)
    assert f"{accuracy:.6f}" == best["test_acc"]
    assert accuracy > 0.6
    # With out=, fit wrote the run folder of `mdpn train` with the same writer: the same
    # metrics.csv columns and training rows, the best and last models, the checkpoint last.
    written = metrics_rows(run)
    assert list(written[0]) == list(rows[0])
    for mine, theirs in zip(written, rows):
        for column in ["epoch", "train_loss", "train_acc", "val_loss", "val_acc"]:
            assert mine[column] == theirs[column], column
    for name in ["model.safetensors", "last.safetensors"]:
        mine, theirs = mdpn.load(run / name).state_dict(), mdpn.load(cli_run / name).state_dict()
        assert all(np.array_equal(mine[k], theirs[k]) for k in theirs), name
    config = json.loads((run / "config.json").read_text())
    assert config["program"].startswith("mdpn ") and config["epochs"] == RUN["epochs"]
    assert config["settings"]["seed"] == RUN["seed"]
    assert (run / "checkpoint.safetensors").is_file()
    # A folder that holds a run is not overwritten.
    before = (run / "metrics.csv").read_bytes()
    with pytest.raises(ValueError, match="already holds a run"):
        clf.fit(fashion.x_train[train][:100], fashion.y_train[train][:100])
    assert (run / "metrics.csv").read_bytes() == before


# A small model that learns 600 images in a second.
QUICK = dict(dendrites=8, hidden=32, epochs=10, lr=3e-3, batch_size=32, verbose=False)


@pytest.fixture(scope="module")
def small(fashion):
    """600 training images with string labels (the class names)."""
    names = np.array(fashion.class_names)
    return fashion.x_train[:600], names[fashion.y_train[:600]]


def test_cross_val_score_with_arbitrary_labels(small):
    x, y = small
    clf = mdpn.MDPNClassifier(**QUICK)
    scores = cross_val_score(clf, x, y, cv=3)
    assert scores.shape == (3,)
    assert (scores > 0.5).all(), scores  # chance is 0.1
    fitted = clf.fit(x, y)
    assert list(fitted.classes_) == sorted(set(y))
    assert set(fitted.predict(x[:50])) <= set(y)
    assert fitted.predict_proba(x[:5]).shape == (5, 10)
    assert fitted.get_params()["dendrites"] == QUICK["dendrites"]
    assert fitted.set_params(dendrites=6).dendrites == 6


def test_without_validation_images_the_last_epoch_is_kept(small):
    x, y = small
    clf = mdpn.MDPNClassifier(**{**QUICK, "epochs": 3}, validation_fraction=0.0).fit(x, y)
    assert len(clf.history_) == 3 and "val_accuracy" not in clf.history_[0]
    for name, value in clf.last_model_.state_dict().items():
        assert np.array_equal(clf.model_.state_dict()[name], value), name


def test_pipeline_on_flat_rows(small):
    x, y = small
    flat = x.reshape(len(x), -1)
    pipe = Pipeline([("invert", FunctionTransformer(lambda v: 255 - v)),
                     ("mdpn", mdpn.MDPNClassifier(**QUICK, image_shape=(28, 28)))])
    pipe.fit(flat, y)
    assert pipe.score(flat, y) > 0.5
    direct = mdpn.MDPNClassifier(**QUICK).fit(255 - x, y)
    assert np.array_equal(pipe.predict_proba(flat), direct.predict_proba(255 - x))


def test_bad_training_input_raises_value_error(small):
    x, y = small
    clf = mdpn.MDPNClassifier(**QUICK)
    cases = [
        ((x.astype(np.float32), y), "uint8"),
        ((x, y[:10]), "expected one label per image"),
        ((x[:, :20, :], y), "square images"),
        ((x.reshape(600, -1), y), "image_shape"),
        ((x, np.zeros(600)), "at least 2"),
        ((x, y, x[:5]), "both X_val and y_val"),
        ((x, y, x[:5], np.array(["not a class"] * 5)), "not in y"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            clf.fit(*args)
    with pytest.raises(ValueError, match="values per row"):
        mdpn.MDPNClassifier(image_shape=(20, 20)).fit(x.reshape(600, -1), y)
    with pytest.raises(ValueError, match="batch size"):
        mdpn.MDPNClassifier(batch_size=0, verbose=False).fit(x, y)


STOPPABLE = """
import faulthandler, signal
faulthandler.register(signal.SIGUSR1)  # the test's diagnosis if Ctrl-C does not stop it
# Python keeps SIGINT ignored if it started so (a job started with `&` by a shell without job
# control): Ctrl-C as a terminal delivers it must raise KeyboardInterrupt.
signal.signal(signal.SIGINT, signal.default_int_handler)
import mdpn
data = mdpn.datasets.load("fashion-mnist")
mdpn.MDPNClassifier(epochs=50, threads=2).fit(data.x_train[:30000], data.y_train[:30000])
print("finished")
"""


def test_ctrl_c_stops_fit(tmp_path):
    log = tmp_path / "stderr"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", STOPPABLE], stdout=subprocess.PIPE,
                                stderr=err, text=True)
    try:
        deadline = time.monotonic() + 120
        while "epoch 1/50 [" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            # Where its Python thread waits, for whoever reads the failure.
            proc.send_signal(signal.SIGUSR1)
            time.sleep(2)
            pytest.fail(f"still running 60 s after Ctrl-C; stderr:\n{log.read_text()}")
        stopped_after = time.monotonic() - sent
    finally:
        proc.kill()
    err = log.read_text()
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err
    assert "finished" not in out
    # It stopped within the first epoch (27,000 images), between two batches.
    assert "train loss" not in err, err
    assert stopped_after < 10, stopped_after
