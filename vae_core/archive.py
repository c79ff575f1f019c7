"""Checkpoint folders in and out: recognise one, import uploaded files, export a `.zip`, copy.

Everything here goes through `extract_zip` / `load_checkpoint` validation, so an imported
folder is either complete and loadable or never appears. A folder keeps a human name: the
zip's own folder name, else one made from the config (e.g. `mnist-mlp-2d`).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterable
from pathlib import Path

from .checkpoint import (
    CONFIG,
    METRICS,
    PICKLE_SUFFIXES,
    REPLAY,
    WEIGHTS,
    extract_zip,
    load_checkpoint,
    read_configs,
    safe_name,
)
from .errors import CheckpointError
from .onnx_checks import DECODER, ENCODER, ONNX_FILES, read_manifest
from .onnx_model import is_onnx_model

# What export and copy keep (not optimizer state); the replay is validated where it is read.
# A foreign model's files (model.json, decoder.onnx, encoder.onnx) travel the same way.
PORTABLE_FILES = (CONFIG, WEIGHTS, METRICS, REPLAY, *ONNX_FILES)


def is_checkpoint(path: str | Path) -> bool:
    """True if `path` is a folder holding at least config.json and model.safetensors, or a
    foreign model folder (model.json and decoder.onnx)."""
    p = Path(path)
    return p.is_dir() and (p / CONFIG).is_file() and (p / WEIGHTS).is_file() \
        or is_onnx_model(p)


def weights_mtime(path: str | Path) -> float:
    """Modification time of a checkpoint's weights (0.0 if missing): with the folder, the
    identity of the weights a cache may key on (they are replaced atomically, per epoch).
    For a foreign model, the latest of its .onnx files."""
    p = Path(path)
    files = [p / WEIGHTS] if (p / CONFIG).exists() or not is_onnx_model(p) \
        else [p / DECODER, p / ENCODER]
    return max((f.stat().st_mtime for f in files if f.exists()), default=0.0)


def config_name(path: str | Path) -> str:
    """A readable name made from a checkpoint's config, `<dataset>-<arch>-<latent>d`, or
    from a foreign model's model.json: its name, else `<dataset>-onnx-<latent>d`."""
    if not (Path(path) / CONFIG).exists() and is_onnx_model(path):
        man = read_manifest(Path(path))
        return man.name or f"{man.dataset}-onnx-{man.cfg.latent_dim}d"
    m, t, _ = read_configs(path)
    return f"{t.dataset}-{m.arch}-{m.latent_dim}d"


def _zip_folder_name(data: bytes) -> str | None:
    """The single top-level folder the zip's checkpoint files sit in, if any."""
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    tops = {n.replace("\\", "/").split("/")[0] for n in names if "/" in n.replace("\\", "/")}
    tops.discard("__MACOSX")
    return tops.pop() if len(tops) == 1 else None


def _clean_name(raw: str | None) -> str | None:
    """`raw` made into a valid model name, or None if nothing usable is left."""
    if not raw:
        return None
    cand = re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-._")[:64]
    try:
        return safe_name(cand)
    except CheckpointError:
        return None


def import_upload(files: Iterable[tuple[str, bytes]], root: str | Path) -> Path:
    """Validate uploaded checkpoint files and unpack them into a new folder under `root`.

    `files` is either one `.zip` of a checkpoint folder, or config.json + model.safetensors
    (+ metrics.json), or a foreign model's model.json + decoder.onnx (+ encoder.onnx). The
    folder returned is named after the zip's folder or the config, so the model keeps one
    name everywhere. Raises CheckpointError (nothing is left behind).
    """
    files = list(files)
    names = [n for n, _ in files]
    if not files:
        raise CheckpointError("no file was uploaded")
    if any(n.lower().endswith(PICKLE_SUFFIXES) for n in names):
        raise CheckpointError("pickle files (.pt, .pth, .pkl) are refused because loading them "
                              "can run arbitrary code; upload safetensors + JSON")
    Path(root).mkdir(parents=True, exist_ok=True)
    box = Path(tempfile.mkdtemp(prefix="upload-", dir=root))
    staging = box / "staging"
    try:
        if len(files) == 1 and names[0].lower().endswith(".zip"):
            extract_zip(files[0][1], staging)
            name = _clean_name(_zip_folder_name(files[0][1])) or \
                _clean_name(Path(names[0]).stem)
        else:
            bad = [n for n in names if n not in PORTABLE_FILES]
            if bad:
                raise CheckpointError(f"unexpected file(s) {bad}; upload a .zip, "
                                      f"{CONFIG} + {WEIGHTS} or model.json + {DECODER}")
            staging.mkdir()
            for n, blob in files:
                (staging / n).write_bytes(blob)
            name = None
        load_checkpoint(staging)  # validate now, so a bad upload never reaches the picker
        dest = box / (name or _clean_name(config_name(staging)) or "uploaded-model")
        os.rename(staging, dest)
        return dest
    except BaseException:
        shutil.rmtree(box, ignore_errors=True)
        raise


def export_zip(path: str | Path, name: str | None = None) -> bytes:
    """A `.zip` of a checkpoint folder (config, weights, metrics, replay inside `<name>/`),
    the form the app's upload and `extract_zip` accept back."""
    src = Path(path)
    if not is_checkpoint(src):
        raise CheckpointError(f"{src} is not a checkpoint folder")
    folder = name or src.name
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in PORTABLE_FILES:
            if (src / f).is_file():
                zf.write(src / f, f"{folder}/{f}")
    return buf.getvalue()


def copy_checkpoint(src: str | Path, dest: str | Path) -> Path:
    """Copy a checkpoint folder's portable files to `dest`, which must not exist yet. The copy
    appears complete or not at all (built beside it, then renamed)."""
    src, dest = Path(src), Path(dest)
    if dest.exists():
        raise CheckpointError(f"a model named {dest.name!r} already exists; choose another name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".saving-{dest.name}-{uuid.uuid4().hex[:6]}"
    tmp.mkdir()
    try:
        for f in PORTABLE_FILES:
            if (src / f).exists():
                shutil.copy2(src / f, tmp / f)
        if dest.exists():  # somebody took the name meanwhile
            raise CheckpointError(f"a model named {dest.name!r} already exists; choose another "
                                  "name")
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
