"""latent-explorer as a package: vae_core.resources finds the project's files, and a wheel
built from this working tree installs into a fresh venv and runs from another folder.

The fast tests cover resources (root, user models folder, checkpoint names, the app command).
The slow ones build and install without network: a fresh venv (no pip, no packages) reuses the
running interpreter's installed dependencies through a .pth file, and this interpreter's pip
installs into it with --no-deps --no-index --no-build-isolation.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import site
import subprocess
import sys
import time
import tomllib
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import vae_core
from vae_core import CheckpointError, resources
from vae_core.resources import resolve_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED = REPO_ROOT / "checkpoints"
DIST = "latent_explorer"
KEPT_ENV = ("VAE_DATA_DIR", "VAE_FASHION_DIR", "VAE_FOLDER_DIR", "VAE_USER_MODELS_DIR",
            "PYTHONPATH", "PYTHONHOME", "XDG_DATA_HOME")
PYPI_LIMIT = 100 * 2**20  # PyPI's default size limit for one file
VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


# --- resources in this clone -------------------------------------------------------------
def test_root_is_the_clone() -> None:
    assert resources.is_checkout()
    assert resources.root() == REPO_ROOT
    assert resources.bundled_dir() == BUNDLED
    assert resources.data_root() == REPO_ROOT / "data"
    assert "mnist-mlp-2d" in resources.bundled_models()
    assert "digit-classifier" not in resources.bundled_models()  # not a VAE


def test_user_models_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(tmp_path / "mine"))
    assert resources.user_models_dir() == tmp_path / "mine"
    monkeypatch.delenv("VAE_USER_MODELS_DIR")
    assert resources.user_models_dir() == BUNDLED / "user"  # a clone: as always
    monkeypatch.setattr(resources, "_checkout", lambda: None)  # as if installed
    assert resources.root() == Path(resources.__file__).resolve().parent / "share"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resources.user_models_dir() == tmp_path / "xdg" / "latent-explorer" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resources.user_models_dir() == (tmp_path / "home" / ".local" / "share"
                                           / "latent-explorer" / "models")


@pytest.fixture
def user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user-models folder with one model, "mine" (a copy of the small mnist-conv-16d)."""
    d = tmp_path / "user-models"
    shutil.copytree(BUNDLED / "mnist-conv-16d", d / "mine")
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(d))
    monkeypatch.chdir(tmp_path)  # not the repo: names must not resolve as relative paths
    return d


def test_load_a_bundled_name_a_user_name_and_a_path(user_models: Path) -> None:
    ck = vae_core.load("mnist-mlp-2d")
    assert ck.path == BUNDLED / "mnist-mlp-2d" and ck.model_config.latent_dim == 2
    mine = vae_core.load("mine")
    assert mine.path == user_models / "mine" and mine.model_config.latent_dim == 16
    by_path = vae_core.load(BUNDLED / "mnist-conv-16d")
    assert by_path.path == BUNDLED / "mnist-conv-16d"
    assert vae_core.load(str(user_models / "mine")).model_config == mine.model_config


def test_resolution_order(user_models: Path, tmp_path: Path) -> None:
    (tmp_path / "mnist-mlp-2d").mkdir()  # a folder here wins over a bundled name
    assert resolve_checkpoint("mnist-mlp-2d") == Path("mnist-mlp-2d")
    (tmp_path / "mnist-mlp-2d").rmdir()
    shutil.copytree(user_models / "mine", user_models / "mnist-mlp-2d")
    assert resolve_checkpoint("mnist-mlp-2d") == BUNDLED / "mnist-mlp-2d"  # bundled first
    assert resolve_checkpoint("~") == Path.home()  # a path, as given (expanded)


@pytest.mark.parametrize("text", ["nope", "no/such/folder", "", " "])
def test_unknown_checkpoint_is_one_line(user_models: Path, text: str) -> None:
    with pytest.raises(CheckpointError) as e:
        vae_core.load(text)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"checkpoint not found: {text!r} is not a folder")
    assert "mnist-mlp-2d" in msg and str(user_models) in msg  # what exists, where to look


@pytest.mark.parametrize("name", ["model.pt", "weights.PTH", "mnist-mlp-2d.ckpt"])
def test_pickle_names_are_refused_found_or_not(user_models: Path, name: str) -> None:
    for exists in (False, True):
        if exists:
            Path(name).write_bytes(b"\x80\x04")
        with pytest.raises(CheckpointError, match="pickle-based PyTorch files are refused"):
            vae_core.load(name)


