"""Where the project's files are: the app, the bundled models, the bundled data, your models.

In a clone (also after `pip install -e .`) they are the repository's own folders. A wheel
carries them as package data of `vae_core.share` (see pyproject.toml), so an installed copy
finds them beside this module. Everything that needs one of these folders asks here instead of
counting parent folders, so the library, the CLI and the app work from any working directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import torch

from .checkpoint import CONFIG, PICKLE_SUFFIXES, WEIGHTS, Checkpoint, check_path, load_checkpoint
from .errors import CheckpointError

ENV_USER_MODELS_DIR = "VAE_USER_MODELS_DIR"
APP_SCRIPT = "app.py"
STREAMLIT_CONFIG = Path(".streamlit") / "config.toml"
_HERE = Path(__file__).resolve().parent


def _checkout() -> Path | None:
    """The repository root when this module runs from a clone (app.py and pages/ beside the
    vae_core folder), else None."""
    repo = _HERE.parent
    return repo if (repo / APP_SCRIPT).is_file() and (repo / "pages").is_dir() else None


def is_checkout() -> bool:
    """True when vae_core runs from a clone (plain or `pip install -e .`), not from a wheel."""
    return _checkout() is not None


def root() -> Path:
    """The folder holding app.py, pages/, ui/, checkpoints/ and data/: the repository root in
    a clone, else the installed copy (site-packages/vae_core/share)."""
    return _checkout() or _HERE / "share"


def bundled_dir() -> Path:
    """The bundled models (read-only in an install)."""
    return root() / "checkpoints"


def data_root() -> Path:
    """The bundled data sets (data/mnist, data/fashion-mnist)."""
    return root() / "data"


def user_models_dir() -> Path:
    """Where models a user trains or uploads go: $VAE_USER_MODELS_DIR if set; in a clone
    checkpoints/user (as always); in an install $XDG_DATA_HOME/latent-explorer/models
    (default ~/.local/share/...), since site-packages is no place for a user's files."""
    env = os.environ.get(ENV_USER_MODELS_DIR)
    if env:
        return Path(env).expanduser()
    if is_checkout():
        return bundled_dir() / "user"
    xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(xdg).expanduser() / "latent-explorer" / "models"


def _is_model(p: Path) -> bool:
    return p.is_dir() and (p / CONFIG).is_file() and (p / WEIGHTS).is_file()


def bundled_models() -> list[str]:
    """Names of the bundled VAE checkpoints (the classifier is not one), sorted."""
    d = bundled_dir()
    return sorted(p.name for p in d.iterdir() if _is_model(p)) if d.is_dir() else []


def _plain_name(text: str) -> bool:
    return text not in ("", ".", "..") and Path(text).name == text and "\\" not in text


def resolve_checkpoint(text: str | Path) -> Path:
    """A checkpoint argument as a folder: an existing path as given; else the name of a
    bundled model ("mnist-mlp-2d"); else the name of one of your models (user_models_dir()).

    Raises CheckpointError with one line when it is none of these; a pickle file's name
    (.pt, .pth, ...) gets checkpoint.check_path's refusal, found or not."""
    name = str(text)
    p = Path(name).expanduser()
    if p.suffix.lower() in PICKLE_SUFFIXES:
        check_path(p)  # raises: pickles are refused whether or not they exist
    if name.strip() and p.exists():  # Path("") is ".": an empty argument names nothing
        return p
    if _plain_name(name):
        for folder in (bundled_dir(), user_models_dir()):
            if (folder / name).is_dir():
                return folder / name
    names = ", ".join(bundled_models()) or "none found"
    raise CheckpointError(f"checkpoint not found: {name!r} is not a folder here, a bundled "
                          f"model ({names}) or one of your models ({user_models_dir()})")


def load(name_or_path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint by bundled name, your model's name or path, e.g.
    `vae_core.load("mnist-mlp-2d").model.encode(images)`; CheckpointError if it can't."""
    return load_checkpoint(resolve_checkpoint(name_or_path), device=device)


def streamlit_settings() -> list[str]:
    """The project's .streamlit/config.toml as `--section.key=value` flags. Streamlit reads
    that file from the working directory only; as flags it applies wherever the app starts,
    and a user's own flags (given after these) still win."""
    file = root() / STREAMLIT_CONFIG
    if not file.is_file():
        return []
    flags = []
    for section, values in tomllib.loads(file.read_text()).items():
        for key, value in values.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags.append(f"--{section}.{key}={text}")
    return flags


def app_command(streamlit_args: list[str]) -> list[str]:
    """`python -m streamlit run <root()/app.py> <project settings> <streamlit_args>`."""
    return [sys.executable, "-m", "streamlit", "run", str(root() / APP_SCRIPT),
            *streamlit_settings(), *streamlit_args]


def launch_app(streamlit_args: list[str]) -> int:
    """Run the Streamlit app on the bundled models until it stops; returns its exit code.

    A subprocess, so that vae_core never imports streamlit. It runs in the caller's working
    directory (relative paths in the arguments keep their meaning); Ctrl-C reaches both
    processes, and this one waits for Streamlit to finish shutting down."""
    proc = subprocess.Popen(app_command(list(streamlit_args)))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # Ctrl-C in a terminal reached Streamlit too; a SIGINT sent to this process alone
        # did not, so pass a stop on either way and give it time to close its sessions.
        proc.terminate()
        try:
            return proc.wait(timeout=30)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            proc.kill()
            return proc.wait()
