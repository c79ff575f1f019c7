"""Lessons in Chromium (ui/lesson.py): a lesson link's flags survive a menu click and a reload,
Copy link keeps them; on a server started with a lesson ($VAE_LESSON) a hidden page opened by
its address shows the note; a link's corrections are named; the teacher's Lesson link panel."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from e2e_helpers import (ARTIFACTS, REPO_ROOT, StreamlitServer, assert_healthy, goto, screenshot,
                         wait_for_app)

pytestmark = pytest.mark.e2e

LESSON = {"hide": ["train,upload"], "lock": ["model"]}
LINK = "/sliders?model=mnist-mlp-2d&hide=train,upload&lock=model"


@pytest.fixture
def ctx_page(browser, base_url: str) -> Iterator:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=base_url)
    context.set_default_timeout(60_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def lesson_server(user_models_dir) -> Iterator[StreamlitServer]:
    """A second server, started as a class would be: `VAE_LESSON` holds for every session."""
    srv = StreamlitServer(REPO_ROOT, user_models_dir=user_models_dir,
                          extra_env={"VAE_LESSON": "hide=train,upload&lock=model"})
    try:
        srv.start(timeout=120)
        yield srv
    finally:
        srv.stop()


def menu(page) -> list[str]:
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.wait_for(state="visible")
    return [t.strip() for t in nav.locator('a[data-testid="stSidebarNavLink"]').all_inner_texts()]


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def assert_lesson_view(page, where: str) -> None:
    """The address holds the lesson; no Train in the menu, no model picker, no upload."""
    page.wait_for_function("() => location.search.includes('lock=model')", timeout=60_000)
    wait_for_app(page)
    assert_healthy(page, where)
    q = query(page)
    assert {k: q.get(k) for k in LESSON} == LESSON, (where, page.url)
    titles = menu(page)
    assert not any(t.endswith("Train") for t in titles) and any("Manifold" in t for t in titles)
    side = page.locator('[data-testid="stSidebar"]')
    assert side.locator('[data-testid="stSelectbox"]').count() == 0, where
    text = side.inner_text()
    assert "Upload a model" not in text and "This lesson keeps its model." in text, where
    assert "mnist-mlp-2d" in text, where


def copy_link_url(page) -> str:
    page.locator('[data-testid="stMain"]').get_by_role("button", name="Copy link").first.click()
    code = page.locator('[data-testid="stPopoverBody"] pre code').first
    code.wait_for(state="visible")
    return code.inner_text().strip()


# Streamlit's frontend probes the page's own path as the server's base URL before its
# parent (streamlit/streamlit#7074, "404 health check when navigating directly to a
# subpage"): these two 404s are its own, on every page opened by its address.
PROBES = {"/_stcore/health", "/_stcore/host-config"}


def test_a_lesson_link_survives_a_menu_click_and_a_reload(ctx_page) -> None:
    page = ctx_page
    missing: list[str] = []
    page.on("response", lambda r: missing.append(urlsplit(r.url).path) if r.status == 404
            else None)
    goto(page, LINK)
    assert_lesson_view(page, "the lesson link")
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.locator('a[data-testid="stSidebarNavLink"]').filter(has_text="Manifold").click()
    page.wait_for_url(lambda u: urlsplit(u).path.endswith("/manifold"), timeout=60_000)
    assert_lesson_view(page, "Manifold after a menu click")
    page.reload(wait_until="domcontentloaded")
    assert_lesson_view(page, "Manifold reloaded")
    assert urlsplit(page.url).path.endswith("/manifold")
    url = copy_link_url(page)
    q = parse_qs(urlsplit(url).query)
    assert {k: q.get(k) for k in LESSON} == LESSON and q["model"] == ["mnist-mlp-2d"], url
    screenshot(page, "lesson-manifold-copy-link")
    assert missing and all(p.removeprefix("/sliders").removeprefix("/manifold") in PROBES
                           and p not in PROBES for p in missing), missing  # nothing of ours


def test_a_lesson_link_is_followed_once(ctx_page) -> None:
    """The user's change after a lesson link stays: the address the page keeps is not taken
    for a new link (a rewritten `hide=upload,train` made the page follow it again)."""
    page = ctx_page
    goto(page, "/manifold?model=mnist-mlp-2d&grid=12&hide=upload,train")
    grid = page.locator('[data-testid="stSlider"]').filter(has_text="Grid size").get_by_role(
        "slider")
    value = lambda: grid.get_attribute("aria-valuenow") or grid.input_value()  # noqa: E731
    assert value() == "12"
    grid.focus()
    page.keyboard.press("ArrowRight")
    wait_for_app(page, expect_rerun=True)
    page.keyboard.press("ArrowRight")
    wait_for_app(page, expect_rerun=True)
    assert value() == "14"
    assert query(page)["hide"] == ["upload,train"] and "grid=14" in copy_link_url(page)


def test_a_lesson_server_shows_the_note_on_a_hidden_page(browser, lesson_server) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        goto(page, f"{lesson_server.url}/train")  # the first page of a fresh server
        assert_healthy(page, "/train on a lesson server")
        main = page.locator('[data-testid="stMain"]')
        main.get_by_text("is not part of this lesson").wait_for()
        assert page.locator("h1").first.inner_text().strip() == "Train"
        assert main.locator("form").count() == 0  # not the Train page's form
        assert not any(t.endswith("Train") for t in menu(page))
        screenshot(page, "lesson-note-train")
        # The URL cannot loosen it: a link with no lesson still has no picker and no Train.
        goto(page, f"{lesson_server.url}/sliders?model=mnist-mlp-2d&z=50,-50")
        side = page.locator('[data-testid="stSidebar"]')
        assert side.locator('[data-testid="stSelectbox"]').count() == 0
        assert "Upload a model" not in side.inner_text()
        warning = main.locator('[data-testid="stAlert"]').filter(has_text="could not be followed")
        assert "z=50,-50 is beyond the sliders' range ±10: (10, -10) is shown" in (
            warning.inner_text())
        screenshot(page, "lesson-server-sliders-z-corrected")
    finally:
        context.close()


def test_a_step_past_the_end_is_named(ctx_page) -> None:
    page = ctx_page
    goto(page, "/replay?model=mnist-mlp-2d&step=99999999")
    assert_healthy(page, "replay with a huge step")
    warning = page.locator('[data-testid="stMain"] [data-testid="stAlert"]').filter(
        has_text="could not be followed")
    text = warning.inner_text()
    assert "step=99999999 is past the end of training" in text, text
    assert "the last snapshot is shown" in text, text


def test_the_lesson_panel_builds_a_link_for_the_class(ctx_page, base_url: str) -> None:
    page = ctx_page
    goto(page, "/sliders?model=mnist-mlp-2d")
    side = page.locator('[data-testid="stSidebar"]')
    panel = side.locator('[data-testid="stExpander"]').filter(has_text="Lesson link")
    panel.locator("summary").click()
    for label in ("Train", "Compare", "Hide the model upload", "Keep the model (mnist-mlp-2d)"):
        side.locator('[data-testid="stCheckbox"]').filter(has_text=label).first.locator(
            "label").click()
        wait_for_app(page, expect_rerun=True)
    codes = [c.strip() for c in side.locator("pre code").all_inner_texts()]
    want = "/?hide=compare,train,upload&lock=model&model=mnist-mlp-2d"
    assert codes and codes[0] == base_url + want, codes
    # The browser is on 127.0.0.1: the panel says students cannot open it.
    assert "Students cannot open 127.0.0.1" in side.inner_text(), side.inner_text()
    if len(codes) > 1:  # the machine has a LAN address: the link to hand out
        assert codes[1].endswith(want) and "127.0.0.1" not in codes[1], codes
    screenshot(page, "lesson-panel-page")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(ARTIFACTS / "lesson-panel.png"))
    student = page.context.new_page()  # a new tab: its own session, from the panel's link
    goto(student, want)
    titles = menu(student)
    assert not any(t.endswith(("Train", "Compare")) for t in titles), titles
    assert student.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').count() == 0
