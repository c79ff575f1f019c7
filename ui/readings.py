"""The reference digit classifier's readings of the pictures the pages show (a caption on
Reconstruct and Generate, a sentence under the Sliders digit, an image's text alternative),
and the bundled upload model that Reconstruct puts beside a 2-D model's reconstruction (issue
16). Readings only make sense for MNIST models (digit_model): the classifier reads digits, not
clothes. A missing or damaged classifier gives no reading, and the page goes on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ui.derived import digit_reading
from ui.inference import decode
from ui.state import classifier, get_model
from vae_core import UPLOAD_MODEL_DIR, Checkpoint, VAEError, is_checkpoint

UNSURE = 0.5  # below this probability a reading is called unsure


def digit_model(ck: Checkpoint) -> bool:
    """Whether the reference classifier (trained on MNIST digits) can read this model's
    images: MNIST models, not Fashion-MNIST or folder datasets."""
    return ck.train_config.dataset == "mnist"


def pad_reads(ck: Checkpoint) -> bool:
    """Whether the latent pad reads `ck`'s digits itself: a digit model, and the reference
    classifier's files load (the pad gets them from the same place)."""
    if not digit_model(ck):
        return False
    try:
        classifier()
    except VAEError:
        return False
    return True


def reading(img: np.ndarray) -> tuple[int, float] | None:
    """(class, confidence) the reference classifier reads in one [28, 28] image; None when
    the classifier's files are missing or damaged (the page goes on without readings)."""
    try:
        return digit_reading(np.asarray(img, dtype=np.float32))
    except VAEError:
        return None


def sentence(image: np.ndarray, wanted: str | None = None) -> str:
    """One sentence on what the classifier reads in a decoded image [28, 28]; `wanted` is
    the class a conditional model was asked for."""
    read = reading(image)
    if read is None:
        return "No classifier reading: its files are missing or damaged."
    label, p = read
    sure = f"{p:.0%} sure" if p >= UNSURE else f"only {p:.0%} sure"
    text = f"The digit classifier reads **{label}** ({sure})"
    if wanted is None:
        return text + "."
    if str(label) == wanted:
        return text + ": the class you picked."
    return text + f", not the **{wanted}** you picked: this style is far from that class's."


def decoded_reading(ck: Checkpoint, z: list[float], y: int | None,
                    names: Sequence[str] | None = None) -> str:
    """The classifier's reading of the image model `ck` decodes at z (under class y, whose
    name is names[y])."""
    if not digit_model(ck):
        return (f"No classifier reading: the reference classifier reads digits, and this model "
                f"draws {ck.train_config.dataset} images.")
    return sentence(decode(ck, [z], y)[0], None if y is None or names is None else names[y])


def pictured(caption: str, what: str, img: np.ndarray, ck: Checkpoint,
             names: Sequence[str] | None = None) -> tuple[str, str]:
    """`labelled(caption, ...)` and `described(what, ...)` of one image, from one reading."""
    if not digit_model(ck):
        return caption, what
    if (read := reading(img)) is None:
        return f"{caption} · no classifier reading", what
    k, p = read
    name = names[k] if names else k
    return f"{caption} · reads {name} ({p:.0%})", f"{what}, read as {name}, {p:.0%}"


def labelled(caption: str, img: np.ndarray, ck: Checkpoint,
             names: Sequence[str] | None = None) -> str:
    """`caption` with the classifier's reading of `img` added when it reads `ck`'s pictures:
    'reconstruction · reads 7 (98%)'."""
    return pictured(caption, "", img, ck, names)[0]


def described(what: str, img: np.ndarray, ck: Checkpoint,
              names: Sequence[str] | None = None) -> str:
    """A text alternative for one pictured image: what it is and, when the classifier reads
    `ck`'s pictures, what it reads there: 'decoded digit, read as 7, 94%'."""
    return pictured("", what, img, ck, names)[1]


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
