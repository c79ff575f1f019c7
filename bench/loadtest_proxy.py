"""Many users through HAProxy: 1 vs N replicas of the app (`python -m deploy`), measured with
bench/loadtest_ws.py's protocol sessions.

For each replica count it starts the launcher as a subprocess (`python -m deploy --replicas R
--proxy`: HAProxy in front even of a single replica, so every case pays the same hop), warms
each replica up on its own port (not measured), then runs through the proxy 1 session (the
baseline) and each number of sessions in turn, on the same warm servers. Server CPU is the sum
over the replica processes; HAProxy's CPU is reported apart. Errors as in loadtest_ws, plus a
replica that had to be restarted.

Writes bench/results/loadtest_proxy.json: for every (replicas, sessions) p50/p95 and their
ratios to one user, actions/s, CPU and errors; the ratios R replicas / 1 replica of actions/s
and p95 at each session count; per case the CPU of each replica (how evenly the sessions were
spread), their resident memory, and the machine's load average before and after.

    python -m bench.loadtest_proxy --replicas 1 2 --sessions 20 40 --duration 45
    python -m bench.loadtest_proxy --replicas 1 2 --sessions 20 --duration 10    # short
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.loadtest import REPO_ROOT, _proc_cpu, _ratio, digit_pngs, run_async
from bench.loadtest_cpu import per_kind
from bench.loadtest_ws import run_phase
from deploy import launched

RESULTS = REPO_ROOT / "bench" / "results" / "loadtest_proxy.json"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _proc_cpu_s(pid: int) -> float:
    return _proc_cpu(pid, os.sysconf("SC_CLK_TCK"))


def _rss_mb(pid: int) -> int:
    """Resident memory of a process in MB (/proc/PID/status VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def measure(replicas: int, sessions: list[int], duration: float, baseline_duration: float,
            warmup: float, timeout: float, pngs: list[bytes],
            log: Callable[[str], None], per_kind_n: int = 0, think: float = 0.0
            ) -> dict[str, Any]:
    """One replica count: warm-up per replica, `per_kind_n` actions of each kind alone on the
    first replica (its CPU per action), then 1 and each of `sessions` sessions through the
    proxy; loadtest_ws.run_phase's dict per session count."""
    out: dict[str, Any] = {"replicas": replicas, "load_average_before": _load()}
    with tempfile.TemporaryDirectory(prefix="loadtest-proxy-") as tmp, launched(
            replicas, Path(tmp) / "run", env={"VAE_USER_MODELS_DIR": str(Path(tmp) / "models")}
    ) as run:
        state = run.state()
        pids = [r["pid"] for r in state["replicas"]]
        log(f"{replicas} replica(s) behind HAProxy on {run.url}")
        for r in state["replicas"]:  # fill each replica's caches (model, test set, codes)
            run_async(run_phase(f"http://127.0.0.1:{r['port']}", 1, warmup, timeout * 3, pngs))
        out["replica_rss_mb_after_warmup"] = [_rss_mb(p) for p in pids]
        if per_kind_n:  # each kind of action alone, on the first replica (bench.loadtest_cpu)
            first = state["replicas"][0]
            out["cpu_per_action"] = per_kind(f"http://127.0.0.1:{first['port']}", pids[0],
                                             per_kind_n, timeout=timeout)  # new digits
            log(f"  CPU per action, each kind alone: {out['cpu_per_action']}")
        proxy0 = _proc_cpu_s(state["proxy_pid"])
        for n in [1, *sessions]:
            each0 = [_proc_cpu_s(p) for p in pids]
            res = run_async(run_phase(run.url, n, baseline_duration if n == 1 else duration,
                                      timeout, pngs, pids, think))
            # per replica, setup included: how evenly the proxy spread the sessions
            res["replica_cpu_s"] = [round(_proc_cpu_s(p) - c, 1) for p, c in zip(pids, each0,
                                                                                 strict=True)]
            log(f"  {replicas} replica(s), {n} session(s): {res['actions']} actions "
                f"({res['actions_per_s']}/s), {res['errors']} errors, p50 {res['p50_ms']} ms, "
                f"p95 {res['p95_ms']} ms, server CPU {res['cpu'].get('server_s')} s, "
                f"load {_load()}")
            out[f"{n}_sessions"] = res
        out["proxy_cpu_s"] = round(_proc_cpu_s(state["proxy_pid"]) - proxy0, 1)
        out["replica_rss_mb"] = [_rss_mb(p) for p in pids]
        out["restarts"] = sum(r["restarts"] for r in run.state()["replicas"])
    out["load_average_after"] = _load()
    return out


def _row(case: dict[str, Any], n: int) -> dict[str, Any]:
    one, many = case["1_sessions"], case[f"{n}_sessions"]
    cpu = many["cpu"].get("server_s")

    def per(count: int) -> float | None:
        return round(cpu * 1000 / count, 1) if cpu is not None and count else None

    return {"replicas": case["replicas"], "sessions": n, "errors": many["errors"],
            "p50_ms": many["p50_ms"], "p95_ms": many["p95_ms"],
            "p50_ms_1_user": one["p50_ms"], "p95_ms_1_user": one["p95_ms"],
            "ratio_p50": _ratio(many["p50_ms"], one["p50_ms"]),
            "ratio_p95": _ratio(many["p95_ms"], one["p95_ms"]),
            "actions_per_s": many["actions_per_s"], "server_cpu_s": cpu,
            "server_cores_busy": round(cpu / many["wall_s"], 2) if cpu is not None else None,
            # server CPU over the window per action (pad release or upload; the page switch
            # before each is folded in), and per request (switches counted too)
            "server_cpu_ms_per_action": per(many["actions"]),
            "server_cpu_ms_per_request": per(many["actions"] + many["navigation"]["n"])}


def run(replicas: list[int], sessions: list[int], duration: float = 45.0,
        baseline_duration: float | None = None, warmup: float = 10.0, timeout: float = 60.0,
        log: Callable[[str], None] = print, per_kind_n: int = 20, think: float = 0.0
        ) -> dict[str, Any]:
    """Every replica count in turn; the results dict with its table and ratios."""
    import streamlit  # deferred: ~2 s to import, only for its version in the results

    pngs = digit_pngs(20)
    bd = duration if baseline_duration is None else baseline_duration
    cases = [measure(r, sessions, duration, bd, warmup, timeout, pngs, log,
                     per_kind_n if i == 0 else 0, think) for i, r in enumerate(replicas)]
    table = [_row(c, n) for c in cases for n in sessions]
    by = {(t["replicas"], t["sessions"]): t for t in table}
    scaling = {f"{r}_vs_{replicas[0]}_replicas_at_{n}_sessions": {
        "actions_per_s": _ratio(by[r, n]["actions_per_s"], by[replicas[0], n]["actions_per_s"]),
        "p95": _ratio(by[r, n]["p95_ms"], by[replicas[0], n]["p95_ms"])}
        for r in replicas[1:] for n in sessions}
    errors = sum(c[k]["errors"] for c in cases for k in c if k.endswith("_sessions"))
    return {
        "benchmark": "loadtest_proxy", "replicas": replicas, "sessions": sessions,
        "duration_s": duration, "baseline_duration_s": bd, "warmup_s": warmup,
        "think_s": think,
        "errors": errors + sum(c["restarts"] for c in cases), "table": table,
        "scaling": scaling, "cpu_per_action": cases[0].get("cpu_per_action"),
        "replica_rss_mb_after_warmup": {c["replicas"]: c["replica_rss_mb_after_warmup"]
                                        for c in cases},
        "cases": cases,
        "method": "python -m deploy --replicas R --proxy (HAProxy, cookie affinity) per replica "
                  "count; bench.loadtest_ws protocol sessions through the proxy (Latent sliders:"
                  " a latent pad release moving z0 by 0.05; Reconstruct: upload a 224x224 MNIST "
                  "test digit PNG), 1 session then each session count on the same warm "
                  "replicas. server_cpu_s: CPU seconds of all replica processes over the "
                  "measured window; server_cores_busy: that over wall time; "
                  "server_cpu_ms_per_action: that over the actions. cpu_per_action: each "
                  "kind alone on the first replica after its warm-up (bench.loadtest_cpu).",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "streamlit": streamlit.__version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2],
                    help="replica counts to compare (the first is the reference)")
    ap.add_argument("--sessions", type=int, nargs="+", default=[20, 40],
                    help="concurrent protocol sessions")
    ap.add_argument("--duration", type=float, default=45.0, help="seconds of each load")
    ap.add_argument("--baseline-duration", type=float, default=None,
                    help="seconds of the 1-session baseline (default: --duration)")
    ap.add_argument("--warmup", type=float, default=10.0,
                    help="seconds of unmeasured warm-up per replica")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds before one action counts as an error")
    ap.add_argument("--think", type=float, default=0.0,
                    help="seconds a session pauses after an action, up to twice that (a "
                         "learner's pace; 0: back to back)")
    ap.add_argument("--per-kind", type=int, default=20,
                    help="actions of each kind alone for the CPU per action (0: none)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = ap.parse_args(argv)
    res = run(args.replicas, args.sessions, args.duration, args.baseline_duration, args.warmup,
              args.timeout, log=lambda m: print(f"[loadtest_proxy] {m}", file=sys.stderr,
                                               flush=True), per_kind_n=args.per_kind,
              think=args.think)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({"errors": res["errors"], "table": res["table"],
                      "scaling": res["scaling"], "cpu_per_action": res["cpu_per_action"],
                      "replica_rss_mb_after_warmup": res["replica_rss_mb_after_warmup"]},
                     indent=1))
    return 0 if res["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
