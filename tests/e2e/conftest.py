"""Fixtures for the real-browser tests: one `streamlit run app.py` server per session, one
headless chromium (Debian's, driven by Playwright), and a fresh browser page per test.

The server reads MNIST from `VAE_DATA_DIR` if set, else the copy bundled in data/mnist, and
gets a temporary `VAE_USER_MODELS_DIR`, so a test that trains and saves a model never writes
into checkpoints/. It is always stopped in teardown (terminate, then kill its process group),
even when a test fails. Screenshots land in artifacts/e2e/ (gitignored).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
for p in (str(REPO_ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from e2e_helpers import (ARTIFACTS, StreamlitServer, launch_chromium, require_chromium,
                         running_server)

from ui.frontend_modules import HOOKS_ENV


@pytest.fixture(scope="session", autouse=True)
def page_test_hooks() -> Iterator[None]:
    """Servers started by these tests define the pages' window.* test hooks (VAE_TEST_HOOKS=1,
    ui.frontend_modules); a production server does not."""
    before = os.environ.get(HOOKS_ENV)
    os.environ[HOOKS_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[HOOKS_ENV]
        else:
            os.environ[HOOKS_ENV] = before


@pytest.fixture(scope="session")
def user_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("user-models")


@pytest.fixture(scope="session")
def server(user_models_dir: Path) -> Iterator[StreamlitServer]:
    """A running `streamlit run app.py` on a free port; stopped in teardown whatever happens."""
    with running_server(user_models_dir) as srv:
        yield srv


@pytest.fixture(scope="session")
def base_url(server: StreamlitServer) -> str:
    return server.url


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Headless Debian chromium. Missing chromium is a failure (never a skip)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = launch_chromium(pw)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


@pytest.fixture
def page(browser, base_url: str, request: pytest.FixtureRequest) -> Iterator:
    """A fresh browser context + page (its own Streamlit session); screenshot on failure."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=base_url)
    context.set_default_timeout(60_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda m: errors.append(m.text[:500]) if m.type == "error" else None)
    pg.console_errors = errors  # type: ignore[attr-defined] - read by wait_for_app
    try:
        yield pg
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            try:
                pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"),
                              full_page=True, timeout=15_000)
            except Exception as e:  # noqa: BLE001 - the page may already be gone
                print(f"no failure screenshot: {e}")
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Expose each phase's report on the item so fixtures can see whether the test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)

