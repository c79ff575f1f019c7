"""Shared links in Chromium: a Latent sliders URL opened in fresh browser contexts on a fresh
server shows the same model, the same z and the same decoded image; the page's "Copy link"
gives such a URL (on Generate too: the same tab and the same images); lesson flags hide pages
and the upload."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from e2e_helpers import REPO_ROOT, assert_healthy, goto, running_server, screenshot, wait_for_app
from page_helpers import image_bytes, main_images

from vae_core import load_checkpoint

pytestmark = pytest.mark.e2e

SERVER_Z = re.compile(r"z on the server: \(([^)]*)\)")
LINK = "/sliders?model=mnist-conv-2d&z=1.23,-0.77"


def open_fresh(browser, base_url: str, path: str):
    """A new browser context (its own Streamlit session) on `path`."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=base_url)
    context.set_default_timeout(60_000)
    page = context.new_page()
    goto(page, path)
    return context, page


def pad_state(page) -> tuple[list[float], list[float], str]:
    """(Python's z from the caption, the pad's z, the digit canvas as a data URL) once the
    pad holds its decoder and has drawn."""
    page.wait_for_function("() => { const s = window.latentPadStats; "
                           "return !!s && s.ready && s.frames > 0; }", timeout=120_000)
    wait_for_app(page)
    assert_healthy(page, page.url)
    text = page.locator('[data-testid="stCaptionContainer"]').filter(
        has_text="z on the server").first.inner_text()
    server = [float(v) for v in SERVER_Z.search(text).group(1).split(", ")]
    pad_z = page.evaluate("window.latentPadStats.z")
    digit = page.get_by_test_id("latent-pad-digit").evaluate("c => c.toDataURL()")
    return server, [round(v, 2) for v in pad_z], digit


def test_a_shared_link_restores_model_z_and_image(browser) -> None:
    with running_server() as srv:  # a fresh server: nothing cached, no session yet
        ctx_a, a = open_fresh(browser, srv.url, LINK)
        ctx_b, b = open_fresh(browser, srv.url, LINK)
        ctx_c, c = open_fresh(browser, srv.url, "/sliders?model=mnist-conv-2d")
        try:
            za, pa, img_a = pad_state(a)
            zb, pb, img_b = pad_state(b)
            zc, _, img_c = pad_state(c)
            assert za == zb == pa == pb == [1.23, -0.77]
            assert img_a == img_b and img_a != img_c and zc == [0.0, 0.0]
            assert "mnist-conv-2d ·" in a.locator('[data-testid="stSidebar"]').inner_text()
            got = np.array(a.evaluate("z => window.latentPadDecode(z)", [1.23, -0.77]))
            vae = load_checkpoint(REPO_ROOT / "checkpoints" / "mnist-conv-2d").model
            with torch.no_grad():
                want = vae.decode(torch.tensor([[1.23, -0.77]])).reshape(784).numpy()
            assert np.abs(got - want).max() <= 1e-4
            screenshot(a, "share-link-sliders")
        finally:
            for ctx in (ctx_a, ctx_b, ctx_c):
                ctx.close()


def test_lesson_flags_hide_pages_and_upload(browser, base_url: str) -> None:
    ctx, page = open_fresh(browser, base_url, "/?hide=train,upload")
    try:
        nav = page.locator('[data-testid="stSidebarNav"]')
        nav.wait_for(state="visible")
        titles = nav.locator('a[data-testid="stSidebarNavLink"]').all_inner_texts()
        assert not any(t.strip().endswith("Train") for t in titles), titles
        assert any("Latent sliders" in t for t in titles), titles
        assert "Upload a model" not in page.locator('[data-testid="stSidebar"]').inner_text()
        assert_healthy(page, "home with hide=train,upload")
    finally:
        ctx.close()


def test_copy_link_reopens_the_same_view(browser, base_url: str) -> None:
    ctx, page = open_fresh(browser, base_url, "/sliders?model=mnist-mlp-2d&z=-1.5,0.25")
    ctx2 = None
    try:
        z, _, img = pad_state(page)
        page.locator('[data-testid="stMain"]').get_by_role("button", name="Copy link").click()
        code = page.locator('[data-testid="stPopoverBody"] pre code').first
        code.wait_for(state="visible")
        url = code.inner_text().strip()
        assert url == f"{base_url}/sliders?model=mnist-mlp-2d&z=-1.50,0.25", url
        ctx2, again = open_fresh(browser, base_url, url.removeprefix(base_url))
        z2, pad2, img2 = pad_state(again)
        assert z == z2 == pad2 == [-1.5, 0.25] and img2 == img
    finally:
        ctx.close()
        if ctx2 is not None:
            ctx2.close()


GENERATE = "/generate?model=mnist-mlp-2d&tab=posterior&digit=7&n=10&seed=3"


def generate_view(page) -> tuple[str, list[bytes]]:
    """(the selected tab, the bytes of every st.image on the page) once the page has run."""
    wait_for_app(page)
    assert_healthy(page, page.url)
    images = main_images(page)
    images.first.wait_for(state="attached")
    tab = page.locator('[data-testid="stMain"] [role="tab"][aria-selected="true"]').inner_text()
    return tab.strip(), [image_bytes(page, images.nth(i)) for i in range(images.count())]


def test_a_copied_generate_link_shows_the_same_tab_and_images(browser, base_url: str) -> None:
    ctx, page = open_fresh(browser, base_url, GENERATE)
    ctx2 = ctx3 = None
    try:
        tab, images = generate_view(page)
        assert tab == "Posterior predictive" and len(images) >= 3
        assert "test #7" in page.locator('[data-testid="stMain"]').inner_text()
        page.locator('[data-testid="stMain"]').get_by_role("button", name="Copy link").click()
        code = page.locator('[data-testid="stPopoverBody"] pre code').first
        code.wait_for(state="visible")
        url = code.inner_text().strip()
        assert url == base_url + GENERATE, url
        ctx2, again = open_fresh(browser, base_url, url.removeprefix(base_url))
        assert generate_view(again) == (tab, images)
        ctx3, plain = open_fresh(browser, base_url, "/generate?model=mnist-mlp-2d")
        plain_tab, plain_images = generate_view(plain)
        assert plain_tab == "Prior samples" and plain_images != images
        screenshot(again, "share-link-generate")
    finally:
        for c in (ctx, ctx2, ctx3):
            if c is not None:
                c.close()
