"""The sidebar's model upload and download, as a user does them: a refused file, then a valid
checkpoint zip that becomes the active model; the active model downloaded and uploaded back."""

import io
import zipfile
from pathlib import Path

import pytest
from e2e_helpers import REPO_ROOT, assert_healthy, goto, screenshot, wait_for_app

pytestmark = pytest.mark.e2e

SIDEBAR = '[data-testid="stSidebar"]'
UPLOAD_INPUT = f'{SIDEBAR} [data-testid="stFileUploader"] input[type="file"]'
REFUSED = f'{SIDEBAR} [data-testid="stAlertContentError"]'


def zip_of(folder: str, inside: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in ("config.json", "model.safetensors", "metrics.json"):
            zf.write(REPO_ROOT / "checkpoints" / folder / f, f"{inside}/{f}")
    return buf.getvalue()


def open_upload(page) -> None:
    page.locator(SIDEBAR).get_by_text("Upload a model").click()
    page.locator(UPLOAD_INPUT).wait_for(state="attached", timeout=30_000)


def upload(page, name: str, data: bytes) -> None:
    page.locator(UPLOAD_INPUT).set_input_files(
        {"name": name, "mimeType": "application/zip", "buffer": data})
    wait_for_app(page, expect_rerun=True, timeout=120)


def active_label(page) -> str:
    return page.locator(f'{SIDEBAR} [data-testid="stSelectbox"] input[role="combobox"]'
                        ).first.input_value()


def test_valid_zip_upload_becomes_active_and_clears_earlier_error(page):
    goto(page, "/manifold")
    open_upload(page)
    upload(page, "notes.zip", b"not a zip at all")
    page.locator(REFUSED).first.wait_for(state="visible", timeout=30_000)
    assert "Upload refused" in page.locator(REFUSED).first.inner_text()
    # The refused file does not stay in the uploader, so the next upload is judged on its own.
    assert page.locator(f'{SIDEBAR} [data-testid="stFileUploaderFile"]').count() == 0

    upload(page, "my-conv.zip", zip_of("mnist-conv-2d", "my-conv"))
    assert_healthy(page, "manifold after a valid model upload")
    assert page.locator(REFUSED).count() == 0, "the earlier refusal is still shown"
    assert "my-conv (uploaded)" in active_label(page)
    # One name everywhere: the model card says the same as the picker.
    assert "my-conv · CONV" in page.locator(SIDEBAR).inner_text()
    assert "upload-" not in page.locator("body").inner_text()
    screenshot(page, "sidebar-model-upload")


def test_downloaded_model_uploads_back(page):
    goto(page, "/sliders")
    button = page.locator(SIDEBAR).get_by_role("button", name="Download this model (.zip)")
    button.wait_for(state="visible", timeout=30_000)
    with page.expect_download(timeout=60_000) as dl:
        button.click()
    data = Path(dl.value.path()).read_bytes()
    assert dl.value.suggested_filename == "mnist-mlp-2d.zip"
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    # The bundled default model ships with its training replay; the export keeps it.
    assert sorted(names) == ["mnist-mlp-2d/config.json", "mnist-mlp-2d/metrics.json",
                             "mnist-mlp-2d/model.safetensors", "mnist-mlp-2d/replay.safetensors"]
    open_upload(page)
    upload(page, dl.value.suggested_filename, data)
    assert_healthy(page, "sliders after uploading the downloaded model")
    assert page.locator(REFUSED).count() == 0
    assert "mnist-mlp-2d (uploaded)" in active_label(page)
