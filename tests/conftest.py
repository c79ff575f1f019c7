"""Shared fixtures for the core test suite (and any other test file that needs real MNIST).

* `mnist_dir`: the real MNIST folder: `VAE_DATA_DIR` when it is set, else the copy bundled in
  this repository (`data/mnist`), so a clone with nothing beside it runs the whole suite.
  Missing data is a test *failure*, never a skip: a suite that silently skips its data tests
  proves nothing.
* `VAE_CACHE_DIR` points at a per-session temporary folder for the whole run (subprocesses
  inherit it), so decompressed IDX files are never written under the user's home.
* `mnist_train` / `mnist_test`: small in-memory splits loaded once per session.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

MNIST_DIR = Path(os.environ.get("VAE_DATA_DIR") or REPO_ROOT / "data" / "mnist").expanduser()
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")
TRAIN_LIMIT = 6000  # images kept in the session's train split; tests slice what they need
TEST_LIMIT = 1000


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point VAE_CACHE_DIR at a session temp folder (inherited by subprocesses)."""
    cache = tmp_path_factory.mktemp("vae-cache")
    old = os.environ.get("VAE_CACHE_DIR")
    os.environ["VAE_CACHE_DIR"] = str(cache)
    try:
        yield cache
    finally:
        if old is None:
            os.environ.pop("VAE_CACHE_DIR", None)
        else:
            os.environ["VAE_CACHE_DIR"] = old


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Run a test's torch ops on one CPU thread (faster on a small, busy machine), restored
    afterwards. Opt in with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Real MNIST (the four IDX .gz files); fails loudly if it is not there."""
    missing = [f for f in MNIST_FILES
               if not (MNIST_DIR / f).is_file() and not (MNIST_DIR / f"{f}.gz").is_file()]
    if not MNIST_DIR.is_dir() or missing:
        what = ", ".join(missing) if MNIST_DIR.is_dir() else "the whole folder"
        pytest.fail(f"real MNIST is required at {MNIST_DIR} (missing: {what}); restore the "
                    "bundled copy with `git checkout -- data/mnist`, or point VAE_DATA_DIR at "
                    "a folder holding the four IDX .gz files", pytrace=False)
    return MNIST_DIR


@pytest.fixture(scope="session")
def mnist_train(mnist_dir: Path, _isolated_cache: Path):
    """The first TRAIN_LIMIT real MNIST training images (a vae_core Split)."""
    from vae_core import load_split

    return load_split("mnist", True, mnist_dir, limit=TRAIN_LIMIT)


@pytest.fixture(scope="session")
def mnist_test(mnist_dir: Path, _isolated_cache: Path):
    """The first TEST_LIMIT real MNIST test images (a vae_core Split)."""
    from vae_core import load_split

    return load_split("mnist", False, mnist_dir, limit=TEST_LIMIT)


def _subset(split, n: int):
    from vae_core import Split

    return Split(split.images[:n], split.labels[:n], split.classes)


@pytest.fixture(scope="session")
def subset():
    """`subset(split, n)`: the first n images of a Split as a new Split (shares memory)."""
    return _subset
