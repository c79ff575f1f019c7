"""Many users at once: N real browser sessions against one `streamlit run app.py` server.

Each session (its own chromium context, so its own Streamlit session) loops for a fixed time:
it goes to the Latent sliders page through the sidebar and moves the latent pad's z0 slider
with the keyboard (5 x ArrowRight, then 5 x ArrowLeft on the next turn; the browser decodes,
and each press sends z to Python), then goes to the Reconstruct page and uploads the PNG of a
real MNIST test digit (dark ink on light, 8x). For every action it measures the latency from
the first key press / the upload until the page shows the result: for the slider, the
server's caption "z on the server: (...)" with the final z; for the upload, the *new*
reconstruction loaded in the browser (the <img> src, a content-hashed media URL, differs from
the one before and the image has loaded).
Errors: an stException box, "Traceback" or an error alert on the page, and actions or
navigations that time out.

It first runs 1 session as the baseline, then N sessions, on the same warm server, and writes
bench/results/loadtest.json (sessions, duration, actions, errors, p50/p95 latency for both,
and the ratios N users / 1 user).

    python -m bench.loadtest                                # 20 sessions x 60 s, 1 x 60 s first
    python -m bench.loadtest --sessions 10 --duration 20    # shorter
    python -m bench.loadtest --url http://127.0.0.1:8501    # against a server already running

Chromium and the server share this machine's CPUs: the latencies include the browsers' own
rendering (Plotly WebGL charts in software), which is part of what a user would wait for.
Requires Debian's chromium at /usr/bin/chromium (`apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results" / "loadtest.json"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
NAV = {"sliders": "Latent sliders", "reconstruct": "Reconstruct"}
KEY_STEPS = 5  # key presses per slider action (step 0.01 -> z moves by 0.05)
POLL_MS = 100  # how often each page checks for the new image (in the browser)
SETUP_CONCURRENCY = 4  # sessions opening the app at once (setup is not measured)

MAIN = '[data-testid="stMain"]'
SLIDER_INPUTS = '[data-testid="latent-pad-slider-0"]'  # in the pad's shadow root
UPLOAD_INPUT = f'{MAIN} [data-testid="stFileUploader"] input[type="file"]'

# Returns the src of the <img> in the main-area stImage whose caption contains `caption`
# once it has loaded (else null); with `text`, the caption must contain that too.
_IMG_READY_JS = """([caption, text, before]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (app && app.getAttribute('data-test-connection-state') === 'DISCONNECTED_FOREVER')
    return 'DISCONNECTED';
  const boxes = document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"]');
  for (const b of boxes) {
    const t = b.textContent || '';  // not innerText: that forces a layout on every poll
    if (!t.includes(caption) || (text && !t.includes(text))) continue;
    if (b.closest('[data-stale="true"]')) return null;
    const img = b.querySelector('img');
    if (img && img.src && img.src !== before && img.complete && img.naturalWidth > 0)
      return img.src;
  }
  return null;
}"""

# True once a main-area caption (not stale) contains `text`.
_CAPTION_JS = """([text]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (app && app.getAttribute('data-test-connection-state') === 'DISCONNECTED_FOREVER')
    return 'DISCONNECTED';
  const caps = '[data-testid="stMain"] [data-testid="stCaptionContainer"]';
  for (const c of document.querySelectorAll(caps))
    if (!c.closest('[data-stale="true"]') && (c.textContent || '').includes(text)) return true;
  return null;
}"""

_PROBLEMS_JS = """() => {
  const out = [];
  const exc = document.querySelectorAll('[data-testid="stException"]');
  if (exc.length) out.push('stException: ' + (exc[0].textContent || '').slice(0, 300));
  const body = document.body ? document.body.textContent : '';
  if (!exc.length && body.includes('Traceback')) out.push('Traceback text on the page');
  const err = document.querySelectorAll('[data-testid="stMain"] [data-testid="stAlertContentError"]');
  if (err.length) out.push('error alert: ' + (err[0].textContent || '').slice(0, 300));
  return out;
}"""

_SETTLED_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return false;
  if (app.getAttribute('data-test-connection-state') === 'DISCONNECTED_FOREVER')
    return 'DISCONNECTED';
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  return app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-stale="true"]')
    && !(status && /Running/i.test(status.textContent || ''))
    && document.querySelectorAll('[data-testid="stMain"] [data-testid="stElementContainer"]').length > 0;
}"""


