"""A fresh clone, with nothing beside it, trains and draws its first page.

The committed HEAD of this repository is `git clone`d into an empty temporary folder. There,
with no data setting and with the current interpreter (so no install), the command line
trains 1 epoch on the bundled MNIST, the full 60,000-image training set loads, and AppTest
renders the first page. Uncommitted files are not in the clone: this tests what is committed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_VARS = ("VAE_DATA_DIR", "VAE_FASHION_DIR", "VAE_FOLDER_DIR", "VAE_USER_MODELS_DIR",
             "PYTHONPATH")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed HEAD, cloned alone into an empty folder."""
    git = shutil.which("git")
    if git is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout with git installed: nothing to clone")
    alone = tmp_path_factory.mktemp("nothing-beside")
    dest = alone / "latent-explorer"
    r = subprocess.run([git, "clone", "--quiet", str(REPO_ROOT), str(dest)],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in alone.iterdir()] == ["latent-explorer"]  # nothing beside it
    return dest


@pytest.fixture(scope="module")
def clean_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment without any data setting, with a cache of its own."""
    env = {k: v for k, v in os.environ.items() if k not in DATA_VARS}
    env.update(VAE_CACHE_DIR=str(tmp_path_factory.mktemp("clone-cache")),
               OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return env


def run_in(clone: Path, env: dict[str, str], args: list[str], timeout: float = 600
           ) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, *args], cwd=clone, env=env, capture_output=True,
                       text=True, timeout=timeout, check=False)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-4000:])
    assert "Traceback" not in r.stderr, r.stderr[-4000:]
    return r


def test_clone_loads_the_full_training_set_from_itself(clone: Path,
                                                       clean_env: dict[str, str]) -> None:
    code = ("import json, vae_core\n"
            "from vae_core import load_split\n"
            "tr, te = load_split('mnist', train=True), load_split('mnist', train=False)\n"
            "print(json.dumps({'file': vae_core.__file__, 'train': len(tr), 'test': len(te)}))")
    out = json.loads(run_in(clone, clean_env, ["-c", code]).stdout.splitlines()[-1])
    assert Path(out["file"]).resolve().is_relative_to(clone.resolve())  # the clone's code
    assert (out["train"], out["test"]) == (60_000, 10_000)


def test_clone_trains_one_epoch_with_no_data_setting(clone: Path,
                                                     clean_env: dict[str, str]) -> None:
    out = clone / "checkpoints" / "user" / "fresh"
    r = run_in(clone, clean_env, ["-m", "vae_core", "train", "--epochs", "1", "--limit", "3000",
                                  "--hidden", "64", "--latent-dim", "2", "--batch-size", "128",
                                  "--device", "cpu", "--out", str(out)])
    assert "on 3,000 images" in r.stderr and f"saved {out}" in r.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and metrics["train_images"] == 3000
    # It learnt: a decoder that outputs 0.5 everywhere scores 784 ln 2 = 543 nats; this run
    # gave 356 when the test was written.
    assert 0 < metrics["test_neg_elbo"] < 450


def test_clone_renders_the_first_page(clone: Path, clean_env: dict[str, str]) -> None:
    code = ("import json\n"
            "from streamlit.testing.v1 import AppTest\n"
            "at = AppTest.from_file('app.py', default_timeout=180).run()\n"
            "print(json.dumps({'exceptions': [str(e.value) for e in at.exception],\n"
            "                  'errors': [str(e.value) for e in at.error],\n"
            "                  'titles': [t.value for t in at.title]}))")
    out = json.loads(run_in(clone, clean_env, ["-c", code]).stdout.splitlines()[-1])
    assert out["exceptions"] == [] and out["errors"] == []
    assert out["titles"] == ["How a VAE works"]
