"""`streamlit` with every script run under cProfile: the profile of a rerun, for the load tests.

    python -m bench.loadtest_profile run app.py --server.port 8501 ...   # as `streamlit`

Each script run (a full run or a fragment's, widget callbacks included) runs in its own thread
under its own cProfile.Profile; when it ends its stats join the server's total. SIGUSR1 writes
that total to $VAE_PROFILE_OUT (pstats' binary format) and starts a new one, so a benchmark
can profile each kind of action apart (bench/loadtest_cpu.py does); without
$VAE_PROFILE_OUT nothing is profiled. SIGUSR2 writes the server's sessions and the bytes of its
caches, session states and media files (Streamlit's own stats) to $VAE_SERVER_STATS/<pid>.json
(bench/soak.py reads them). The app is not changed:
the hook patches Streamlit's ScriptRunner in this process only. cProfile's overhead inflates
Python-heavy code, so the shares rank costs; bench/loadtest_cpu measures them unprofiled.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import signal
import sys
import threading
from typing import Any

ENV_OUT = "VAE_PROFILE_OUT"
ENV_STATS = "VAE_SERVER_STATS"  # folder where SIGUSR2 writes <pid>.json: the server's stats
_lock = threading.Lock()
_total: list[pstats.Stats | None] = [None]


def _patch() -> None:
    from streamlit.runtime.scriptrunner import script_runner  # deferred: after argv is set

    run = script_runner.ScriptRunner._run_script

    def profiled(self: Any, rerun_data: Any) -> None:
        prof = cProfile.Profile()
        prof.enable()
        try:
            run(self, rerun_data)
        finally:
            prof.disable()
            with _lock:
                if _total[0] is None:
                    _total[0] = pstats.Stats(prof)
                else:
                    _total[0].add(prof)

    script_runner.ScriptRunner._run_script = profiled


def _dump(_sig: int, _frame: Any) -> None:
    with _lock:
        stats, _total[0] = _total[0], None
    out = os.environ.get(ENV_OUT)
    try:  # a signal handler in the server's event loop: never let it raise
        if out and stats is not None:
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
            stats.dump_stats(out)
        elif out and os.path.exists(out):
            os.remove(out)  # no run since the last dump: no file
    except OSError as e:
        print(f"loadtest_profile: cannot write {out}: {e}", file=sys.stderr, flush=True)


def server_stats() -> dict[str, Any]:
    """Sessions, and the bytes Streamlit's own stats name per category (st.cache_data,
    st.cache_resource, session state, the media file store): what each holds now."""
    from streamlit.runtime import Runtime  # deferred: only inside the running server

    rt = Runtime.instance()
    by: dict[str, int] = {}
    entries: dict[str, int] = {}
    for stats in rt.stats_mgr.get_stats().values():
        for stat in stats:
            name = getattr(stat, "category_name", type(stat).__name__)
            by[name] = by.get(name, 0) + int(getattr(stat, "byte_length", 0) or 0)
            entries[name] = entries.get(name, 0) + 1
    mgr = rt._session_mgr  # noqa: SLF001 - no public count of the sessions
    return {"sessions": mgr.num_sessions(), "active_sessions": mgr.num_active_sessions(),
            "bytes": by, "entries": entries}


def _stats(_sig: int, _frame: Any) -> None:
    folder = os.environ.get(ENV_STATS)
    out = os.path.join(folder, f"{os.getpid()}.json") if folder else ""
    try:  # a signal handler in the server's event loop: never let it raise
        if out:
            tmp = out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(server_stats(), f)
            os.replace(tmp, out)
    except Exception as e:  # noqa: BLE001 - reported, the server goes on
        print(f"loadtest_profile: no stats: {e}", file=sys.stderr, flush=True)


def top(path: str, k: int = 25) -> dict[str, Any]:
    """The top functions of a dumped profile by cumulative time: all, and this repository's."""
    st = pstats.Stats(path)
    total = sum(tt for (_, _, tt, _, _) in st.stats.values()) or 1.0  # type: ignore[attr-defined]
    rows = sorted(((ct, f"{fn} ({file}:{line})", nc) for (file, line, fn), (_, nc, _, ct, _)
                   in st.stats.items()), reverse=True)  # type: ignore[attr-defined]
    cum = [[_short(name), round(100 * ct / total, 1), calls] for ct, name, calls in rows
           if ct / total >= 0.005]
    own = sorted(((tt, f"{fn} ({file}:{line})") for (file, line, fn), (_, _, tt, _, _)
                  in st.stats.items()), reverse=True)  # type: ignore[attr-defined]
    return {"total_s": round(total, 3),
            "cumulative_pct": cum[:k],
            "ours_cumulative_pct": [r for r in cum if r[0].startswith(_OURS_AT)][:k],
            "self_pct": [[_short(n), round(100 * t / total, 1)] for t, n in own[:k]]}


_OURS_AT = tuple(f"{d}/" for d in ("app.py", "ui", "pages", "vae_core", "deploy"))


def _short(name: str) -> str:
    """'fn (/abs/path/to/file.py:12)' with the path relative to the working folder (the
    repository) or to site-packages, so that the repository's frames read 'ui/x.py'."""
    fn, _, where = name.rpartition(" (")
    for base in (os.getcwd() + os.sep, "site-packages" + os.sep, "python3.11" + os.sep):
        if base in where:
            where = where.split(base, 1)[1]
    return f"{where[:-1]} {fn}" if where.endswith(")") else name


def main() -> None:
    if os.environ.get(ENV_OUT):
        _patch()
        signal.signal(signal.SIGUSR1, _dump)
    signal.signal(signal.SIGUSR2, _stats)
    from streamlit.web.cli import main as streamlit_main  # deferred: after the patch

    sys.argv[0] = "streamlit"
    streamlit_main()


if __name__ == "__main__":
    main()
