"""A model this project did not train, as a researcher brings it: plain torch.nn graphs
exported with torch.onnx (tests/foreign_models.py), zipped and uploaded in the sidebar. The pad
decodes it in the browser equal to onnxruntime, and Manifold, Scatter, Reconstruct and Generate
work on it; a decoder without an encoder gets one line on the pages that encode."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from e2e_helpers import assert_healthy, goto, nav_to, screenshot, wait_for_app
from foreign_models import write_foreign
from page_helpers import digit_png, upload as upload_image

from ui.latent_pad import Blob
from vae_core import export_decoder, load_checkpoint

pytestmark = pytest.mark.e2e

SIDEBAR = '[data-testid="stSidebar"]'
UPLOAD_INPUT = f'{SIDEBAR} [data-testid="stFileUploader"] input[type="file"]'
NO_ENCODER = "has no encoder"


def zipped(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"{folder.name}/{f.name}")
    return buf.getvalue()


def upload_model(page, folder: Path) -> None:
    page.locator(SIDEBAR).get_by_text("Upload a model").click()
    page.locator(UPLOAD_INPUT).wait_for(state="attached", timeout=30_000)
    page.locator(UPLOAD_INPUT).set_input_files(
        {"name": f"{folder.name}.zip", "mimeType": "application/zip",
         "buffer": zipped(folder)})
    wait_for_app(page, expect_rerun=True, timeout=120)
    assert_healthy(page, f"after uploading {folder.name}")
    assert f"{folder.name} · ONNX" in page.locator(SIDEBAR).inner_text()


def wait_pad(page, folder: Path) -> None:
    """Wait until the browser holds this model's decoder (translated from its ONNX graph)."""
    digest = Blob.of(export_decoder(load_checkpoint(folder).model)[1]
                     .astype("<f4").tobytes()).hash
    page.wait_for_function(
        "h => { const s = window.latentPadStats; return !!s && s.ready && s.model === h; }",
        arg=digest, timeout=120_000)


def onnx_means(folder: Path, z: np.ndarray) -> np.ndarray:
    logits = ort.InferenceSession(str(folder / "decoder.onnx")).run(
        None, {"z": z.astype(np.float32)})[0].reshape(len(z), 784)
    return 1 / (1 + np.exp(-logits))


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_a_foreign_model_with_an_encoder_works_on_every_page(page, tmp_path, kind):
    folder = write_foreign(tmp_path / f"their-{kind}", kind, 2)
    goto(page, "/sliders")
    upload_model(page, folder)
    wait_pad(page, folder)
    z = np.array([[0.0, 0.0], [1.5, -2.0], [-2.5, 0.7]])
    got = np.array(page.evaluate("zs => zs.map(z => window.latentPadDecode(z))", z.tolist()))
    np.testing.assert_allclose(got, onnx_means(folder, z), atol=1e-4)
    page.get_by_test_id("latent-pad-plane").wait_for(state="visible", timeout=30_000)
    screenshot(page, f"foreign-{kind}-sliders")
    for stem in ("manifold", "scatter", "generate"):
        nav_to(page, stem)
        assert_healthy(page, f"{stem} on a foreign {kind} model")
        assert NO_ENCODER not in page.locator("body").inner_text()
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
    nav_to(page, "reconstruct")
    upload_image(page, "seven.png", digit_png(0))
    page.locator('[data-testid="stMain"] [data-testid="stImage"]').filter(
        has_text="reconstruction").first.wait_for(state="visible", timeout=60_000)
    assert_healthy(page, f"reconstruct on a foreign {kind} model")
    screenshot(page, f"foreign-{kind}-reconstruct")


def test_a_foreign_decoder_without_an_encoder_says_so_on_the_pages_that_encode(page, tmp_path):
    folder = write_foreign(tmp_path / "their-decoder", "conv", 2, encoder=False)
    goto(page, "/manifold")
    upload_model(page, folder)
    assert "ONNX (decoder only)" in page.locator(SIDEBAR).inner_text()
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
    for stem in ("scatter", "reconstruct"):
        nav_to(page, stem)
        assert_healthy(page, f"{stem} without an encoder")
        alerts = page.locator('[data-testid="stAlertContentInfo"]').filter(has_text=NO_ENCODER)
        assert alerts.count() == 1, page.locator("body").inner_text()[:2000]
    nav_to(page, "sliders")
    wait_pad(page, folder)
    assert_healthy(page, "sliders without an encoder")
    screenshot(page, "foreign-decoder-only-sliders")