# --- the server ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m streamlit run app.py` in its own process group; `stop()` always kills it."""

    def __init__(self, module: str = "streamlit", env: dict[str, str] | None = None,
                 python: str = sys.executable) -> None:
        self.module, self.env = module, env or {}  # e.g. bench.loadtest_profile's streamlit
        self.python = python  # another venv's interpreter (bench.loadtest_memory)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.models_dir = tempfile.mkdtemp(prefix="loadtest-models-")
        fd, self.log_path = tempfile.mkstemp(prefix="loadtest-streamlit-", suffix=".log")
        os.close(fd)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> None:
        # data: VAE_DATA_DIR if set, else the MNIST bundled in data/mnist
        env = dict(os.environ, VAE_USER_MODELS_DIR=self.models_dir, PYTHONUNBUFFERED="1")
        # the pages' window.* hooks, which these benchmarks read (ui.frontend_modules.HOOKS_ENV;
        # a literal, so the benchmark does not import the app and its streamlit)
        env["VAE_TEST_HOOKS"] = "1"
        env.update(self.env)
        cmd = [self.python, "-m", self.module, "run", "app.py", "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND)
        try:
            self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log_fd,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            os.close(log_fd)  # the child keeps its own copy
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"streamlit did not become healthy in {timeout:.0f} s:\n{self.tail()}")

    def tail(self, n: int = 4000) -> str:
        return Path(self.log_path).read_text(errors="replace")[-n:]

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=10)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


# --- the digits ----------------------------------------------------------------------------
def digit_pngs(n: int = 20, start: int = 0) -> list[bytes]:
    """n real MNIST test digits from #start, inverted (dark on light) and enlarged 8x, as PNG
    bytes."""
    # deferred: only the digits need PIL and vae_core (torch: seconds), not the modules that
    # import this one for its Server, free_port or chromium flags
    from PIL import Image

    sys.path.insert(0, str(REPO_ROOT))
    from vae_core import load_split  # deferred, as PIL above

    split = load_split("mnist", train=False, limit=start + n)
    out = []
    for i in range(start, start + n):
        img = Image.fromarray(255 - split.images[i, 0].numpy(), mode="L")
        buf = io.BytesIO()
        img.resize((224, 224), Image.Resampling.BICUBIC).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


# --- one session -----------------------------------------------------------------------------
@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"slider": [],
                                                                       "upload": []})
    nav: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class SessionLost(RuntimeError):
    """The browser gave up on its Streamlit session (connection DISCONNECTED_FOREVER)."""


async def _wait(page, js: str, arg: Any, timeout: float) -> str:
    handle = await page.wait_for_function(js, arg=arg, polling=POLL_MS, timeout=timeout * 1000)
    value = await handle.json_value()
    if value == "DISCONNECTED":
        raise SessionLost("the browser lost its Streamlit session (DISCONNECTED_FOREVER); "
                          f"console: {getattr(page, 'console_errors', [])[-1:]}")
    return value


async def _settle(page, timeout: float) -> None:
    """Wait until the script run is over and the page shows no stale elements."""
    await _wait(page, _SETTLED_JS, None, timeout)
    await page.wait_for_timeout(200)
    await _wait(page, _SETTLED_JS, None, timeout)


async def _check(page, where: str, stats: Stats) -> None:
    for p in await page.evaluate(_PROBLEMS_JS):
        stats.errors.append(f"{where}: {p}")


async def _nav(page, stem: str, timeout: float, stats: Stats | None) -> None:
    t0 = time.perf_counter()
    link = page.locator('[data-testid="stSidebarNav"] a[data-testid="stSidebarNavLink"]')
    await link.filter(has_text=NAV[stem]).first.click(timeout=timeout * 1000)
    await page.wait_for_url(f"**/{stem}", timeout=timeout * 1000)
    await _settle(page, timeout)
    if stats is not None:
        stats.nav.append(time.perf_counter() - t0)