def test_launch_app_command(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    class FakePopen:
        def __init__(self, cmd: list[str], **kw: object) -> None:
            calls.append((cmd, kw))

        def wait(self) -> int:
            return 3

    monkeypatch.setattr(resources.subprocess, "Popen", FakePopen)
    assert resources.launch_app(["--server.port", "8999"]) == 3
    (cmd, kw), = calls
    assert cmd[:5] == [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py")]
    assert cmd[-2:] == ["--server.port", "8999"]  # the user's flags last: they win
    assert "cwd" not in kw  # the caller's folder: relative paths keep their meaning
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    flags = {f.split("=")[0] for f in cmd[5:-2]}
    assert flags == {f"--{s}.{k}" for s, kv in config.items() for k in kv}
    assert "--server.maxUploadSize=10" in cmd and "--runner.postScriptGC=false" in cmd


# --- the package, built and installed ----------------------------------------------------
def _copy_clone(dest: Path) -> Path:
    """The working tree's files that git would commit (tracked or not ignored)."""
    git = shutil.which("git")
    if git and (REPO_ROOT / ".git").exists():
        out = subprocess.run([git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=REPO_ROOT, capture_output=True, check=True).stdout
        for rel in filter(None, out.decode().split("\0")):
            src = REPO_ROOT / rel
            if src.is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
    else:
        shutil.copytree(REPO_ROOT, dest, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".cache", "user"))
    return dest


def _pip(*args: str | Path) -> None:
    r = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q",
                        *map(str, args)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]


def _venv(path: Path) -> Path:
    """A fresh venv without pip, seeing this interpreter's packages after its own."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    sp = next(path.glob("lib/python3*/site-packages"))
    (sp / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return path


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("package")


@pytest.fixture(scope="module")
def clone(tmp: Path) -> Path:
    return _copy_clone(tmp / "clone")


@pytest.fixture(scope="module")
def env(tmp: Path) -> dict[str, str]:
    """No data or user-models setting; the user's data folder and the cache in tmp."""
    e = {k: v for k, v in os.environ.items() if k not in KEPT_ENV}
    e.update(XDG_DATA_HOME=str(tmp / "xdg"), VAE_CACHE_DIR=str(tmp / "cache"),
             OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return e


@pytest.fixture(scope="module")
def elsewhere(tmp: Path) -> Path:
    (tmp / "elsewhere").mkdir()
    return tmp / "elsewhere"


@pytest.fixture(scope="module")
def installed(tmp: Path, clone: Path) -> Path:
    """`pip install <clone>` into a fresh venv; returns the venv."""
    venv = _venv(tmp / "venv")
    _pip("--python", venv / "bin" / "python", "install", "--no-deps", "--no-index",
         "--no-build-isolation", clone)
    return venv


def run(venv: Path, args: list[str], env: dict[str, str], cwd: Path,
        timeout: float = 300) -> subprocess.CompletedProcess:
    exe = venv / "bin" / args[0]
    return subprocess.run([str(exe), *args[1:]], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_wheel_carries_the_app_models_and_data(clone: Path, tmp: Path) -> None:
    _pip("wheel", "--no-deps", "--no-index", "--no-build-isolation", "-w", tmp / "dist", clone)
    wheel, = (tmp / "dist").glob(f"{DIST}-*.whl")
    size = wheel.stat().st_size
    print(f"\nwheel {wheel.name}: {size / 2**20:.1f} MiB")
    assert size < PYPI_LIMIT
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {n.split("/")[0] for n in names} == {"vae_core", f"{DIST}-{VERSION}.dist-info"}
    share = "vae_core/share/"
    # every file of the app (a new component's frontend too), not a list that goes stale
    app_files = [p.relative_to(clone).as_posix() for d in ("pages", "ui", "assets")
                 for p in (clone / d).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert "ui/frontend/latent_pad/pad.js" in app_files
    for rel in (*app_files, "app.py", ".streamlit/config.toml",
                "data/mnist/t10k-images-idx3-ubyte.gz", "data/mnist/train-images-idx3-ubyte.gz",
                "data/fashion-mnist/t10k-images-idx3-ubyte.gz"):
        assert share + rel in names, rel
    for model in BUNDLED.iterdir():
        if model.name != "user":
            for f in model.iterdir():
                assert f"{share}checkpoints/{model.name}/{f.name}" in names
    assert not any(n.startswith(f"{share}checkpoints/user") for n in names)
    entry = zipfile.ZipFile(wheel).read(f"{DIST}-{VERSION}.dist-info/entry_points.txt").decode()
    assert "latent-explorer = vae_core.__main__:main" in entry


@pytest.mark.slow
def test_installed_package_runs_from_another_folder(installed: Path, env: dict[str, str],
                                                     elsewhere: Path, tmp: Path) -> None:
    sp = next(installed.glob("lib/python3*/site-packages"))
    # one folder in site-packages: no top-level pages/, ui/, data/, checkpoints/ or app.py
    assert {p.name for p in sp.iterdir()} == {"vae_core", f"{DIST}-{VERSION}.dist-info", "deps.pth"}

    r = run(installed, ["latent-explorer", "--help"], env, elsewhere)
    assert r.returncode == 0 and "evaluate" in r.stdout, r.stderr[-2000:]
    r = run(installed, ["latent-explorer", "--version"], env, elsewhere)  # from the metadata
    assert (r.returncode, r.stdout.strip()) == (0, f"latent-explorer {VERSION}"), r.stderr

    code = ("import json, vae_core; from vae_core import resources as r; "
            "ck = vae_core.load('mnist-mlp-2d'); "
            "print(json.dumps([str(r.root()), str(ck.path), str(r.user_models_dir()), "
            "str(vae_core.data.REPO_DATA_DIR), len(vae_core.load_split('mnist', False))]))")
    r = run(installed, ["python", "-c", code], env, elsewhere)
    assert r.returncode == 0, r.stderr[-3000:]
    root, ck, user, data, n = json.loads(r.stdout.strip().splitlines()[-1])
    assert Path(root) == sp / "vae_core" / "share"
    assert Path(ck) == Path(root) / "checkpoints" / "mnist-mlp-2d"
    assert Path(user) == tmp / "xdg" / "latent-explorer" / "models"  # not in site-packages
    assert Path(data) == Path(root) / "data" / "mnist" and n == 10_000

    r = run(installed, ["latent-explorer", "evaluate", "--checkpoint", "mnist-mlp-2d",
                        "--limit", "200", "--json"], env, elsewhere)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert 100 < res["test_neg_elbo"] < 250, res

    r = run(installed, ["latent-explorer", "evaluate", "--checkpoint", "no-such-model"], env,
            elsewhere)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.stderr.count("\n") == 1 and "checkpoint not found" in r.stderr, r.stderr


@pytest.mark.slow
def test_installed_app_serves_the_bundled_model(installed: Path, env: dict[str, str],
                                                 elsewhere: Path, tmp: Path) -> None:
    from bench.loadtest import free_port
    from bench.st_client import StClient
    from streamlit.proto.NewSession_pb2 import Config

    class Client(StClient):  # keeps the server's config, sent with each new session
        config = None

        def _apply(self, m) -> None:  # type: ignore[no-untyped-def]
            if m.WhichOneof("type") == "new_session":
                Client.config = m.new_session.config
            super()._apply(m)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(tmp / "app.log", "wb") as log:
        proc = subprocess.Popen([str(installed / "bin" / "latent-explorer"), "app",
                                 "--server.headless", "true", "--server.port", str(port),
                                 "--server.address", "127.0.0.1"],
                                cwd=elsewhere, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        while True:
            assert proc.poll() is None, (tmp / "app.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp / "app.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.5)

        async def sliders() -> tuple[list[str], list[str]]:
            c = Client(url, timeout=90)
            await c.connect("sliders")
            try:
                return c.captions(), c.problems()
            finally:
                await c.close()

        # In a thread of its own: Playwright's sync API (the e2e tests, earlier in the same
        # pytest run) keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as pool:
            captions, problems = pool.submit(asyncio.run, sliders()).result()
        assert any("z on the server: (0.00, 0.00)" in t for t in captions), captions
        assert problems == [], problems
        # The pad's modules are served from the installed folder (ui.frontend_modules).
        pad_js = f"{url}/_stcore/bidi-components/latent_explorer.latent_pad/latent_pad/blobs.js"
        with urllib.request.urlopen(pad_js, timeout=10) as resp:
            assert b"export function fetchBlob" in resp.read()
        assert Client.config is not None  # the project's settings, from another folder:
        assert Client.config.toolbar_mode == Config.ToolbarMode.MINIMAL
        assert not Client.config.gather_usage_stats
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not (elsewhere / ".streamlit").exists()


@pytest.mark.slow
def test_editable_install_uses_the_clone(clone: Path, tmp: Path, env: dict[str, str],
                                          elsewhere: Path) -> None:
    venv = _venv(tmp / "venv-editable")
    _pip("--python", venv / "bin" / "python", "install", "--no-deps", "--no-index",
         "--no-build-isolation", "-e", clone)
    code = ("from importlib.util import find_spec; from vae_core import resources as r; "
            "print(r.root(), r.user_models_dir(), [find_spec(n) for n in ('ui', 'deploy')])")
    r = run(venv, ["python", "-c", code], env, elsewhere)
    assert r.returncode == 0, r.stderr[-3000:]
    # vae_core maps onto the clone; the clone's root is not on sys.path (no ui, no deploy)
    assert r.stdout.split() == [str(clone), str(clone / "checkpoints" / "user"), "[None,", "None]"]
    assert (venv / "bin" / "latent-explorer").exists()
    share = list(venv.glob("**/share/latent-explorer")) + list(venv.glob("**/vae_core/share"))
    assert share == []  # nothing of the 50 MB copied into the venv
