"""Downloading MNIST or Fashion-MNIST with torchvision, failing fast and in one line offline.

Kept apart from data.py: only `--download` and the Train page's Download button need sockets
and torchvision's dataset classes.
"""

from __future__ import annotations

import socket
import threading
import urllib.parse
import urllib.request
from pathlib import Path

from .datasets import DATASET_NAMES, TV_NAMES, missing_data_help
from .errors import DataNotFoundError


def _tv_class(dataset: str) -> type:
    """torchvision's dataset class for `dataset`."""
    # Deferred: importing torchvision takes seconds (it pulls in torch._dynamo), and only a
    # download needs it, not loading data, `info`, `sample` or the app's first page.
    from torchvision import datasets

    return getattr(datasets, TV_NAMES[dataset])


def _unreachable(url: str, deadline_s: float) -> str | None:
    """None if a TCP connection to the URL's host (or to the proxy urllib would use) opens
    within `deadline_s`, else why not. The probe runs in a daemon thread that is abandoned
    at the deadline, because name lookup (getaddrinfo) takes no timeout and a resolver
    without network can stall far longer."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    why: list[str | None] = [f"no answer within {deadline_s:g} s"]

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=deadline_s).close()
            why[0] = None
        except OSError as e:
            why[0] = e.strerror or str(e) or type(e).__name__

    t = threading.Thread(target=probe, daemon=True, name="download-probe")
    t.start()
    t.join(deadline_s)
    return None if why[0] is None else f"{host}:{port}: {why[0]}"


def download_dataset(dataset: str, root: Path, timeout_s: float = 10) -> Path:
    """Download MNIST or Fashion-MNIST with torchvision (`download=True`: the four files,
    md5-checked) into the torchvision root `root` (files land in `root/MNIST/raw/`), and
    return `root`, usable as a data dir.

    Never hangs: it first checks that one of torchvision's mirrors answers within `timeout_s`
    and raises DataNotFoundError in one line if none does (e.g. offline); during the download
    each network read waits at most `timeout_s` (the process-wide socket default timeout is
    set meanwhile, then restored). Progress goes to stderr (torchvision's tqdm bars).
    """
    if dataset not in TV_NAMES:
        raise DataNotFoundError(f"cannot download {dataset!r}: only {sorted(TV_NAMES)} can be "
                                "downloaded")
    name = DATASET_NAMES[dataset]
    cls = _tv_class(dataset)
    whys = []
    for mirror in cls.mirrors:
        why = _unreachable(mirror, timeout_s)
        if why is None:
            break
        whys.append(why)
    else:
        raise DataNotFoundError(f"cannot download {name}: no network ({'; '.join(whys)}). "
                                f"{missing_data_help(dataset, download=False)}")
    root = Path(root).expanduser()
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        root.mkdir(parents=True, exist_ok=True)
        cls(str(root), train=True, download=True)
    except (RuntimeError, OSError, EOFError) as e:
        msg = " ".join(str(e).split())
        raise DataNotFoundError(f"cannot download {name} into {root}: {msg}") from e
    finally:
        socket.setdefaulttimeout(old)
    return root
