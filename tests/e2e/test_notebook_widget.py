"""vae_core.explore in a real JupyterLab, in headless Chromium: a notebook whose first cell
shows the widget of mnist-mlp-2d; the test drags on the pad's plane, runs `print(w.z)` in the
kernel and reads back the z the pad shows; a cell that sets `w.z` moves the pad.

JupyterLab runs from the venv with every JUPYTER_* folder in a temporary directory (nothing
from $HOME), a kernel spec of this Python (the repository on its path), and anywidget's lab
extension as its wheel installs it (prebuilt, in the venv's share/jupyter/labextensions). The
server is stopped in teardown whatever happens: SIGTERM (it shuts its kernels down), then
SIGKILL of its process group."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import ARTIFACTS, REPO_ROOT, free_port

pytestmark = pytest.mark.e2e

READOUT = re.compile(r"z = \(([-\d.]+), ([-\d.]+)\)")
PRINTED = re.compile(r"Z=(\[[^\]]*\])")
KERNEL = "latent-explorer-e2e"  # not "python3": the venv's own spec of that name comes first
CELLS = [
    'import vae_core\nw = vae_core.explore("mnist-mlp-2d")\nw',
    'import json\nreleased = list(w.z)\nprint("Z=" + json.dumps(w.z))',
    "w.z = [-1.5, 2.25]",
    "w.z = released",
]


def _notebook() -> dict:
    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": KERNEL, "display_name": KERNEL,
                                        "language": "python"}},
            "cells": [{"cell_type": "code", "id": f"cell{i}", "metadata": {},
                       "execution_count": None, "outputs": [], "source": src}
                      for i, src in enumerate(CELLS)]}


def _jupyter_env(tmp: Path) -> dict[str, str]:
    """Every Jupyter and IPython folder under tmp; a kernel spec of this interpreter."""
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime", "IPYTHONDIR": "ipython",
            "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces"}
    env = {**os.environ, **{k: str(tmp / v) for k, v in dirs.items()},
           "JUPYTER_PLATFORM_DIRS": "1", "PYTHONUNBUFFERED": "1"}
    for v in dirs.values():
        (tmp / v).mkdir(parents=True, exist_ok=True)
    spec = tmp / "data" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL, "language": "python",
        "env": {"PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}}))
    # No news or update checks from the page: it must not reach the network.
    labconfig = tmp / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": {
        "@jupyterlab/apputils-extension:announcements": True}}))
    return env


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running JupyterLab serving a folder with explore.ipynb; its URL."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = tmp / "notebooks"
    root.mkdir()
    (root / "explore.ipynb").write_text(json.dumps(_notebook()))
    port = free_port()
    log = open(tmp / "lab.log", "wb")  # noqa: SIM115 - closed in teardown
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--IdentityProvider.token=", "--ServerApp.password=",
           f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly"]
    if os.geteuid() == 0:  # containers and CI runners often run as root
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, cwd=root, env=_jupyter_env(tmp), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"jupyter lab exited:\n{_tail(tmp / 'lab.log')}"
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no JupyterLab:\n{_tail(tmp / 'lab.log')}"
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)
        log.close()
        print(_tail(tmp / "lab.log", 3000))


def _tail(path: Path, n: int = 6000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM: the server shuts its kernels down and exits; else SIGKILL its group."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    try:  # a kernel left behind in the group (it was started in the server's session)
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _run_cell(page, i: int) -> None:
    """Run code cell i as a user would: click into its editor, Shift+Enter; then wait until
    the kernel has run it (its prompt shows a new execution count)."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(i)
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text()
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    end = time.monotonic() + 120
    while not re.search(r"\[\d+\]", now := prompt.inner_text()) or now == before:
        assert time.monotonic() < end, f"cell {i} did not run (prompt {now!r})"
        page.wait_for_timeout(100)


def _pad_z(page) -> list[float]:
    text = page.get_by_test_id("latent-pad-z").inner_text()
    m = READOUT.search(text)
    assert m, text
    return [float(m.group(1)), float(m.group(2))]


def _printed_z(page, timeout: float = 60.0) -> list[float]:
    """Run the print cell and read z from its output."""
    _run_cell(page, 1)
    out = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output")
    end = time.monotonic() + timeout
    while True:
        m = PRINTED.search(out.first.inner_text() if out.count() else "")
        if m:
            return json.loads(m.group(1))
        assert time.monotonic() < end, "the print cell printed no z"
        page.wait_for_timeout(200)


def test_the_widget_runs_in_jupyterlab(browser, jupyterlab: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    context.set_default_timeout(120_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{jupyterlab}/lab/tree/explore.ipynb")
        page.locator(".jp-Notebook .jp-Cell").nth(3).wait_for()
        # The kernel must be up before a cell runs (a Shift+Enter before it is dropped).
        page.get_by_text(re.compile(rf"{KERNEL} \| Idle")).first.wait_for(timeout=120_000)
        _run_cell(page, 0)
        plane = page.get_by_test_id("latent-pad-plane")
        failed = page.locator(".jp-OutputArea-output[data-mime-type*='error']")
        plane.or_(failed).first.wait_for(state="visible", timeout=90_000)
        assert not failed.count(), failed.first.inner_text()
        page.get_by_text("decoded in your browser").first.wait_for()
        start = _pad_z(page)
        assert start == [0.0, 0.0]
        assert _printed_z(page) == start

        # Drag the ring from the centre up and to the right, then let go.
        box = plane.bounding_box()
        x0, y0 = box["x"] + 34 + 200, box["y"] + 200
        page.mouse.move(x0, y0)
        page.mouse.down()
        for k in range(1, 21):
            page.mouse.move(x0 + 6 * k, y0 - 4 * k)
            page.wait_for_timeout(15)
        page.mouse.up()
        page.wait_for_timeout(300)
        shown = _pad_z(page)
        assert shown != start and shown[0] > 1 and shown[1] > 0.5, shown
        # The release reaches the kernel before the next cell runs (one shell channel, in
        # order); read again briefly in case the page had not sent it yet.
        end = time.monotonic() + 30
        while (got := _printed_z(page)) != shown:
            assert time.monotonic() < end, f"the kernel has z = {got}, the pad shows {shown}"
            page.wait_for_timeout(500)

        # Python -> page: a cell sets w.z, the pad follows.
        _run_cell(page, 2)
        end = time.monotonic() + 30
        while _pad_z(page) != [-1.5, 2.25]:
            assert time.monotonic() < end, f"the pad shows {_pad_z(page)} after w.z = ..."
            page.wait_for_timeout(200)
        # ... and back to the z of the drag (the pad's own last release: news all the same).
        _run_cell(page, 3)
        end = time.monotonic() + 30
        while _pad_z(page) != shown:
            assert time.monotonic() < end, f"the pad shows {_pad_z(page)}, not {shown}"
            page.wait_for_timeout(200)
        assert "the digit classifier reads" in page.get_by_test_id(
            "latent-pad-reading").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "notebook-widget.png"), full_page=True)
        page.locator(".latent-pad-widget").screenshot(  # docs/notebook.png is one of these
            path=str(ARTIFACTS / "notebook-widget-pad.png"))
        assert not errors, errors
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "FAILED-notebook-widget.png"), full_page=True)
        raise
    finally:
        context.close()
