"""The program's tools from Python (inside the neuron, prune, quantize, export, study,
inspect), each compared with what the `mdpn` program writes for the same model and data."""

import csv
import json

import numpy as np
import pytest

import mdpn
from conftest import run_mdpn


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def model_path(cli_run):
    return cli_run / "model.safetensors"


@pytest.fixture(scope="module")
def model(model_path):
    return mdpn.load(model_path)


@pytest.fixture(scope="module")
def inspected(model_path, tmp_path_factory):
    """`mdpn inspect` of the run's model with Fashion-MNIST: its report folder."""
    out = tmp_path_factory.mktemp("inspect") / "cli"
    run_mdpn("inspect", model_path, "--dataset", "fashion-mnist", "--out", out)
    return out


def test_synapse_states_are_the_rows_of_inspects_synapses_csv(model, inspected):
    rows = read_csv(inspected / "synapses.csv")
    table = model.synapse_states()
    assert len(rows) == 8 * 25 and all(len(v) == len(rows) for v in table.values())
    for key in ["channel", "dendrite", "row", "column"]:
        assert table[key].dtype == np.int64
        assert table[key].tolist() == [int(r[key]) for r in rows]
    for key in ["w", "q", "threshold", "y_low", "y_high"]:
        assert table[key].dtype == np.float32
        assert np.array_equal(table[key], np.array([r[key] for r in rows], dtype=np.float32))
    assert table["state"].tolist() == [r["state"] for r in rows]
    # Another tolerance moves synapses between states as `state_counts.csv` counts them.
    counts = {r["tolerance"]: r for r in read_csv(inspected / "state_counts.csv")}
    loose = model.synapse_states(tolerance=0.5)["state"]
    for state in ["direct", "inverse", "constant-1", "constant-0"]:
        assert int(np.sum(loose == state)) == int(counts["0.5"][state])
    with pytest.raises(ValueError, match="tolerance must be between 0 and 1"):
        model.synapse_states(tolerance=1.5)


def test_dendrite_importance_is_inspects_importance_csv(model, inspected, fashion):
    rows = read_csv(inspected / "importance.csv")
    got = model.dendrite_importance(fashion.x_test, fashion.y_test)
    assert got["rank"].tolist() == [int(r["rank"]) for r in rows]
    assert got["channel"].tolist() == [int(r["channel"]) for r in rows]
    assert got["dendrite"].tolist() == [int(r["dendrite"]) for r in rows]
    assert [f"{100 * v:.2f}" for v in got["accuracy_without"]] == \
        [r["accuracy_without"] for r in rows]
    assert [f"{100 * v:.2f}" for v in got["accuracy_lost"]] == [r["accuracy_lost"] for r in rows]
    # The model's own accuracy is `mdpn eval`'s on the same images.
    assert got["accuracy"] == pytest.approx(np.mean(model.predict(fashion.x_test) == fashion.y_test))
    with pytest.raises(ValueError, match="labels"):
        model.dendrite_importance(fashion.x_test[:5], fashion.y_test[:4])


def test_saliency_is_inspects_saliency_csv(model, inspected, fashion):
    rows = read_csv(inspected / "saliency.csv")
    expected = np.zeros((3, 1, 28, 28), dtype=np.float32)
    for r in rows:
        expected[int(r["image"]), int(r["channel"]), int(r["row"]), int(r["column"])] = \
            np.float32(r["saliency"])
    got = model.saliency(fashion.x_test[:3])
    assert got.shape == (3, 1, 28, 28) and got.dtype == np.float32
    # One image at a time, as inspect computes it: the same bits.
    for i in range(3):
        assert np.array_equal(model.saliency(fashion.x_test[i:i + 1])[0], expected[i])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    # The predicted classes are those of images.csv.
    predicted = [int(r["predicted"]) for r in read_csv(inspected / "images.csv")]
    np.testing.assert_array_equal(model.saliency(fashion.x_test[:3], classes=predicted), got)