async def _slider_action(page, direction: int, timeout: float, stats: Stats) -> None:
    """Press ArrowRight (or Left) KEY_STEPS times on the pad's z0 slider; wait until the
    server's caption shows the end value (the pad sends z to Python on every key press)."""
    el = page.locator(SLIDER_INPUTS).first
    lo, hi = float(await el.get_attribute("min") or -3), float(await el.get_attribute("max") or 3)
    step = float(await el.get_attribute("step") or 0.01)
    # The z the server last sent the pad (the two agree between actions).
    got = await page.wait_for_function(
        "() => { const s = window.latentPadStats; return s && s.pythonZ.length && s.pythonZ; }")
    values = await got.json_value()
    values[0] = min(max(round(values[0] + direction * KEY_STEPS * step, 2), lo), hi)
    target = "z on the server: (" + ", ".join(f"{v:.2f}" for v in values[:16])
    await el.focus()
    key = "ArrowRight" if direction > 0 else "ArrowLeft"
    t0 = time.perf_counter()
    for _ in range(KEY_STEPS):
        await page.keyboard.press(key)
    try:
        await _wait(page, _CAPTION_JS, [target], timeout)
    except SessionLost:
        raise
    except Exception as e:
        shown = await page.locator(f'{MAIN} [data-testid="stCaptionContainer"]').last.inner_text()
        raise TimeoutError(f"expected {target}...; the page shows {shown!r}") from e
    stats.latencies["slider"].append(time.perf_counter() - t0)


async def _upload_action(page, png: bytes, name: str, timeout: float, stats: Stats) -> None:
    caption = "reconstruction"
    before = await page.evaluate(_IMG_READY_JS, [caption, "", ""])
    t0 = time.perf_counter()
    await page.locator(UPLOAD_INPUT).set_input_files(
        files=[{"name": name, "mimeType": "image/png", "buffer": png}], timeout=timeout * 1000)
    await _wait(page, _IMG_READY_JS, [caption, "", before or ""], timeout)
    stats.latencies["upload"].append(time.perf_counter() - t0)


