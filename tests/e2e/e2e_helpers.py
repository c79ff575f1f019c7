"""Helpers shared by the e2e tests: the Streamlit server process, chromium, page waits and
navigation. Filling in and reading the main area is page_helpers.py's, the latent pad's
pad_helpers.py's.

Kept out of conftest.py so test modules can import them (`from e2e_helpers import ...`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = REPO_ROOT / "artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
MAIN = '[data-testid="stMain"]'
UPLOAD_INPUT = '[data-testid="stMain"] [data-testid="stFileUploader"] input[type="file"]'
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

# The nav link titles in app.py, keyed by URL path (the page file's stem).
PAGES = {
    "home": "How a VAE works",
    "train": "Train",
    "sliders": "Latent sliders",
    "manifold": "Manifold",
    "scatter": "Latent scatter",
    "reconstruct": "Reconstruct",
    "generate": "Generate",
    "compare": "Compare",
    "replay": "Training replay",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """`python -m streamlit run app.py` in its own process group, on a free port."""

    def __init__(self, root: Path, user_models_dir: Path | None = None,
                 port: int | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.root = Path(root)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.user_models_dir = user_models_dir
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        fd, self.log_path = tempfile.mkstemp(prefix="streamlit-e2e-", suffix=".log")
        os.close(fd)

    def log_text(self, tail: int = 6000) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def start(self, timeout: float = 90.0) -> None:
        env = dict(os.environ)  # data: VAE_DATA_DIR if set, else the MNIST bundled in data/
        if self.user_models_dir is not None:
            env["VAE_USER_MODELS_DIR"] = str(self.user_models_dir)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(self.extra_env)
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py",
               "--server.headless", "true", "--server.port", str(self.port),
               "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND)
        try:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log_fd,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            os.close(log_fd)  # the child keeps its own copy
        deadline = time.monotonic() + timeout
        health = f"{self.url}/_stcore/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.proc.returncode} before "
                                   f"answering {health}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(health, timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"streamlit did not answer {health} within {timeout:.0f} s:\n"
                           f"{self.log_text()}")

    def stop(self) -> None:
        """Terminate the server's process group; kill it if it does not exit in 10 s."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


@contextlib.contextmanager
def running_server(user_models_dir: Path | None = None) -> Iterator[StreamlitServer]:
    """A started `streamlit run app.py`, stopped on exit whatever happens."""
    srv = StreamlitServer(REPO_ROOT, user_models_dir=user_models_dir)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: the e2e tests drive Debian's chromium. Install it "
                    f"with `sudo apt-get install chromium chromium-driver` (do not run "
                    f"`playwright install`).", pytrace=False)


def launch_chromium(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


# --- waiting for Streamlit ---------------------------------------------------------------

_APP_STATE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return {script: 'none', conn: 'none', stale: 0, running: false};
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  return {
    script: app.getAttribute('data-test-script-state'),
    conn: app.getAttribute('data-test-connection-state'),
    stale: document.querySelectorAll('[data-stale="true"]').length,
    running: !!(status && /Running/i.test(status.innerText || '')),
    elements: document.querySelectorAll('[data-testid="stMain"] [data-testid="stElementContainer"]').length,
    // Widgets whose code is still being lazy-loaded are drawn as skeletons meanwhile.
    skeleton: document.querySelectorAll('[data-testid="stAppSkeleton"], ' +
      '[data-testid="stSkeletonElement"], [data-testid="stSkeleton"]').length,
  };
}"""


def app_state(page) -> dict:
    return page.evaluate(_APP_STATE_JS)


def wait_for_app(page, timeout: float = 90.0, settle: float = 0.6,
                 expect_rerun: bool = False) -> None:
    """Wait until Streamlit has finished running the script and the page is stable.

    "Finished" means: connected, `data-test-script-state` is `notRunning`, no stale elements,
    no "Running..." status widget, no skeleton placeholders (widgets whose code is still being
    lazy-loaded) and at least one element in the main area (right after connecting the state
    reads `notRunning` before the first run has even started),
    continuously for `settle` seconds. With `expect_rerun`
    (after a click or key press), first give the rerun up to 2 s to start, so a wait that
    begins before the browser has sent the widget change does not return on the old page.
    """
    deadline = time.monotonic() + timeout
    if expect_rerun:
        t_start = time.monotonic()
        while time.monotonic() - t_start < 2.0:
            s = app_state(page)
            if s["script"] != "notRunning" or s["stale"] or s["running"]:
                break
            page.wait_for_timeout(50)
    calm_since: float | None = None
    last: dict = {}
    while True:
        last = app_state(page)
        calm = (last["conn"] == "CONNECTED" and last["script"] == "notRunning"
                and not last["stale"] and not last["running"] and not last.get("skeleton")
                and last.get("elements", 0) > 0)
        now = time.monotonic()
        if last["conn"] == "DISCONNECTED_FOREVER":
            errors = getattr(page, "console_errors", [])
            raise ConnectionError(f"the browser lost its Streamlit session for good at "
                                  f"{page.url}; console errors: {errors[-3:]}")
        if calm:
            calm_since = calm_since or now
            if now - calm_since >= settle:
                return
        else:
            calm_since = None
        if now > deadline:
            raise TimeoutError(f"Streamlit did not settle within {timeout:.0f} s "
                               f"(last state {last}) at {page.url}")
        page.wait_for_timeout(100)


def goto(page, path: str = "/", timeout: float = 90.0) -> None:
    page.goto(path, wait_until="domcontentloaded")
    wait_for_app(page, timeout=timeout)


def nav_to(page, stem: str, timeout: float = 90.0) -> None:
    """Click the sidebar nav link for the page whose file stem is `stem`."""
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.wait_for(state="visible", timeout=timeout * 1000)
    more = nav.locator('[data-testid="stSidebarNavViewButton"]')
    if more.count() and "more" in (more.inner_text() or "").lower():
        more.click()
    link = nav.locator('a[data-testid="stSidebarNavLink"]').filter(has_text=PAGES[stem])
    link = link.first if link.count() == 1 else _exact_link(nav, PAGES[stem])
    link.click()
    if stem != "home":
        page.wait_for_url(f"**/{stem}", timeout=timeout * 1000)
    wait_for_app(page, timeout=timeout, expect_rerun=True)


def _exact_link(nav, title: str):
    links = nav.locator('a[data-testid="stSidebarNavLink"]')
    for i in range(links.count()):
        if links.nth(i).inner_text().strip().endswith(title):
            return links.nth(i)
    raise AssertionError(f"no sidebar nav link titled {title!r}")


def assert_healthy(page, where: str = "") -> None:
    """No Streamlit exception box and no Python traceback text on the page."""
    exc = page.locator('[data-testid="stException"]')
    if exc.count():
        raise AssertionError(f"stException on {where or page.url}:\n"
                             f"{exc.first.inner_text()[:3000]}")
    body = page.locator("body").inner_text()
    assert "Traceback" not in body, f"'Traceback' text on {where or page.url}:\n{body[:3000]}"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, timeout=30_000)
    return path
