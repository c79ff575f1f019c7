"""Publishing a checkpoint to a shared models folder under a name made from its contents.

A model uploaded in one browser session lives in that server's temporary folder; a link to it
opens for nobody else. `publish_checkpoint` copies it into the shared models folder
(`resources.user_models_dir()`, i.e. $VAE_USER_MODELS_DIR, which the replicas of a class
deployment share), where every session's model picker and every link find it, also after a
restart. The name is `<name>-<8 hex>`, the hex the start of a SHA-256 over the files
published (config, weights, metrics, replay), so:

- publishing the same model twice gives the same folder, written once;
- a different model with the same name gets a different folder, and a folder that holds
  something else under the computed name is never overwritten (refused with one line);
- the folder appears complete or not at all: it is built inside a hidden temporary folder
  beside it (no model picker lists that) and renamed into place; when two processes publish
  the same model at once, one rename wins and the other finds the identical folder.

What is published is validated like an upload (no symlinks, at most MAX_PUBLISH_BYTES, and
the copy itself loads with `load_checkpoint`) before it is renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from .archive import PORTABLE_FILES, _clean_name, is_checkpoint
from .checkpoint import _atomic_write, load_checkpoint
from .errors import CheckpointError
from .resources import user_models_dir

MAX_PUBLISH_BYTES = 32_000_000  # config + weights + metrics + replay (bundled models: <= 7 MB)
HASH_CHARS = 8
STAGING_PREFIX = ".publishing-"
STALE_SECONDS = 3600.0  # a staging folder this old was left by a process that died
_BASE_CHARS = 64 - 1 - HASH_CHARS  # model names are at most 64 characters


def _read_files(src: Path, max_bytes: int) -> dict[str, bytes]:
    """The portable files of checkpoint folder `src`, read once (what is hashed is what is
    written); refused if one is a link or not a plain file, or all weigh over `max_bytes`."""
    if not is_checkpoint(src):
        raise CheckpointError(f"{src.name} is not a checkpoint folder (config.json + "
                              "model.safetensors)")
    present = [f for f in PORTABLE_FILES if (src / f).exists() or (src / f).is_symlink()]
    for f in present:
        if (src / f).is_symlink() or not (src / f).is_file():
            raise CheckpointError(f"{f} in {src.name} is not a plain file; it is not published")
    total = sum((src / f).stat().st_size for f in present)
    if total > max_bytes:
        raise CheckpointError(f"{src.name} is {total / 1e6:.1f} MB; the shared models folder "
                              f"takes models up to {max_bytes / 1e6:.0f} MB")
    files = {f: (src / f).read_bytes() for f in present}
    if sum(map(len, files.values())) > max_bytes:  # it grew while being read
        raise CheckpointError(f"{src.name} changed while being read; try again")
    return files


def _digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for f in PORTABLE_FILES:
        if f in files:
            h.update(f"{f}\0{len(files[f])}\0".encode())
            h.update(files[f])
    return h.hexdigest()


def content_hash(path: str | Path, max_bytes: int = MAX_PUBLISH_BYTES) -> str:
    """SHA-256 (hex) over a checkpoint folder's portable files, names and sizes included."""
    return _digest(_read_files(Path(path), max_bytes))


def published_name(base: str, digest: str) -> str:
    """`<base>-<first 8 hex of digest>`; a base that already ends in those 8 hex (a published
    model downloaded and uploaded again) keeps its name instead of growing a second tag."""
    tag = digest[:HASH_CHARS]
    base = re.sub(rf"-{tag}$", "", base)
    clean = _clean_name(base[:_BASE_CHARS]) or "model"
    return f"{clean[:_BASE_CHARS].rstrip('-._') or 'model'}-{tag}"


def _same(dest: Path, digest: str, max_bytes: int) -> bool:
    """Whether `dest` is a checkpoint folder holding exactly the files of `digest`."""
    try:
        return is_checkpoint(dest) and content_hash(dest, max_bytes) == digest
    except (CheckpointError, OSError):
        return False


def _taken(dest: Path) -> CheckpointError:
    return CheckpointError(f"a different model is already called {dest.name!r} in the shared "
                           "models folder; it is left as it is")


def _sweep(root: Path) -> None:
    """Remove staging folders that a process killed mid-publish left behind."""
    for p in root.glob(f"{STAGING_PREFIX}*"):
        try:
            if time.time() - p.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def publish_checkpoint(src: str | Path, root: str | Path | None = None,
                       name: str | None = None,
                       max_bytes: int = MAX_PUBLISH_BYTES) -> Path:
    """Publish checkpoint folder `src` into `root` (default: the shared models folder,
    `resources.user_models_dir()`) as `<name or src's name>-<8 hex of its content hash>`.

    Returns the published folder: new, or the identical one already there. Raises
    CheckpointError with one line when `src` is not a plain checkpoint folder, weighs more than
    `max_bytes`, does not load, the folder cannot be written, or a different model holds the
    computed name. Nothing is left behind on failure, and nothing existing is overwritten."""
    src = Path(src)
    files = _read_files(src, max_bytes)
    digest = _digest(files)
    root = Path(root) if root is not None else user_models_dir()
    dest = root / published_name(name or src.name, digest)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CheckpointError(f"cannot create the shared models folder {root}: "
                              f"{e.strerror or e}") from e
    if dest.exists() or dest.is_symlink():
        if _same(dest, digest, max_bytes):
            return dest
        raise _taken(dest)
    _sweep(root)
    try:
        box = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))
    except OSError as e:
        raise CheckpointError(f"cannot write to the shared models folder {root}: "
                              f"{e.strerror or e}") from e
    try:
        stage = box / dest.name  # no config.json directly in the box: no picker lists it
        stage.mkdir()
        for f, blob in files.items():
            _atomic_write(stage / f, blob)
        load_checkpoint(stage)  # what is renamed into place is what was validated
        try:
            os.rename(stage, dest)
        except OSError as e:  # another process published meanwhile (or took the name)
            if _same(dest, digest, max_bytes):
                return dest
            if dest.exists():
                raise _taken(dest) from e
            raise CheckpointError(f"cannot write to the shared models folder {root}: "
                                  f"{e.strerror or e}") from e
        return dest
    except OSError as e:
        raise CheckpointError(f"cannot write to the shared models folder {root}: "
                              f"{e.strerror or e}") from e
    finally:
        shutil.rmtree(box, ignore_errors=True)