async def _session(browser, url: str, sid: int, pngs: list[bytes], ready: asyncio.Barrier,
                   setup_slots: asyncio.Semaphore, start: list[float], duration: float,
                   timeout: float, stats: Stats) -> None:
    ctx = await browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(timeout * 1000)
    page = await ctx.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text[:200])
            if m.type == "error" else None)
    try:
        async with setup_slots:  # setup, not measured: open the app, go to the sliders page
            try:
                await page.goto("/", wait_until="domcontentloaded", timeout=timeout * 3000)
                await _settle(page, timeout * 3)
                await _nav(page, "sliders", timeout * 3, None)
                await page.locator(SLIDER_INPUTS).first.wait_for(state="attached")
            except Exception as e:  # noqa: BLE001 - every failure is a counted error
                stats.errors.append(f"session {sid} setup: {type(e).__name__}: "
                                    f"{str(e).splitlines()[0][:200]}")
        await ready.wait()
        i, on = 0, "sliders"
        while time.perf_counter() - start[0] < duration:
            what = "slider" if on == "sliders" else "upload"
            try:
                if on != ("sliders" if i % 2 == 0 else "reconstruct"):
                    on = "sliders" if i % 2 == 0 else "reconstruct"
                    await _nav(page, on, timeout, stats)
                    await _check(page, f"navigation to {on}", stats)
                if on == "sliders":
                    what = "slider"
                    await _slider_action(page, 1 if (i // 2) % 2 == 0 else -1, timeout, stats)
                else:
                    what = "upload"
                    await _upload_action(page, pngs[(sid + i) % len(pngs)],
                                         f"digit-{sid}-{i}.png", timeout, stats)
                await _settle(page, timeout)
                await _check(page, what, stats)
            except Exception as e:  # noqa: BLE001 - timeouts and browser errors are counted
                stats.errors.append(f"session {sid} {what}: {type(e).__name__}: "
                                    f"{str(e).splitlines()[0][:200]}")
                try:  # start over from a clean page
                    await page.goto("/sliders", wait_until="domcontentloaded",
                                    timeout=timeout * 1000)
                    await _settle(page, timeout)
                    on = "sliders"
                except Exception as e2:  # noqa: BLE001 - counted, the loop goes on
                    stats.errors.append(f"session {sid} reload: {type(e2).__name__}")
            i += 1
    finally:
        await ctx.close()


async def _run_phase(url: str, sessions: int, duration: float, timeout: float,
                     pngs: list[bytes], server_pid: int | None = None) -> dict[str, Any]:
    from playwright.async_api import async_playwright  # deferred: optional, browser runs only

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=CHROMIUM_ARGS)
        try:
            start = [math.inf]
            stats = [Stats() for _ in range(sessions)]

            async def go() -> None:
                start[0] = time.perf_counter()  # measured window starts when all are set up

            ready = asyncio.Barrier(sessions + 1)
            setup_slots = asyncio.Semaphore(SETUP_CONCURRENCY)
            tasks = [asyncio.create_task(_session(browser, url, s, pngs, ready, setup_slots,
                                                  start, duration, timeout, stats[s]))
                     for s in range(sessions)]
            await ready.wait()
            cpu0 = _cpu_seconds(server_pid)
            await go()
            t0 = time.perf_counter()
            await asyncio.gather(*tasks)
            wall = time.perf_counter() - t0
            cpu1 = _cpu_seconds(server_pid)
        finally:
            await browser.close()
    res = summarize(stats, sessions, duration, wall)
    res["cpu"] = _cpu_split(cpu0, cpu1)
    return res


def _proc_cpu(pid: int, tick: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / tick  # utime + stime of the process


def _cpu_seconds(server_pid: int | list[int] | None) -> dict[str, float | None]:
    """CPU seconds used so far by the whole machine and by the server process (summed over
    several, e.g. the replicas behind a proxy). Differences
    over a phase show who worked; the rest of the machine's busy time is the clients (browsers
    and Playwright), whose processes come and go too fast to be summed one by one."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float | None] = {"machine_busy_s": None, "server_s": None}
    try:
        vals = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        out["machine_busy_s"] = (sum(vals) - vals[3] - vals[4]) / tick
        if server_pid:
            pids = [server_pid] if isinstance(server_pid, int) else server_pid
            out["server_s"] = sum(_proc_cpu(p, tick) for p in pids)
    except (OSError, ValueError, IndexError):
        pass  # not Linux: no figures
    return out


def _cpu_split(before: dict[str, float | None],
               after: dict[str, float | None]) -> dict[str, Any]:
    """CPU seconds of one phase: machine, server, and the rest (machine minus server)."""
    res: dict[str, Any] = {k: round(after[k] - before[k], 1) for k in before
                           if before[k] is not None and after[k] is not None}
    if "machine_busy_s" in res and "server_s" in res:
        res["others_s"] = round(res["machine_busy_s"] - res["server_s"], 1)
    res["cores"] = os.cpu_count()
    return res


def percentile(xs: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no data."""
    s = sorted(xs)
    if not s:
        return None
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _kinds(errors: list[str]) -> dict[str, int]:
    """Errors counted by kind: the message without the session number."""
    kinds: dict[str, int] = {}
    for e in errors:
        k = re.sub(r"^session \d+ ", "", e)[:160]
        kinds[k] = kinds.get(k, 0) + 1
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1]))


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 1)


