"""AppTest for the class side of Latent sliders and Manifold (issues 16 and 17): a conditional
model gets a class picker and is decoded under the chosen class (the pad's data, the server's
fallback image, the manifold), the classifier's reading sits beside the live decode, the
style grid draws one z per row in every class, and the class map tints tiles by the reading.
Unconditional models keep their pages as before (no class picker, the same pad data)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import CVAE, MLP, open_page
from latent_pad_helpers import pad_data, release
from PIL import Image
from streamlit.testing.v1 import AppTest

from vae_core import decode_with_spec, export_decoder, load_checkpoint, read_digit

ROOT = Path(__file__).resolve().parents[2]

def readings(at: AppTest) -> list[str]:
    """The server's readings; where the pad decodes, it reads the digit itself (issue 26)."""
    return [m.value for m in at.markdown if "The digit classifier reads" in m.value]


def pad_reads(at: AppTest, model: torch.nn.Module) -> int:
    """The class the pad's classifier reads in its digit (the Python reference of both)."""
    data = pad_data(at)
    assert data["reader"] is not None and readings(at) == []  # one reading: the pad's
    return read_digit(browser_digit(data, model).astype(np.float32))[0]


def figure_image(at: AppTest, key: str) -> np.ndarray:
    """The image drawn by the Plotly chart `key` (its go.Image's PNG source)."""
    found = [e for e in at.get("plotly_chart") if key in e.proto.id]
    assert len(found) == 1, [e.proto.id for e in at.get("plotly_chart")]
    src = json.loads(found[0].proto.spec)["data"][0]["source"]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))


def browser_digit(data: dict, model: torch.nn.Module) -> np.ndarray:
    """What the pad's decoder draws at data's z and class (the spec it runs, in NumPy)."""
    spec, weights = export_decoder(model)
    assert data["decoder"]["spec"] == spec
    return decode_with_spec(spec, weights, np.array([data["z"]]), data["label"])[0]


# --- Latent sliders --------------------------------------------------------------------------
def test_sliders_class_picker_changes_the_pads_digit_and_the_reading() -> None:
    at = open_page("sliders", CVAE)
    model = load_checkpoint(ROOT / "checkpoints" / CVAE).model
    first = pad_data(at)
    assert first["label"] == 0 and at.radio(key="sl_class").options == [str(d) for d in range(10)]
    assert pad_reads(at, model) == 0
    for k in (3, 7):
        at.radio(key="sl_class").set_value(k).run()
        data = pad_data(at)
        assert not at.exception and data["label"] == k
        assert data["decoder"]["hash"] == first["decoder"]["hash"]  # no new download
        assert np.abs(browser_digit(data, model) - browser_digit(first, model)).max() > 0.5
        assert pad_reads(at, model) == k
    release(at, [2.5, -2.5])  # the reading follows the z Python holds, class kept
    assert pad_data(at)["z"] == [2.5, -2.5] and pad_data(at)["label"] == 7
    assert pad_reads(at, model) == 7
    assert any("decoder's **7** at every style" in c.value for c in at.caption)


def test_sliders_plane_shows_style_codes_encoded_with_their_labels() -> None:
    """The pad's dots for a conditional model are q(z|x, y) means: the classes overlap (the
    label has left z), unlike the unconditional model's clusters."""
    from ui.latent_pad import _points
    from ui.state import encoded, get_model, test_set

    _, labels, _ = test_set("mnist")

    def centre_spread(model: str) -> float:
        ck = get_model(str(ROOT / "checkpoints" / model))
        mu = encoded(ck)[0]
        blob = _points(str(ck.path), 0.0, "mnist", mu)
        xy = np.frombuffer(blob.data[:5000 * 8], "<f4").reshape(5000, 2)
        assert np.allclose(xy, mu[:5000])
        centres = np.stack([mu[labels == k].mean(0) for k in range(10)])
        return float(np.linalg.norm(centres - mu.mean(0), axis=1).mean() / mu.std(0).mean())

    if_labelled, plain = centre_spread(CVAE), centre_spread(MLP)
    print(f"class centres / code spread: conditional {if_labelled:.2f}, unconditional "
          f"{plain:.2f}")
    assert if_labelled < 0.4 and plain > 0.7


def test_sliders_fallback_decodes_the_chosen_class_on_the_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.latent_pad

    monkeypatch.setattr(ui.latent_pad, "unavailable", lambda ck: "a test says so")
    at = open_page("sliders", CVAE)
    before = at.image[0].proto.imgs[0].url
    at.radio(key="sl_class").set_value(4).run()
    assert not at.exception and at.image[0].proto.imgs[0].url != before
    assert readings(at)[0].startswith("The digit classifier reads **4**")


