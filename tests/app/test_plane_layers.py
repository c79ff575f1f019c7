"""AppTest for the plane layers (issue 20, item 4): the Sliders pad's hole map, round-trip
field and per-pixel cost toggles, and the Scatter page's hole map and round-trip field, on
mnist-mlp-2d and mnist-cvae-2d; a model with more than two dimensions says why it has none."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from latent_pad_helpers import pad_data, release
from streamlit.testing.v1 import AppTest
from apptest_helpers import CVAE, MLP, open_page

from ui.plane_layers import FIELD_ARROWS, HOLE_CELLS
from vae_core import decoded_cost, load_checkpoint, load_split

ROOT = Path(__file__).resolve().parents[2]
LAYER_BYTES = 4 * (HOLE_CELLS ** 2 + 2 * FIELD_ARROWS ** 2)


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


@pytest.mark.parametrize("model", [MLP, CVAE])
def test_pad_layers_follow_the_toggles(model: str) -> None:
    at = open_page("sliders", model)
    assert pad_data(at)["layers"] is None and pad_data(at)["cost"] is None
    at.toggle(key="sl_holes").set_value(True).run()
    layers = pad_data(at)["layers"]
    assert layers["holes"] and not layers["field"] and layers["cells"] == HOLE_CELLS
    assert layers["arrays"]["bytes"] == LAYER_BYTES
    hole = r"\*\*purple\*\*: holes, .* \(\d+% of the plane within \|z\| ≤ 3.5"
    assert re.search(hole, captions(at))
    assert ("the same for every class" in captions(at)) == (model == CVAE)
    at.toggle(key="sl_field").set_value(True).run()
    assert pad_data(at)["layers"]["field"] and "**orange arrows**" in captions(at)
    at.toggle(key="sl_holes").set_value(False).run()
    assert pad_data(at)["layers"] == {**layers, "holes": False, "field": True}
    first = layers["arrays"]["hash"]
    at.number_input(key="sl_range").set_value(2.0).run()  # a new range: new arrays
    assert pad_data(at)["layers"]["arrays"]["hash"] != first
    at.toggle(key="sl_field").set_value(False).run()
    assert pad_data(at)["layers"] is None
    assert not at.exception


def test_conditional_pad_layers_change_with_the_class() -> None:
    at = open_page("sliders", CVAE)
    at.toggle(key="sl_field").set_value(True).run()
    zero = pad_data(at)["layers"]["arrays"]["hash"]
    at.radio(key="sl_class").set_value(3).run()
    assert pad_data(at)["label"] == 3
    assert pad_data(at)["layers"]["arrays"]["hash"] != zero  # decoded and encoded under 3


@pytest.mark.parametrize("model", [MLP, CVAE])
def test_pad_cost_target_and_server_readout(model: str) -> None:
    at = open_page("sliders", model)
    assert at.number_input(key="sl_cost_digit").disabled
    at.toggle(key="sl_cost").set_value(True).run()
    at.number_input(key="sl_cost_digit").set_value(3).run()
    cost = pad_data(at)["cost"]
    split = load_split("mnist", False, ROOT / "data" / "mnist", limit=10)
    x = split.images[3].float() / 255
    assert cost["index"] == 3 and cost["likelihood"] == "bernoulli"
    assert np.allclose(cost["pixels"], x.reshape(-1).numpy(), atol=0)
    y = None
    if model == CVAE:
        at.radio(key="sl_class").set_value(7).run()
        y = 7
    release(at, [0.5, -1.25])
    assert not at.exception
    m = load_checkpoint(ROOT / "checkpoints" / model).model.eval()
    c = decoded_cost(m, torch.tensor([0.5, -1.25]), x, y)
    text = captions(at)
    got = re.search(r"−log p\(x\|z\) = \*\*([0-9.]+) nats\*\* against test digit #3", text)
    assert got and abs(float(got.group(1)) - float(c["cost"].sum())) < 0.006, text
    kl = float(c["kl_dims"].sum())
    assert f"q(z|x̂) is {kl:.2f} nats (z0 {float(c['kl_dims'][0]):.2f}" in text


def test_a_16d_model_says_its_layers_need_a_plane() -> None:
    at = open_page("sliders", "mnist-conv-16d")
    assert "need a 2-D latent plane; mnist-conv-16d has 16 dimensions" in captions(at)
    assert not [t for t in at.toggle if t.key in ("sl_holes", "sl_field")]
    at.toggle(key="sl_cost").set_value(True).run()  # the cost needs no plane
    assert pad_data(at)["cost"]["index"] == 0 and pad_data(at)["layers"] is None
    at = open_page("scatter", "mnist-conv-16d")
    assert "need a 2-D latent plane" in captions(at)
    assert not [c for c in at.checkbox if c.key.startswith("scatter_")]  # (the sidebar's
    # Lesson link panel has checkboxes of its own)


def traces(at: AppTest) -> list[dict]:
    return json.loads(at.get("plotly_chart")[0].proto.spec)["data"]


def array(v: list | dict) -> np.ndarray:
    """A trace's array: a list, or Plotly's typed-array form {dtype, bdata, shape}."""
    if isinstance(v, list):
        return np.array([np.nan if e is None else e for e in v], dtype=float)
    shape = tuple(int(d) for d in str(v.get("shape", "-1")).split(","))
    return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).reshape(shape)


@pytest.mark.parametrize("model", [MLP, CVAE])
def test_scatter_layers(model: str) -> None:
    at = open_page("scatter", model)
    n = len(traces(at))
    at.checkbox(key="scatter_holes").check().run()
    data = traces(at)
    assert len(data) == n + 1 and data[0]["type"] == "heatmap"  # under the points
    z = array(data[0]["z"])
    assert z.shape == (90, 90) and np.nanmin(z) >= 1  # only holes: p > 10 q, log10 >= 1
    assert re.search(r"Purple: \d+% of the plane within \|z\| ≤ 3.5 .* is in holes",
                     captions(at))
    at.checkbox(key="scatter_field").check().run()
    data = traces(at)
    arrows = [t for t in data if t.get("name", "").startswith("round trip")]
    assert len(arrows) == 1 and len(array(arrows[0]["x"])) == 3 * FIELD_ARROWS ** 2
    if model == CVAE:
        before = array(arrows[0]["x"])
        at.selectbox(key="scatter_field_class").set_value(3).run()
        after = [t for t in traces(at) if t.get("name", "").startswith("round trip")][0]["x"]
        assert not np.allclose(array(after), before, equal_nan=True)
    assert "orange arrows" in captions(at)
    at.checkbox(key="scatter_holes").uncheck().run()
    at.checkbox(key="scatter_field").uncheck().run()
    assert len(traces(at)) == n and not at.exception
