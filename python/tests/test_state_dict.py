"""Model.from_state_dict on the reference fixtures, computed in float64 by an independent
PyTorch implementation of the authors' model (crates/mdpn/tests/fixtures/README.md)."""

import json

import numpy as np
import pytest
from safetensors import safe_open

import mdpn
from conftest import ROOT

FIXTURES = ROOT / "crates" / "mdpn" / "tests" / "fixtures"
NAMES = ["model.0.params.w", "model.0.params.q", "model.2.fc.weight", "model.2.fc.bias",
         "model.3.fc.weight", "model.3.fc.bias"]


def read(name):
    with safe_open(str(FIXTURES / name), framework="np") as f:
        config = json.loads(f.metadata()["config"])
        return config, {k: f.get_tensor(k) for k in f.keys()}


def close(got, expected):
    """The fixtures' tolerance: within 1e-4 of the largest absolute expected value."""
    assert got.shape == expected.shape
    return np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


@pytest.mark.parametrize("fixture", ["gray_small.safetensors", "rgb_small.safetensors"])
def test_reference_fixtures(fixture):
    config, t = read(fixture)
    state = {name: t[name] for name in NAMES}
    model = mdpn.Model.from_state_dict(state, image_size=config["image_size"],
                                       mean=config["norm_mean"], std=config["norm_std"])
    assert model.config["dendrites"] == config["dendrites"]
    assert model.config["channels"] == config["channels"]
    batch = t["input.u8"].shape[0]
    for x in (t["input.u8"], t["input"]):
        assert close(model.logits(x), t["expected.logits"])
        assert close(model.membrane(x), t["expected.membrane"].reshape(batch, -1))
        dendrites = model.dendrites(x)
        assert close(dendrites, t["expected.dendrites"].reshape(dendrites.shape))
    # The same arrays back, under the same names and shapes.
    back = model.state_dict()
    assert list(back) == NAMES
    for name in NAMES:
        assert back[name].dtype == np.float32 and back[name].shape == state[name].shape
        assert np.array_equal(back[name], state[name])


def test_bad_state_dicts_raise_value_error():
    _, t = read("gray_small.safetensors")
    state = {name: t[name] for name in NAMES}
    with pytest.raises(ValueError, match="no `model.3.fc.bias`"):
        mdpn.Model.from_state_dict({k: v for k, v in state.items() if k != "model.3.fc.bias"})
    with pytest.raises(ValueError, match="does not: extra"):
        mdpn.Model.from_state_dict({**state, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match="model.0.params.w has shape"):
        mdpn.Model.from_state_dict({**state, "model.0.params.w": np.zeros((6, 5))})
    with pytest.raises(ValueError, match="model.2.fc.weight"):
        mdpn.Model.from_state_dict({**state, "model.2.fc.weight": np.zeros((16, 7))})
    with pytest.raises(ValueError, match="class names"):
        mdpn.Model.from_state_dict(state, class_names=["a", "b"])