def test_prune_gives_mdpn_prunes_model_file(model, model_path, fashion, tmp_path):
    out = tmp_path / "cli-pruned.safetensors"
    report = json.loads(run_mdpn(
        "prune", model_path, "--dataset", "fashion-mnist", "--out", out, "--max-drop", "0.5",
        "--fine-tune", "1", "--samples", "3000", "--rounds", "1", "--json"))
    train, val, _ = mdpn.datasets.split(len(fashion.x_train), len(fashion.x_test), seed=0)
    pruned, done = mdpn.prune(
        model, fashion.x_train[val], fashion.y_train[val], x_train=fashion.x_train[train],
        y_train=fashion.y_train[train], max_drop=0.5, fine_tune=1, samples=3000)
    assert done["removed_dendrites"] == report["removed_dendrites"]
    assert done["synapses_fixed"] == report["synapses_fixed"]
    assert done["constant_dendrites"] == report["constant_dendrites"]
    assert done["best_epoch"] == report["fine_tuned"]["best_epoch"]
    assert pruned.to_bytes() == out.read_bytes()
    # Without fine-tuning, on the validation images only.
    quick, done = mdpn.prune(model, fashion.x_train[val], fashion.y_train[val])
    assert done["best_epoch"] is None and quick.config["dendrites"] <= 8
    with pytest.raises(ValueError, match="fine_tune trains on x_train"):
        mdpn.prune(model, fashion.x_train[val], fashion.y_train[val], fine_tune=1)