def test_sliders_unconditional_model_has_no_class_and_a_reading() -> None:
    at = open_page("sliders", MLP)
    assert not [r for r in at.radio if r.key == "sl_class"]
    assert pad_data(at)["label"] is None
    assert pad_reads(at, load_checkpoint(ROOT / "checkpoints" / MLP).model) in range(10)
    fashion = open_page("sliders", "fashion-mlp-2d")  # the classifier reads digits only
    assert not readings(fashion) and pad_data(fashion)["reader"] is None
    assert any("No classifier reading" in m.value for m in fashion.markdown)


# --- Manifold --------------------------------------------------------------------------------
def test_manifold_of_the_chosen_class_and_its_class_map() -> None:
    at = open_page("manifold", CVAE)
    assert at.radio(key="mf_view").value == "manifold"
    zero = figure_image(at, "mf_figure")
    at.radio(key="mf_class").set_value(4).run()
    four = figure_image(at, "mf_figure")
    assert zero.shape == four.shape and np.abs(zero.astype(int) - four).mean() > 10
    at.toggle(key="mf_class_map").set_value(True).run()
    assert not at.exception
    tinted = figure_image(at, "mf_figure")
    assert tinted.ndim == 3 and tinted.shape[2] == 3  # RGB: ink in its class colour
    tally = [c.value for c in at.caption if c.value.startswith("Class map")]
    assert len(tally) == 1 and "(4: " in tally[0]  # the class drawn most is the chosen one


def test_style_grid_draws_each_z_in_every_class() -> None:
    at = open_page("manifold", CVAE)
    at.radio(key="mf_view").set_value("style").run()
    at.slider(key="mf_rows").set_value(4).run()
    assert not at.exception
    grid = figure_image(at, "mf_style_figure")
    assert grid.shape[:2] == (28 * 4, 28 * 10)
    at.radio(key="mf_style").set_value("random").run()
    assert figure_image(at, "mf_style_figure").shape[:2] == (28 * 4, 28 * 10)
    at.toggle(key="mf_class_map").set_value(True).run()
    hits = [c.value for c in at.caption if "column's class" in c.value]
    assert hits and int(hits[0].split(" in ")[1].split(" of ")[0]) >= 38, hits  # 38 of 40


def test_manifold_unconditional_model_unchanged_and_class_map() -> None:
    from ui.derived import manifold_image
    from ui.figures import png

    at = open_page("manifold", MLP)
    assert not [r for r in at.radio if r.key in ("mf_view", "mf_class")]
    ck = load_checkpoint(ROOT / "checkpoints" / MLP)
    grid, _ = manifold_image(ck, 20, 3.0)
    want = np.asarray(Image.open(io.BytesIO(png(grid))))
    assert np.array_equal(figure_image(at, "mf_figure"), want)
    at.toggle(key="mf_class_map").set_value(True).run()
    tally = [c.value for c in at.caption if c.value.startswith("Class map")]
    assert tally and "10 classes read" in tally[0], tally  # where the decoder draws each digit
    fashion = open_page("manifold", "fashion-mlp-2d")
    fashion.toggle(key="mf_class_map").set_value(True).run()
    assert not fashion.exception and "reads handwritten digits" in fashion.warning[0].value


def test_a_missing_classifier_is_a_note_not_a_crash(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import vae_core.classifier

    monkeypatch.setattr(vae_core.classifier, "DEFAULT_DIR", tmp_path)  # no classifier files
    at = open_page("sliders", CVAE)
    assert pad_data(at)["reader"] is None  # the page reads nothing live either
    assert any(m.value.startswith("No classifier reading:") for m in at.markdown)
    mf = open_page("manifold", MLP)
    mf.slider(key="mf_n").set_value(7).run()  # a grid no other test has read (cache)
    mf.toggle(key="mf_class_map").set_value(True).run()
    assert not mf.exception and mf.warning[0].value.startswith("No class map:")
    assert len(figure_image(mf, "mf_figure").shape) == 2  # the plain grey grid


def test_set_from_a_digit_takes_its_style_and_keeps_the_class() -> None:
    """'Can I write a 3 in the style of this 7?': the digit's style code (encoded with its
    own label), drawn in the class picked."""
    from ui.state import encoded, get_model, test_set

    at = open_page("sliders", CVAE)
    at.radio(key="sl_class").set_value(3).run()
    _, labels, _ = test_set("mnist")
    seven = int(np.flatnonzero(labels == 7)[0])
    at.number_input(key="sl_digit").set_value(seven)
    at.button(key="sl_from_digit").click().run()
    ck = get_model(str(ROOT / "checkpoints" / CVAE))
    mu = encoded(ck)[0][seven]
    assert pad_data(at)["z"] == [round(float(v), 2) for v in mu]
    assert pad_data(at)["label"] == 3 and pad_reads(at, ck.model) == 3
