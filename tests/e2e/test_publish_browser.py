"""A link to an uploaded model, in Chromium: Copy link says only this browser can open it and
offers to publish it; after Publish the link names the published copy, and a fresh browser
context (another user) opens that link on the same model without a warning."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from e2e_helpers import (REPO_ROOT, assert_healthy, goto, running_server, screenshot,
                         wait_for_app)

pytestmark = pytest.mark.e2e

SIDEBAR = '[data-testid="stSidebar"]'
MAIN = '[data-testid="stMain"]'
POPOVER = '[data-testid="stPopoverBody"]'
UPLOAD_INPUT = f'{SIDEBAR} [data-testid="stFileUploader"] input[type="file"]'
FILES = ("config.json", "model.safetensors", "metrics.json")


def teacher_zip() -> bytes:
    """The bundled mnist-conv-2d as a teacher's own `teacher-model.zip`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in FILES:
            zf.write(REPO_ROOT / "checkpoints" / "mnist-conv-2d" / f, f"teacher-model/{f}")
    return buf.getvalue()


def active_label(page) -> str:
    return page.locator(f'{SIDEBAR} [data-testid="stSelectbox"] input[role="combobox"]'
                        ).first.input_value()


def open_popover(page):
    """The Copy link popover's body, opened if it is closed."""
    body = page.locator(POPOVER)
    if not body.is_visible():
        page.locator(MAIN).get_by_role("button", name="Copy link").click()
    body.wait_for(state="visible", timeout=30_000)
    return body


def popover_link(page) -> str:
    code = open_popover(page).locator("pre code").first
    code.wait_for(state="visible", timeout=30_000)
    return code.inner_text().strip()


def server_z(page) -> str:
    """The "(z0, z1)" of the Sliders caption "z on the server: (...)"."""
    text = page.locator('[data-testid="stCaptionContainer"]').filter(
        has_text="z on the server").first.inner_text()
    return text.split("z on the server: ", 1)[1].split(")", 1)[0] + ")"


def linked_model(url: str) -> str:
    return parse_qs(urlsplit(url).query)["model"][0]


def opens_the_published_model(browser, base_url: str, path: str, name: str, z: str):
    """A fresh browser context on `base_url` + `path`: the published model is active at z,
    with no warning. Returns the context (the caller closes it)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=base_url)
    ctx.set_default_timeout(60_000)
    other = ctx.new_page()
    goto(other, path)
    assert_healthy(other, base_url + path)
    assert active_label(other) == f"{name} (yours)"
    assert f"{name} · CONV" in other.locator(SIDEBAR).inner_text()
    assert server_z(other) == z  # the same point of the same model
    assert "no model called" not in other.locator("body").inner_text()
    assert not other.locator('[data-testid="stAlertContentWarning"]').filter(
        has_text="could not be followed").count()
    return ctx, other


def test_a_published_upload_opens_in_a_fresh_browser(browser, base_url: str, page,
                                                     user_models_dir: Path) -> None:
    goto(page, "/sliders")
    page.locator(SIDEBAR).get_by_text("Upload a model").click()
    page.locator(UPLOAD_INPUT).wait_for(state="attached", timeout=30_000)
    page.locator(UPLOAD_INPUT).set_input_files(
        {"name": "teacher-model.zip", "mimeType": "application/zip", "buffer": teacher_zip()})
    wait_for_app(page, expect_rerun=True, timeout=120)
    assert_healthy(page, "sliders after uploading teacher-model.zip")
    assert "teacher-model (uploaded)" in active_label(page)
    page.locator(MAIN).get_by_role("button", name="Random draw").click()
    wait_for_app(page, expect_rerun=True, timeout=120)
    z = server_z(page)
    assert z != "(0.00, 0.00)", z

    url = popover_link(page)
    assert linked_model(url) == "teacher-model", url
    body = open_popover(page)
    assert "Only this browser can open this link" in body.inner_text()
    assert "Whoever opens it sees" not in body.inner_text()
    screenshot(page, "publish-popover-before")

    body.get_by_role("button", name="Publish to this server").click()
    wait_for_app(page, expect_rerun=True, timeout=120)
    assert_healthy(page, "sliders after Publish")
    url = popover_link(page)
    name = linked_model(url)
    assert name.startswith("teacher-model-") and len(name) == len("teacher-model-") + 8, url
    text = open_popover(page).inner_text()
    assert f"Published as {name}" in text and "Only this browser" not in text, text
    screenshot(page, "publish-popover-after")
    published = user_models_dir / name  # the server's shared models folder
    assert sorted(p.name for p in published.iterdir()) == sorted(FILES)
    for f in FILES:
        assert (published / f).read_bytes() == \
            (REPO_ROOT / "checkpoints" / "mnist-conv-2d" / f).read_bytes()
    assert "teacher-model (uploaded)" in active_label(page)  # this session keeps its upload

    # Someone else, in a fresh browser context, opens the copied link; then on a second server
    # over the same shared models folder (a restart, or another replica of a class).
    path = url.removeprefix(base_url)
    ctx, other = opens_the_published_model(browser, base_url, path, name, z)
    screenshot(other, "publish-fresh-browser")
    ctx.close()
    with running_server(user_models_dir) as again:
        ctx, _ = opens_the_published_model(browser, again.url, path, name, z)
        ctx.close()
