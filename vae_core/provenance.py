"""What a training run really was: the data it used, the command, the code and the machine.

The Trainer writes `run_record(...)` into a checkpoint's config.json at every save, so a model
found on disk months later says how it was made. Every value is measured, never copied from a
setting that may not have applied: `dataset` comes from the data when the loader knows it,
`train_images` is the number of images trained on. Nothing here raises: provenance that cannot
be found is recorded as unknown (None), it never stops a run.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import platform
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig
from .datasets import Split
from .errors import ConfigError

DIST_NAME = "latent-explorer"
CHECKOUT = Path(__file__).resolve().parent.parent  # the repository root in a source checkout
# The keys run_record() writes into config.json (the ones an earlier run's record keeps).
RUN_KEYS = ("command", "package_version", "git_commit", "versions", "device", "dataset",
            "train_images")


@lru_cache(maxsize=1)
def package_version() -> str:
    """This package's version: the checkout's pyproject.toml when running from a source
    checkout (an editable install's metadata may be older), else the installed metadata;
    "unknown" if neither can be read."""
    try:
        project = tomllib.loads((CHECKOUT / "pyproject.toml").read_text("utf-8"))["project"]
        if project.get("name") == DIST_NAME and isinstance(project.get("version"), str):
            return project["version"]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not a checkout (an installed copy): ask the package metadata
    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


def _git(*args: str) -> str | None:
    # GIT_DIR and friends from the caller's environment would point git at another repository.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        r = subprocess.run(["git", "-C", str(CHECKOUT), *args], capture_output=True, text=True,
                           timeout=10, env=env, check=False)
    except (OSError, subprocess.SubprocessError):  # git missing, hung, not executable
        return None
    return r.stdout.strip() if r.returncode == 0 else None


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The checkout's HEAD commit, with "+dirty" when tracked files differ from it; None when
    the package does not run from a git checkout (an installed copy) or git is missing.

    Only the folder holding this package counts: an installed copy inside some other
    repository (a venv in a project folder) must not report that repository's commit."""
    if not (CHECKOUT / ".git").exists():
        return None
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}+dirty" if status else commit


def versions() -> dict[str, str]:
    """torch, torchvision and Python versions of this process."""
    return {"torch": torch.__version__, "torchvision": torchvision_version(),
            "python": platform.python_version()}


def torchvision_version() -> str:
    """torchvision.__version__ without importing torchvision where it is not loaded yet: the
    import takes 3 s, a tenth of the default training run (bench/README.md), and the Trainer
    needs only this string. Its version.py is read instead (the metadata's version lacks the
    build tag, e.g. +cu130); provenance never stops a run."""
    loaded = sys.modules.get("torchvision")
    if loaded is not None:
        return str(getattr(loaded, "__version__", "unknown"))
    try:
        spec = importlib.util.find_spec("torchvision")
        for folder in (spec.submodule_search_locations or []) if spec else []:
            text = (Path(folder) / "version.py").read_text(encoding="utf-8")
            for line in text.splitlines():
                if line.startswith("__version__"):
                    return line.split("=", 1)[1].strip().strip("'\"")
        return metadata.version("torchvision")
    except (ImportError, OSError, ValueError, metadata.PackageNotFoundError):
        return "unknown"


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that is running, shell-quoted: `python -m vae_core train ...` for the
    module, the program's name (not its machine path) for a script or console entry point."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return ""
    first = Path(argv[0])
    if first.name == "__main__.py":
        prog = ["python", "-m", first.parent.name]
    elif argv[0] == "-c":
        prog = ["python", "-c"]
    else:
        prog = [first.name or argv[0]]
    return shlex.join([*prog, *argv[1:]])


def device_text(device: torch.device | str) -> str:
    """"cpu", or e.g. "cuda:0 (NVIDIA H100 80GB HBM3)": the accelerator's own name too."""
    dev = torch.device(device)
    if dev.type == "cuda":
        try:
            return f"{dev} ({torch.cuda.get_device_name(dev)})"
        except (RuntimeError, AssertionError, ValueError):  # a name is nice, never needed
            pass
    return str(dev)


def run_record(*, dataset: str, train_images: int, device: torch.device | str,
               command: str | Sequence[str] | None = None) -> dict[str, Any]:
    """What config.json records about the run: {"command", "package_version", "git_commit",
    "versions": {torch, torchvision, python}, "device", "dataset", "train_images"}.

    `command` is the caller's own description (the app says "Train page") or argv; default
    sys.argv. `dataset` and `train_images` must describe the data really trained on."""
    if command is None or not isinstance(command, str):
        command = command_line(command)
    return {"command": command, "package_version": package_version(),
            "git_commit": git_commit(), "versions": versions(), "device": device_text(device),
            "dataset": dataset, "train_images": int(train_images)}


def earlier_runs(info: dict[str, Any], epochs: int) -> list[dict[str, Any]]:
    """The records of the runs a resumed checkpoint came from (config.json's `info`), oldest
    first, the last one closed with the `epochs` it reached."""
    runs = [r for r in info.get("earlier_runs", []) if isinstance(r, dict)]
    last = {k: info[k] for k in RUN_KEYS if k in info}
    return [*runs, {**last, "epochs": epochs}] if last else runs


def data_used(cfg: TrainConfig, train: Split, test: Split | None = None
              ) -> tuple[TrainConfig, Split]:
    """The training config and split describing the data a run really trains on.

    `cfg.limit` keeps the first N images of `train` (as `load_split(limit=N)` does; a split
    that is already that short is kept as it is). The dataset is the split's own when the
    loader recorded it (`Split.dataset`), replacing `cfg.dataset`, so a Fashion-MNIST split
    trained with the default config is recorded as Fashion-MNIST. ConfigError when the test
    split comes from another dataset than the training split.
    """
    if cfg.limit and len(train) > cfg.limit:
        train = dataclasses.replace(train, images=train.images[:cfg.limit],
                                    labels=train.labels[:cfg.limit])
    known = getattr(train, "dataset", None)
    test_known = getattr(test, "dataset", None)
    if known and test_known and known != test_known:
        raise ConfigError(f"the training data is {known} but the test data is {test_known}; "
                          "train and score a model on one dataset")
    known = known or test_known
    if known and known != cfg.dataset:
        cfg = dataclasses.replace(cfg, dataset=known)
    return cfg, train
