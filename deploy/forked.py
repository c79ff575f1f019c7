"""Replicas forked from a launcher that has imported the heavy modules once.

The CUDA build of torch costs ~500 MB per process at `import torch`, most of it private (the
CUDA libraries' start-up touches their files and fills the heap), and pandas, Plotly, Streamlit
and the pages' modules add ~200 MB more. Imported once in the launcher and then forked, those
pages are shared copy-on-write by every replica instead of being held once per replica.

The launcher itself preloads and forks, with no fork server in between: it runs no Python
thread of its own (supervision is a loop in the main thread; the only other threads are the
idle native pools that numpy's and scipy's OpenBLAS and pyarrow's jemalloc start at import,
which hand over to a forked child by their own fork handlers), and it never runs a torch
computation, so no OpenMP pool exists to be broken in the children. A replica loads its model
and data itself, after the fork (app.py's lifespan hook -> ui.preload), so nothing it caches is
shared or stale.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import io
import logging
import os
import runpy
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

ENV_FORK = "VAE_DEPLOY_FORK"  # "0": every replica its own `python -m streamlit` (the old way)
M_ARENA_MAX = -8  # glibc's mallopt parameter for MALLOC_ARENA_MAX

# What a replica imports that is worth sharing, heaviest first: Streamlit's server (the CLI
# imports it only when it runs), scipy.ndimage (the upload's preprocessing) and the modules the
# app's own preload imports (ui.preload.MODULES). Not onnxruntime, although heavy: a replica
# imports it only for a foreign ONNX model, and its import opens a SQLite database
# (~/.cache/Microsoft/DeveloperTools) that a forked child must not use through the parent's
# connection; it saves 8 MB of heap per replica at most.
HEAVY = ("torch", "streamlit", "streamlit.web.cli", "streamlit.web.bootstrap",
         "streamlit.web.server.server", "scipy.ndimage")
# Streamlit's cache decorators warn "No runtime found" outside a server (each replica builds its
# caches in its own runtime after the fork, so the warning says nothing here).
QUIET = ("streamlit.runtime.caching.cache_data_api",
         "streamlit.runtime.caching.cache_resource_api")


def fork_wanted() -> bool:
    """Whether replicas are forked ($VAE_DEPLOY_FORK, default on; 0 for separate processes)."""
    return os.environ.get(ENV_FORK, "1").strip() != "0"


def preload() -> list[str]:
    """Import what the replicas share; modules only: no model, data or torch computation runs
    here. Raises what a failing import raises. Returns the modules imported."""
    from ui.preload import MODULES  # deferred: this module is imported before the heavy ones

    names = list(dict.fromkeys([*HEAVY, *MODULES]))
    for name in HEAVY:
        importlib.import_module(name)
    quiet = [logging.getLogger(n) for n in QUIET]  # Streamlit sets each one's level itself
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.ERROR)
    try:
        for name in names:
            importlib.import_module(name)
    finally:
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)
    # Move what exists now out of the collector's reach: a collection in a replica would
    # otherwise write to every old object's header and unshare its page.
    gc.freeze()
    return names


def preload_for_fork(log=print, arenas: str = "2") -> bool:
    """preload() and limit_malloc_arenas() before the launcher forks its replicas: True, or
    False with one line to `log` if an import failed (the replicas are then started as
    separate processes, the old way, which still works)."""
    t0 = time.monotonic()
    try:
        names = preload()
    except Exception as e:  # any failed import (a module missing, a broken install)
        log(f"preload failed ({type(e).__name__}: {e}); replicas start as separate processes")
        return False
    limit_malloc_arenas(arenas)
    log(f"replicas forked from this launcher (pid {os.getpid()}) after importing "
        f"{len(names)} modules in {time.monotonic() - t0:.1f} s")
    return True


def limit_malloc_arenas(arenas: str) -> None:
    """Set glibc's arena limit in this process, as $MALLOC_ARENA_MAX=`arenas` does at a
    process's start (glibc reads it only then; forked replicas inherit what this sets)."""
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, int(arenas))
    except (OSError, AttributeError, ValueError):
        pass  # not glibc, or a value glibc would ignore in the environment too


class ForkedProcess:
    """What the launcher needs of subprocess.Popen, for a forked child: pid, poll, wait."""

    def __init__(self, pid: int, cmd: list[str]) -> None:
        self.pid, self.args = pid, cmd
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code (-N for signal N, as Popen) once the child has exited, else None."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: it is gone all the same
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Block until the child exits; subprocess.TimeoutExpired after `timeout` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.05)
        return code


def fork_module(cmd: list[str], cwd: Path, env: dict[str, str], log: Path,
                setup=None) -> ForkedProcess:
    """`cmd` ([python, "-m", module, args...]) run as a forked child of this process: cwd, env
    added to os.environ, stdin /dev/null, stdout and stderr appended to `log`; `setup()` runs
    first in the child (the launcher's new process group and parent-death signal)."""
    if len(cmd) < 3 or cmd[1] != "-m":
        raise ValueError(f"not a `python -m module` command: {cmd}")
    for stream in (sys.stdout, sys.stderr):  # or the child writes the parent's buffer again
        stream.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return ForkedProcess(pid, cmd)
    code = 1
    try:  # never return into the launcher's code from here, whatever happens
        if setup is not None:
            setup()
        if os.getppid() != parent:  # the launcher died before the parent-death signal was set
            os._exit(1)
        code = _run_module(cmd[2], cmd[3:], cwd, env, log)
    except BaseException:  # the child's last words go to its log, then _exit
        try:
            traceback.print_exc()
        except BaseException:
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def _run_module(module: str, args: list[str], cwd: Path, env: dict[str, str],
                log: Path) -> int:
    """In the child: what `python -m module args` would do; its exit code."""
    for sig in (signal.SIGINT, signal.SIGTERM):  # the launcher's handlers are not ours
        signal.signal(sig, signal.SIG_DFL)
    os.chdir(cwd)
    os.environ.update(env)
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    # The inherited sys.stdout is block-buffered if the launcher's output was a file; a replica
    # runs unbuffered (PYTHONUNBUFFERED=1 in its env, read only at a process's start).
    sys.stdin = io.TextIOWrapper(open(0, "rb", closefd=False))
    sys.stdout = io.TextIOWrapper(open(1, "wb", buffering=0, closefd=False),
                                  write_through=True, errors="backslashreplace")
    sys.stderr = io.TextIOWrapper(open(2, "wb", buffering=0, closefd=False),
                                  write_through=True, errors="backslashreplace")
    if "numpy.random" in sys.modules:  # its global generator was seeded once, in the launcher
        sys.modules["numpy.random"].seed()
    sys.path[0:0] = [str(cwd)]  # `python -m` puts the working directory first
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    return 0
