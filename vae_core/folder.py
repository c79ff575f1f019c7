"""A folder of images as a dataset, preprocessed like MNIST uploads (28x28, white on black).

    folder/                      folder/
      cat/ 001.png ...     or      train/ <class>/ *.png
      dog/ ...                     test/  <class>/ *.png

Class sub-folders become labels (sorted by name); images directly in the folder get one
class named after the folder. Without train/ and test/ sub-folders, every 10th image (in
sorted path order) is held out as the test split, so the split is stable across runs.
Unreadable files are skipped and counted; a folder with no usable image is an error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .datasets import Split, missing_data_help
from .errors import DataNotFoundError, ImageError
from .preprocess import preprocess_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
TEST_EVERY = 10
MAX_FILES = 200_000


def _list(base: Path) -> tuple[list[tuple[Path, int]], list[str]]:
    subdirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subdirs:
        items = [(f, i) for i, d in enumerate(subdirs) for f in sorted(d.rglob("*"))
                 if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]
        return items, [d.name for d in subdirs]
    items = [(f, 0) for f in sorted(base.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    return items, [base.name]


def load_folder_split(root: str | Path | None, train: bool, limit: int = 0) -> Split:
    """Load the train or test split of an image folder as a `Split`."""
    if root is None:
        raise DataNotFoundError(f"no image folder given. {missing_data_help('folder')}")
    if not Path(root).expanduser().is_dir():
        raise DataNotFoundError(f"image folder not found: {root} is not a folder. "
                                f"{missing_data_help('folder')}")
    root = Path(root).expanduser()
    presplit = (root / "train").is_dir() and (root / "test").is_dir()
    base = root / ("train" if train else "test") if presplit else root
    items, classes = _list(base)
    if not presplit:
        items = [it for k, it in enumerate(items) if (k % TEST_EVERY == TEST_EVERY - 1) != train]
    if len(items) > MAX_FILES:
        raise DataNotFoundError(f"{base} holds more than {MAX_FILES:,} images")
    if limit:
        items = items[:limit]
    images, labels, skipped = [], [], 0
    for path, label in items:
        try:
            images.append(preprocess_image(path))
            labels.append(label)
        except ImageError:
            skipped += 1
    if not images:
        raise DataNotFoundError(f"no usable images in {base} ({skipped} unreadable)")
    arr = (np.stack(images) * 255).round().astype(np.uint8)
    split = Split(torch.from_numpy(arr).unsqueeze(1), torch.tensor(labels, dtype=torch.long),
                  classes, "folder")
    split.skipped = skipped  # type: ignore[attr-defined]
    return split
