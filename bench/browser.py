"""One headless page of Debian's chromium on a fresh `streamlit run app.py`: the setup that the
in-browser benchmarks share (bench.latent_pad, bench.replay_player).

The server is bench.loadtest's `Server` (its own process group, the pages' test hooks on, user
models in a temporary folder); the page has a base URL, so `page.goto("/sliders")` works, and
records the `.bin` blobs it fetches (a model's decoder, replay or test images).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.loadtest import CHROMIUM, Server

VIEWPORT = {"width": 1400, "height": 1000}
# The script has finished, the socket is connected and nothing is stale: the page holds the
# answer of the last rerun.
SETTLED_JS = """() => { const a = document.querySelector('[data-testid="stApp"]');
  return a && a.getAttribute('data-test-script-state') === 'notRunning'
    && a.getAttribute('data-test-connection-state') === 'CONNECTED'
    && !document.querySelector('[data-stale="true"]'); }"""


def settle(page: Any, timeout: float = 120.0) -> None:
    """Wait until the page holds the answer of the last rerun (SETTLED_JS)."""
    page.wait_for_function(SETTLED_JS, timeout=timeout * 1000)


@dataclass
class AppPage:
    """A Playwright page on the app, its chromium's version, and the `.bin` responses the page
    has received (clear the list before an action to see what the action fetched)."""

    page: Any
    chromium: str
    fetched: list[Any] = field(default_factory=list)
    models_dir: str = ""  # the server's user models folder: a model copied in is listed


@contextlib.contextmanager
def app_page() -> Iterator[AppPage]:
    """Start the app's server and chromium, open one page on it; stop both on the way out."""
    # deferred: playwright is optional, and only the in-browser benchmarks need it
    from playwright.sync_api import sync_playwright

    server = Server()
    server.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport=VIEWPORT, base_url=server.url)
            app = AppPage(page, browser.version, models_dir=server.models_dir)
            page.on("response",
                    lambda r: app.fetched.append(r) if r.url.endswith(".bin") else None)
            yield app
            browser.close()
    finally:
        server.stop()
