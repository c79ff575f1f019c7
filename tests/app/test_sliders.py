"""AppTest for Latent sliders: the range keeps z, the caption says where the image is, the
map has axes, and a model's unused dimensions are marked.

z is read from the latent pad's data (or the server-side sliders where the page falls back to
them) and set as the pad's release would set it (tests/latent_pad_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from latent_pad_helpers import pad, pad_data, release
from streamlit.testing.v1 import AppTest

from ui.latent_map import MAP_MARGIN, click_to_latent, latent_to_px
from ui.state import MODEL_KEY

ROOT = Path(__file__).resolve().parents[2]


def sliders(model: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    if model:
        at.session_state[MODEL_KEY] = str(ROOT / "checkpoints" / model)
    at.run()
    at.switch_page("pages/sliders.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def z(at: AppTest) -> list[float]:
    if pad(at) is not None:
        return pad_data(at)["z"]
    return [s.value for s in at.slider if s.key.startswith("z_")]


def test_changing_the_range_keeps_z_and_clips_only_what_does_not_fit() -> None:
    at = sliders()
    at.button(key="sl_reset").click().run()
    at.number_input(key="sl_range").increment().run()  # 3.0 -> 3.5
    assert not at.exception
    assert z(at) == [0.0, 0.0]
    release(at, [2.5, -0.75])
    at.number_input(key="sl_range").set_value(6.0).run()
    assert z(at) == [2.5, -0.75]
    at.number_input(key="sl_range").set_value(1.0).run()
    assert z(at) == [1.0, -0.75]
    assert pad_data(at)["range"] == 1.0


def test_caption_says_where_the_image_is(monkeypatch: pytest.MonkeyPatch) -> None:
    for model in (None, "mnist-conv-16d"):  # the pad draws it right of the plane or sliders
        assert any("on the right" in c.value for c in sliders(model).caption)
    import ui.latent_pad

    monkeypatch.setattr(ui.latent_pad, "unavailable", lambda ck: "a test says so")
    two_d = sliders()  # the server-side fallback draws it under the sliders
    assert any("under the sliders" in c.value for c in two_d.caption)


def test_map_click_maps_back_through_the_margins() -> None:
    size, e = 420, 3.2
    for x, y in [(0.0, 0.0), (-2.5, 1.0), (3.0, -3.0)]:
        px, py = latent_to_px(x, y, e, size)
        for shown in (size + MAP_MARGIN[0], 300):  # full size, and shrunk by the browser
            k = shown / (size + MAP_MARGIN[0])
            click = {"x": (px + MAP_MARGIN[0]) * k, "y": py * k, "width": shown}
            assert click_to_latent(click, e, size) == pytest.approx((x, y), abs=1e-9)


def test_inactive_dimensions_are_marked() -> None:
    at = sliders("mnist-mlp-50d")
    labels = pad_data(at)["dims"]
    assert len(labels) == 50
    inactive = [lab for lab in labels if "inactive" in lab]
    # metrics.json (evaluate --save) found 30 of 50 units active on the same test set
    assert len(inactive) == 20, labels
    assert labels[0].startswith("z0 · inactive") and labels[3] == "z3"


def reading_lines(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "classifier reads" in m.value]


def test_the_classifier_reading_has_one_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pad reads the digit in the browser (its `reader`); the server's sentence under it
    said it again. The server reads only where the page falls back to server-side sliders."""
    at = sliders()
    assert pad_data(at)["reader"] is not None
    assert reading_lines(at) == []
    import ui.latent_pad

    monkeypatch.setattr(ui.latent_pad, "unavailable", lambda ck: "a test says so")
    assert len(reading_lines(sliders())) == 1


def test_slider_labels_are_short_and_the_detail_is_in_a_caption() -> None:
    """'z0 · inactive (KL 0.00)' was cut in the pad's label column: the label keeps the mark,
    the caption says what it means and their KL."""
    at = sliders("mnist-mlp-50d")
    labels = pad_data(at)["dims"]
    assert max(len(lab) for lab in labels) <= len("z49 · inactive"), labels
    assert all("KL" not in lab for lab in labels)
    note = [c.value for c in at.caption if "inactive" in c.value and "KL" in c.value]
    assert len(note) == 1 and "20 of 50" in note[0], note
    assert all(lab == f"z{i}" for i, lab in enumerate(pad_data(sliders("mnist-conv-16d"))["dims"]))
