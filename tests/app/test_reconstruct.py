"""AppTest for Reconstruct: an uploaded digit is reconstructed and scored, a text file named
.png is refused, drawing waits for ink; with a conditional model "your digit in every class"
read by the digit classifier, and the upload model beside a 2-D model; without the classifier
the page goes on without readings."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import (CONV16, CVAE_DIR, MLP_DIR, UPLOAD, captions, digit_png,
                             open_whole_page, plotly_charts, run_page, upload)

from vae_core import CheckpointError

pytestmark = pytest.mark.usefixtures("empty_user_dir")  # the bundled models only


def test_reconstruct_upload_of_real_digit(empty_user_dir: Path) -> None:
    at = run_page("pages/reconstruct.py")
    assert at.info, "the page should ask for an image first"
    at.file_uploader(key="reconstruct_upload").set_value(
        ("digit.png", digit_png(0), "image/png")).run()
    assert not at.exception
    assert not at.error
    captions = [c for img in at.get("image") for c in img.captions]
    assert any("reconstruction" in c for c in captions)
    metrics = {m.label: m.value for m in at.metric}
    assert math.isfinite(float(metrics["−ELBO (nats)"]))
    assert 0 <= float(metrics["percentile among test images"].rstrip("%")) <= 100
    assert len(plotly_charts(at)) == 2  # latent position and -ELBO histogram


def test_reconstruct_text_file_named_png_is_refused(empty_user_dir: Path) -> None:
    at = run_page("pages/reconstruct.py")
    at.file_uploader(key="reconstruct_upload").set_value(
        ("digit.png", b"this is plain text, not a PNG\n", "image/png")).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "not an image" in at.error[0].value
    assert "−ELBO (nats)" not in [m.label for m in at.metric]
    assert not plotly_charts(at)


def test_reconstruct_canvas_mode_waits_for_a_drawing(empty_user_dir: Path) -> None:
    at = run_page("pages/reconstruct.py")
    at.radio(key="reconstruct_source").set_value("Draw a digit").run()
    assert not at.exception
    assert any("Draw a digit" in i.value for i in at.info)


# --- a conditional model and the digit classifier --------------------------------------------
def test_reconstruct_your_digit_in_every_class() -> None:
    at = upload(open_whole_page("reconstruct", CVAE_DIR), 0)  # test digit 0 is a 7
    picker = at.selectbox(key="reconstruct_label")
    assert picker.value == 7, "the classifier's reading is the suggested label"
    assert any("reads your digit as **7**" in c.value for c in at.caption)
    caps = captions(at)
    assert any(c.startswith("your digit") and "reads 7" in c for c in caps)
    assert any(c.startswith("reconstruction") and "as 7" in c and "reads 7" in c for c in caps)
    every = [c for c in caps if c.startswith("as ")]
    assert [c.split(" ·")[0] for c in every] == [f"as {k}" for k in range(10)]
    # the same style decoded under every label: the classifier reads nearly all as that label
    assert sum(c.startswith(f"as {k} · reads {k} ") for k, c in enumerate(every)) >= 9, every
    assert any("in every class" in s.value for s in at.header)
    assert any("label has left z" in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert np.isfinite(float(metrics["−ELBO (nats)"]))

    picker.set_value(3).run()  # the user overrides the suggestion ...
    assert not at.exception
    assert any(c.startswith("reconstruction") and "as 3" in c for c in captions(at))
    at.run()
    assert at.selectbox(key="reconstruct_label").value == 3, "... and it sticks"
    upload(at, 1)  # a new image (a 2) gets its own suggestion
    assert at.selectbox(key="reconstruct_label").value == 2


def test_reconstruct_shows_the_upload_model_beside_a_2d_model() -> None:
    at = upload(open_whole_page("reconstruct", MLP_DIR), 0)
    assert not [s for s in at.selectbox if s.key == "reconstruct_label"], "no class picker"
    caps = captions(at)
    assert any(c.startswith("reconstruction") and " · reads " in c for c in caps), caps
    assert any(c.startswith("mnist-conv-upload") and "reads 7" in c for c in caps), caps
    assert not [c for c in caps if c.startswith("as ")]
    assert len([e for e in at.main if getattr(e, "type", None) == "plotly_chart"]) == 2


@pytest.mark.parametrize("model", [CONV16, UPLOAD])
def test_reconstruct_shows_no_upload_model_beside_a_large_latent(model: str) -> None:
    at = upload(open_whole_page("reconstruct", model), 3)
    caps = captions(at)
    assert not [c for c in caps if c.startswith("mnist-conv-upload")], caps
    assert any(c.startswith("reconstruction") and " · reads " in c for c in caps), caps


def test_reconstruct_without_the_classifier_goes_on_without_readings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing or damaged classifier costs the readings, not the page."""
    import ui.derived.pictures as pictures

    def broken(*_: object) -> None:
        raise CheckpointError("classifier.safetensors is missing")

    monkeypatch.setattr(pictures, "read_digit", broken)
    pictures._digit_reading.clear()  # readings other tests cached
    at = upload(open_whole_page("reconstruct", CVAE_DIR), 0)
    assert at.selectbox(key="reconstruct_label").value == 0, "no suggestion: the first class"
    assert any("Pick the class of your digit" in c.value for c in at.caption)
    caps = captions(at)
    assert len([c for c in caps if c.startswith("as ")]) == 10
    assert all("no classifier reading" in c for c in caps if c.startswith(("as ", "recon")))


def test_reconstruct_conditional_drawing_waits_for_ink() -> None:
    at = open_whole_page("reconstruct", CVAE_DIR)
    at.radio(key="reconstruct_source").set_value("Draw a digit").run()
    assert not at.exception
    assert any("Draw a digit" in i.value for i in at.info)