def test_quantize_gives_mdpn_quantizes_file(model, model_path, fashion, tmp_path):
    out = tmp_path / "cli-int8.safetensors"
    run_mdpn("quantize", model_path, "--out", out, "--dataset", "fashion-mnist")
    int8 = mdpn.quantize(model, fashion.x_train[:10000])
    assert int8.to_bytes() == out.read_bytes()
    assert "int8" in repr(int8)
    with pytest.raises(ValueError, match="int8 model has no"):
        mdpn.quantize(int8, fashion.x_train[:10])
    with pytest.raises(ValueError, match="uint8"):
        mdpn.quantize(model, fashion.x_train[:10].astype(np.float32))
    # int4 soma weights: the program's file, bit for bit, and about half the soma's bytes.
    out4 = tmp_path / "cli-int4.safetensors"
    run_mdpn("quantize", model_path, "--out", out4, "--dataset", "fashion-mnist",
             "--weight-bits", "4")
    int4 = mdpn.quantize(model, fashion.x_train[:10000], weight_bits=4)
    assert int4.to_bytes() == out4.read_bytes()
    c = model.config
    features = c["dendrites"] * ((c["image_size"] - c["window"] + 1) // c["pool"]) ** 2
    saved = len(int8.to_bytes()) - len(int4.to_bytes())
    assert abs(saved - c["hidden"] * features // 2) < 64
    with pytest.raises(ValueError, match="8 or 4 bits, not 3"):
        mdpn.quantize(model, fashion.x_train[:10], weight_bits=3)


def test_export_onnx_writes_mdpn_exports_graph(model, model_path, fashion, tmp_path):
    for what, m, path in [("f32", model, model_path),
                          ("int8", mdpn.quantize(model, fashion.x_train[:1000]), None)]:
        if path is None:
            path = tmp_path / "int8.safetensors"
            m.save(path)
        run_mdpn("export", path, "--format", "onnx", "--out", tmp_path / f"cli-{what}.onnx")
        m.export_onnx(tmp_path / f"py-{what}.onnx")
        assert (tmp_path / f"py-{what}.onnx").read_bytes() == \
            (tmp_path / f"cli-{what}.onnx").read_bytes()


def test_export_c_and_rust_write_mdpn_exports_sources(model, fashion, tmp_path):
    int8 = mdpn.quantize(model, fashion.x_train[:1000])
    path = tmp_path / "int8.safetensors"
    int8.save(path)
    for fmt, names in [("c", ["mdpn.h", "mdpn.c"]), ("rust", ["mdpn_model.rs"])]:
        run_mdpn("export", path, "--format", fmt, "--out", tmp_path / f"cli-{fmt}")
        getattr(int8, f"export_{fmt}")(tmp_path / f"py-{fmt}")
        for name in names:
            assert (tmp_path / f"py-{fmt}" / name).read_bytes() == \
                (tmp_path / f"cli-{fmt}" / name).read_bytes()
    with pytest.raises(ValueError, match="takes an int8 model"):
        model.export_c(tmp_path / "f32-c")
    assert not (tmp_path / "f32-c").exists()


def test_inspect_writes_the_report_of_mdpn_inspect(model_path, inspected, tmp_path):
    out = mdpn.inspect(model_path, dataset="fashion-mnist", out=inspected.parent / "py")
    assert out == inspected.parent / "py"
    names = sorted(p.name for p in inspected.iterdir())
    assert sorted(p.name for p in out.iterdir()) == names
    for name in ["synapses.csv", "state_counts.csv", "dendrite_states.csv", "images.csv",
                 "saliency.csv", "importance.csv"]:
        assert (out / name).read_bytes() == (inspected / name).read_bytes(), name
    assert (out / "report.html").read_text() == (inspected / "report.html").read_text()
    # A model in memory is saved into the folder first.
    again = mdpn.inspect(mdpn.load(model_path), out=tmp_path / "mem")
    assert (again / "model.safetensors").is_file() and (again / "report.html").is_file()
    with pytest.raises(ValueError, match="--tolerance must be between 0 and 1"):
        mdpn.inspect(model_path, out=tmp_path / "bad", tolerance=2)


STUDY = dict(runs=1, epochs=1, limit=300, models=["mdpn", "mlp"], ablate={"dendrites": [4]})


def test_study_writes_mdpn_studys_folder_and_returns_its_summary(tmp_path):
    cli, py = tmp_path / "cli", tmp_path / "py"
    run_mdpn("study", "--datasets", "fashion-mnist", "--runs", 1, "--epochs", 1, "--limit", 300,
             "--models", "mdpn,mlp", "--ablate", "dendrites=4", "--out", cli)
    table = mdpn.study("fashion-mnist", out=py, **STUDY)
    expected = json.loads((cli / "summary.json").read_text())
    assert table["model"].tolist() == [r["model"] for r in expected] == \
        ["mdpn", "mdpn[dendrites=4]", "mlp"]
    for key in ["test_accuracy_mean", "best_epoch_mean", "parameters", "model_bytes"]:
        assert table[key].tolist() == [r[key] for r in expected], key
    # The int8 and int4 models of every run, the baseline's too.
    for key in ["int8_bytes", "int8_test_accuracy_mean", "int4_bytes", "int4_test_accuracy_mean"]:
        assert table[key].tolist() == [r[key] for r in expected], key
    assert not np.isnan(table["int4_test_accuracy_mean"]).any()
    for run in ["mdpn/seed0", "mdpn_dendrites-4/seed0", "mlp/seed0"]:
        for name in ["model.safetensors", "model-int8.safetensors", "model-int4.safetensors"]:
            a = cli / "runs" / "fashion-mnist" / run / name
            assert (py / "runs" / "fashion-mnist" / run / name).read_bytes() == a.read_bytes()
    for name in ["summary.md", "summary.csv", "report.html"]:
        assert (py / name).is_file()
    # Run again, the study is finished: every run is skipped, the same summary comes back.
    again = mdpn.study("fashion-mnist", out=py, **STUDY)
    assert again["test_accuracy_mean"].tolist() == table["test_accuracy_mean"].tolist()
    with pytest.raises(ValueError, match="unknown setting `colour`"):
        mdpn.study("fashion-mnist", out=tmp_path / "bad", ablate={"colour": ["red"]}, **{
            k: v for k, v in STUDY.items() if k != "ablate"})


def test_every_public_function_has_a_docstring():
    for f in [mdpn.load, mdpn.prune, mdpn.quantize, mdpn.study, mdpn.inspect,
              mdpn.Model.synapse_states, mdpn.Model.dendrite_importance, mdpn.Model.saliency,
              mdpn.Model.export_onnx, mdpn.Model.export_c, mdpn.Model.export_rust,
              mdpn.Model.predict_proba]:
        assert f.__doc__ and len(f.__doc__.strip()) > 40, f