def summarize(stats: list[Stats], sessions: int, duration: float, wall: float) -> dict[str, Any]:
    lat = {k: [x for s in stats for x in s.latencies[k]] for k in ("slider", "upload")}
    every = lat["slider"] + lat["upload"]
    nav = [x for s in stats for x in s.nav]
    errors = [e for s in stats for e in s.errors]
    out: dict[str, Any] = {
        "sessions": sessions, "duration_s": duration, "wall_s": round(wall, 1),
        "actions": len(every), "actions_per_s": round(len(every) / wall, 2) if wall else None,
        "errors": len(errors), "error_kinds": _kinds(errors), "error_samples": errors[:10],
        "p50_ms": _ms(percentile(every, 50)), "p95_ms": _ms(percentile(every, 95)),
        "navigation": {"n": len(nav), "p50_ms": _ms(percentile(nav, 50)),
                       "p95_ms": _ms(percentile(nav, 95))},
    }
    for k, xs in lat.items():
        out[k] = {"n": len(xs), "p50_ms": _ms(percentile(xs, 50)),
                  "p95_ms": _ms(percentile(xs, 95)), "max_ms": _ms(max(xs) if xs else None)}
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own, so that it works where an event loop is already
    running in this thread (Playwright's sync API keeps one, e.g. in the e2e test session)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def run_phases(phase: Callable[..., Any], sessions: int, duration: float,
               baseline_duration: float | None, timeout: float, url: str | None, warmup: float,
               log: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start a server (unless `url`), warm it up, then run the 1-session baseline and the
    `sessions`-session load with `phase(url, n, seconds, timeout, pngs, server_pid)`."""
    pngs = digit_pngs(20)
    server = None
    if url is None:
        server = Server()
        log(f"starting streamlit on {server.url}")
        server.start()
        url = server.url
    pid = server.proc.pid if server is not None and server.proc is not None else None
    try:
        if warmup > 0:  # first runs fill the caches (model, test set, codes, latent map)
            log(f"warm-up: 1 session, {warmup:.0f} s (not measured)")
            run_async(phase(url, 1, warmup, timeout * 3, pngs))
        bd = duration if baseline_duration is None else baseline_duration
        phases = []
        for name, n, d in (("baseline", 1, bd), ("load", sessions, duration)):
            log(f"{name}: {n} session(s) x {d:.0f} s")
            r = run_async(phase(url, n, d, timeout, pngs, pid))
            log(f"  {r['actions']} actions, {r['errors']} errors, p50 {r['p50_ms']} ms, "
                f"p95 {r['p95_ms']} ms, cpu {r.get('cpu')}")
            phases.append(r)
    finally:
        if server is not None:
            server.stop()
    return phases[0], phases[1]


def run(sessions: int = 20, duration: float = 60.0, baseline_duration: float | None = None,
        timeout: float = 60.0, url: str | None = None, warmup: float = 10.0,
        log=print) -> dict[str, Any]:
    """Baseline (1 session), then `sessions` sessions; returns the results dict."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} not found: install Debian's chromium "
                           "(`sudo apt-get install chromium chromium-driver`)")
    one, many = run_phases(_run_phase, sessions, duration, baseline_duration, timeout, url,
                           warmup, log)
    return report("loadtest", sessions, duration, one, many,
                  "each session alternates: sidebar nav to Latent sliders, 5 ArrowRight/Left "
                  "key presses on the latent pad's z0 slider (each sends z to Python); nav to "
                  "Reconstruct, upload a 224x224 MNIST test digit PNG. Latency = first key "
                  "press -> the server's caption shows the final z / upload -> new "
                  "reconstruction loaded in the browser. Navigation time is reported "
                  "separately and not in the action latencies.")


def report(benchmark: str, sessions: int, duration: float, one: dict[str, Any],
           many: dict[str, Any], method: str) -> dict[str, Any]:
    """The results file: 1-session baseline `one` and `sessions`-session load `many`."""
    import streamlit  # deferred: seconds to import, only for its version in the results

    return {
        "benchmark": benchmark,
        "sessions": sessions, "duration_s": duration,
        "actions": many["actions"], "errors": many["errors"],
        "p50_ms_1_user": one["p50_ms"], "p95_ms_1_user": one["p95_ms"],
        f"p50_ms_{sessions}_users": many["p50_ms"], f"p95_ms_{sessions}_users": many["p95_ms"],
        "ratio_p50": _ratio(many["p50_ms"], one["p50_ms"]),
        "ratio_p95": _ratio(many["p95_ms"], one["p95_ms"]),
        "ratio_actions_per_s": _ratio(many["actions_per_s"], one["actions_per_s"]),
        "baseline": one, "load": many, "method": method,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "streamlit": streamlit.__version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def cli(run_fn: Callable[..., dict[str, Any]], doc: str, clients: str, results: Path,
        argv: list[str] | None) -> int:
    """The command line shared by the load tests: parse, run, write JSON; 1 on any error."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--sessions", type=int, default=20, help=f"concurrent {clients} sessions")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    ap.add_argument("--baseline-duration", type=float, default=None,
                    help="seconds of the 1-session baseline (default: --duration)")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds of unmeasured warm-up")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds before one action or navigation counts as an error")
    ap.add_argument("--url", default=None, help="use a running server instead of starting one")
    ap.add_argument("--out", type=Path, default=results, help="where to write the JSON")
    args = ap.parse_args(argv)
    name = results.stem
    res = run_fn(args.sessions, args.duration, args.baseline_duration, args.timeout, args.url,
                 args.warmup, log=lambda m: print(f"[{name}] {m}", file=sys.stderr, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, dict)}))
    return 0 if res["errors"] == 0 and res["baseline"]["errors"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    return cli(run, __doc__, "browser", RESULTS, argv)


if __name__ == "__main__":
    sys.exit(main())
