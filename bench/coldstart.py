"""Cold start: a user's first visit to a freshly started `streamlit run app.py`.

Each run starts a new server process on a free port, polls `/_stcore/health` every 20 ms and
starts the clock when it answers "ok"; then a fresh headless Chromium context (no cache, no
cookies; the browser itself was launched beforehand, as a user's browser is) opens `/`, the
first page ("How a VAE works"), and the clock stops when the page is **fully drawn**:

* the app is connected and its script run is over (`data-test-script-state` notRunning), no
  element is stale, the status widget shows no "Running", there is no `stSpinner` and no
  "Loading" text in the main area;
* the main area holds at least one `<img>` and every `<img>` in it has loaded
  (`complete` and `naturalWidth > 0`), and every Plotly chart has drawn its SVG.

Reported per run and as p50/max: `health_s` (process start -> health ok: Python, Streamlit and
server start), then from health ok: `websocket_s` (the frontend's JavaScript has loaded and
opens the app's websocket; the script run starts now), `first_image_s` (the first main-area
image loaded) and `drawn_s` (fully drawn: the figure); `load1`, the machine's 1-minute load
average, says how busy it was. Every run gets an empty `VAE_CACHE_DIR` (the app's disk cache,
as on a first install) and an empty folder of user models; the OS file cache is warm (this
machine has run Python and torch before).

    python -m bench.coldstart              # 5 runs: ~1 min on a quiet machine
    python -m bench.coldstart --runs 10 --app-dir ../old-checkout
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from .common import REPO_ROOT, RESULTS_DIR, env_info, log, percentile, write_json
from .loadtest import CHROMIUM, CHROMIUM_ARGS, free_port

_DRAWN_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const main = document.querySelector('[data-testid="stMain"]');
  if (!app || !main) return false;
  if (document.querySelector('[data-testid="stException"]')) return 'EXCEPTION';
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  const imgs = [...main.querySelectorAll('img')];
  return app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-stale="true"], [data-testid="stSpinner"]')
    && !(status && /Running/i.test(status.textContent || ''))
    && !/Loading/.test(main.textContent || '')
    && imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)
    && [...main.querySelectorAll('[data-testid="stPlotlyChart"]')]
         .every(c => c.querySelector('svg.main-svg'));
}"""
_FIRST_IMG_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] img')]
  .some(i => i.complete && i.naturalWidth > 0)"""


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


def one_run(browser: Any, app_dir: Path = REPO_ROOT, timeout: float = 120.0) -> dict[str, Any]:
    """Start a server, time health and the first page in a fresh browser context; stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    tmp = tempfile.mkdtemp(prefix="coldstart-")
    env = dict(os.environ, VAE_CACHE_DIR=f"{tmp}/cache", VAE_USER_MODELS_DIR=f"{tmp}/models")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1"]
    t_launch = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=app_dir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    ctx = None
    try:
        while not _healthy(url):
            if proc.poll() is not None or time.perf_counter() - t_launch > timeout:
                err = proc.stderr.read().decode(errors="replace")[-800:] if proc.poll() else ""
                raise RuntimeError(f"streamlit never answered health: {err}")
            time.sleep(0.02)
        t0 = time.perf_counter()
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        ws: list[float] = []
        page.on("websocket", lambda _: ws.append(time.perf_counter() - t0))
        page.goto(url, wait_until="commit", timeout=timeout * 1000)
        page.wait_for_function(_FIRST_IMG_JS, polling=50, timeout=timeout * 1000)
        t_img = time.perf_counter() - t0
        drawn = page.wait_for_function(_DRAWN_JS, polling=50, timeout=timeout * 1000)
        t_drawn = time.perf_counter() - t0
        if drawn.json_value() == "EXCEPTION":
            raise RuntimeError("the first page shows an exception")
        return {"health_s": t0 - t_launch, "websocket_s": ws[0], "first_image_s": t_img,
                "drawn_s": t_drawn, "load1": os.getloadavg()[0]}
    finally:
        if ctx is not None:
            ctx.close()
        os.killpg(proc.pid, 15)  # our own child's process group
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(5)
        proc.stderr.close()
        shutil.rmtree(tmp, ignore_errors=True)


def run(runs: int = 5, app_dir: Path = REPO_ROOT, timeout: float = 120.0) -> dict[str, Any]:
    """`runs` fresh server starts, each opened once; the results dict."""
    from playwright.sync_api import sync_playwright  # deferred: optional, browser runs only

    done: list[dict[str, float]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            for i in range(runs):
                done.append({k: round(v, 3) for k, v in one_run(browser, app_dir,
                                                                timeout).items()})
                log(f"run {i + 1}/{runs}: {done[-1]}")
        finally:
            browser.close()
    method = " ".join(" ".join(__doc__.split("\n\n")[1:3]).split())
    out: dict[str, Any] = {"benchmark": "coldstart", "page": "How a VAE works (/)",
                           "app_dir": "." if app_dir == REPO_ROOT else str(app_dir),
                           "method": method}
    for k in done[0]:
        xs = [r[k] for r in done]
        out[k] = {"p50": round(percentile(xs, 50), 3), "max": round(max(xs), 3)}
    return {**out, "runs": done, "env": env_info()}


def main(argv: list[str] | None = None) -> int:
    """Command line: run, print the p50/max lines, write bench/results/coldstart.json."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="fresh server starts")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per step")
    ap.add_argument("--app-dir", type=Path, default=REPO_ROOT,
                    help="the checkout to start, e.g. a `git worktree` of an older commit")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR / "coldstart.json")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        log(f"{CHROMIUM} not found: install Debian's chromium")
        return 1
    res = run(args.runs, args.app_dir.resolve(), args.timeout)
    write_json(args.out, res)
    print(" ".join(f"{k} p50 {res[k]['p50']} max {res[k]['max']};" for k in res["runs"][0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
