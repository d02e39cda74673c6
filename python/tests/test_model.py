"""mdpn.Model: the same numbers as the program, the layer outputs, files, and bad input."""

import json
import pickle

import numpy as np
import pytest

import mdpn
from conftest import eval_json, run_mdpn, write_png


@pytest.fixture(scope="module")
def model(cli_run):
    return mdpn.load(cli_run / "model.safetensors")


def test_probabilities_are_those_of_mdpn_predict_bit_for_bit(model, cli_run, fashion, tmp_path):
    images = fashion.x_test[:6]
    files = []
    for i, image in enumerate(images):
        files.append(tmp_path / f"{i}.png")
        write_png(files[-1], image)
    out = run_mdpn("predict", "--model", cli_run / "model.safetensors", "--json", *files)
    expected = np.array([json.loads(line)["probabilities"] for line in out.splitlines()],
                        dtype=np.float32)
    got = model.predict_proba(images)
    assert got.dtype == np.float32 and got.shape == (6, 10)
    assert np.array_equal(got, expected)
    # One image at a time, and in (N, 1, H, W) layout: the same bits.
    assert np.array_equal(model.predict_proba(images[:1]), expected[:1])
    assert np.array_equal(model.predict_proba(images[:, None]), expected)
    # An array that is not C-contiguous is read in its logical order.
    assert np.array_equal(model.predict_proba(images[::-1])[::-1], expected)


def test_predictions_are_those_of_mdpn_eval(model, cli_run, fashion):
    report = eval_json(cli_run / "model.safetensors")
    predicted = model.predict(fashion.x_test, threads=1)
    assert predicted.dtype == np.int64 and predicted.shape == (10000,)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (fashion.y_test, predicted), 1)
    assert confusion.tolist() == report["confusion"]
    assert np.mean(predicted == fashion.y_test) == report["accuracy"]
    # Probabilities do not depend on the thread count.
    assert np.array_equal(model.predict_proba(fashion.x_test[:300], threads=1),
                          model.predict_proba(fashion.x_test[:300], threads=2))


def test_float_input_runs_the_plain_kernel_on_normalised_values(model, fashion):
    cfg = model.config
    images = fashion.x_test[:20]
    normalised = (images.astype(np.float32) / 255 - cfg["mean"]) / cfg["std"]
    fast = model.predict_proba(images)
    plain = model.predict_proba(normalised)
    assert np.abs(fast - plain).max() < 1e-4
    assert np.array_equal(model.predict_proba(normalised.astype(np.float64)), plain)


def test_layer_outputs(model, fashion):
    cfg = model.config
    m, side = cfg["dendrites"], 28 - cfg["window"] + 1
    images = fashion.x_test[:3]
    d = model.dendrites(images)
    assert d.shape == (3, 1, side, side, m) and d.dtype == np.float32
    # The membrane is the 4x4 max pool of the dendrite maps, flattened row, column, dendrite.
    p = side // cfg["pool"]
    pooled = d[:, 0, :p * 4, :p * 4, :].reshape(3, p, 4, p, 4, m).max(axis=(2, 4))
    membrane = model.membrane(images)
    assert membrane.shape == (3, p * p * m)
    assert np.abs(membrane - pooled.reshape(3, -1)).max() < 1e-4 * np.abs(pooled).max()


def test_save_load_and_pickle_keep_every_bit(model, fashion, tmp_path):
    model.save(tmp_path / "copy.safetensors")
    for other in (mdpn.load(tmp_path / "copy.safetensors"), pickle.loads(pickle.dumps(model))):
        assert other.config == model.config and other.class_names == model.class_names
        for name, value in model.state_dict().items():
            assert np.array_equal(other.state_dict()[name], value)
        assert np.array_equal(other.predict_proba(fashion.x_test[:5]),
                              model.predict_proba(fashion.x_test[:5]))
    # The program reads what Python wrote.
    report = eval_json(tmp_path / "copy.safetensors")
    assert report["images"] == 10000


def test_int8_models_run_as_mdpn_eval_runs_them(model, cli_run, fashion, tmp_path):
    int8_path = tmp_path / "int8.safetensors"
    run_mdpn("quantize", cli_run / "model.safetensors", "--dataset", "fashion-mnist",
             "--out", int8_path)
    int8 = mdpn.load(int8_path)
    assert "int8" in repr(int8) and "int8" not in repr(model)
    assert int8.config == model.config and int8.class_names == model.class_names
    report = eval_json(int8_path)
    predicted = int8.predict(fashion.x_test)
    assert np.mean(predicted == fashion.y_test) == report["accuracy"]
    # The int8 soma and axon change the probabilities a little, not the synapses' layers.
    images = fashion.x_test[:50]
    assert 0 < np.abs(int8.predict_proba(images) - model.predict_proba(images)).max() < 0.05
    assert np.array_equal(int8.membrane(images), model.membrane(images))
    assert np.array_equal(int8.dendrites(images[:2]), model.dendrites(images[:2]))
    # Saved and pickled, the same file; it has no f32 state dict.
    int8.save(tmp_path / "copy.safetensors")
    assert (tmp_path / "copy.safetensors").read_bytes() == int8_path.read_bytes()
    assert np.array_equal(pickle.loads(pickle.dumps(int8)).predict_proba(images),
                          int8.predict_proba(images))
    with pytest.raises(ValueError, match="int8 model has no f32 state dict"):
        int8.state_dict()


@pytest.mark.parametrize("x, message", [
    (np.zeros((2, 32, 32), np.uint8), "x has shape (2, 32, 32)"),
    (np.zeros((2, 3, 28, 28), np.uint8), "x has shape (2, 3, 28, 28)"),
    (np.zeros((28, 28), np.uint8), "x has shape (28, 28)"),
    (np.zeros(784, np.uint8), "x has shape (784,)"),
    (np.zeros((2, 28, 28), np.int32), "x has dtype int32"),
    (np.zeros((2, 28, 28), np.float16), "x has dtype float16"),
    ([[0] * 28] * 28, "x must be a NumPy array"),
    ("images", "x must be a NumPy array"),
])
def test_bad_input_raises_value_error(model, x, message):
    for method in (model.predict_proba, model.predict, model.membrane, model.dendrites):
        with pytest.raises(ValueError) as e:
            method(x)
        assert message in str(e.value)


def test_bad_files_and_settings_raise(model, tmp_path):
    with pytest.raises(FileNotFoundError):
        mdpn.load(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.safetensors"):
        mdpn.load(tmp_path / "junk.safetensors")
    with pytest.raises(ValueError, match="threads"):
        model.predict(np.zeros((1, 28, 28), np.uint8), threads=0)
    with pytest.raises(ValueError, match="unknown data set"):
        mdpn.datasets.load("no-such-set")
