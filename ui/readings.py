"""The reference digit classifier's readings of the pictures Reconstruct and Generate show,
and the bundled upload model that Reconstruct puts beside a 2-D model's reconstruction
(issue 16). Readings only make sense for MNIST models (ui.class_maps.digit_model): the
classifier reads digits, not clothes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ui.class_maps import digit_model
from ui.state import get_model
from vae_core import UPLOAD_MODEL_DIR, Checkpoint, VAEError, is_checkpoint, read_digit


def reading(img: np.ndarray) -> tuple[int, float] | None:
    """(class, confidence) the reference classifier reads in one [28, 28] image; None when
    the classifier's files are missing or damaged (the page goes on without readings)."""
    try:
        return read_digit(np.asarray(img, dtype=np.float32))
    except VAEError:
        return None


def reading_text(img: np.ndarray, names: Sequence[str] | None = None) -> str:
    """'reads 7 (98%)': the classifier's reading of one image, for a caption."""
    read = reading(img)
    if read is None:
        return "no classifier reading"
    k, p = read
    return f"reads {names[k] if names else k} ({p:.0%})"


def labelled(caption: str, img: np.ndarray, ck: Checkpoint,
             names: Sequence[str] | None = None) -> str:
    """`caption` with the classifier's reading of `img` added when it reads `ck`'s pictures:
    'reconstruction · reads 7 (98%)'."""
    return f"{caption} · {reading_text(img, names)}" if digit_model(ck) else caption


def upload_model(active: Checkpoint) -> Checkpoint | None:
    """The bundled upload model (conv, 32-D) to show beside a 2-D MNIST model's
    reconstruction, or None: the active model is not 2-D, not MNIST, is that model itself,
    or the folder is missing or unreadable (the page then shows the active model alone)."""
    if active.model_config.latent_dim > 2 or not digit_model(active):
        return None
    if not is_checkpoint(UPLOAD_MODEL_DIR) or active.path.resolve() == UPLOAD_MODEL_DIR.resolve():
        return None
    try:
        return get_model(str(UPLOAD_MODEL_DIR))
    except VAEError:
        return None
