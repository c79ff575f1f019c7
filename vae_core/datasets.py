"""The datasets this package knows: their names, classes, settings, and the `Split` they load
into. The table both data.py (reading the files) and download.py (fetching them) work from.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ENV_DATA_DIR = "VAE_DATA_DIR"
ENV_FASHION_DIR = "VAE_FASHION_DIR"
ENV_FOLDER_DIR = "VAE_FOLDER_DIR"
ENV_VARS = {"mnist": ENV_DATA_DIR, "fashion-mnist": ENV_FASHION_DIR, "folder": ENV_FOLDER_DIR}
DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "folder": "image folder"}
# torchvision's class for each dataset it can download; also the folder name of a torchvision
# root (`MNIST/raw/`). Names only: importing torchvision costs seconds (see download.py).
TV_NAMES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


@dataclass
class Split:
    """One split of a dataset in memory: images [N,1,28,28] uint8 and labels [N] int64.
    `dataset` names where it came from ("mnist", ...; set by `load_split`, None when unknown):
    the Trainer records it instead of the config's."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    dataset: str | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def floats(self) -> torch.Tensor:
        """Images as float32 in [0, 1]."""
        return self.images.float().div_(255)


def class_names(dataset: str) -> list[str]:
    return FASHION_CLASSES if dataset == "fashion-mnist" else MNIST_CLASSES


def missing_data_help(dataset: str, cli: bool = True, download: bool | None = None) -> str:
    """One sentence on how to get `dataset`'s files: its own package, variable and files.
    `cli` names the command line's `--data-dir` too, and `download` (default: `cli`) offers
    `--download`."""
    download = cli if download is None else download
    var = ENV_VARS[dataset]
    # "point ... at" / "set ... to": the app has no flags, only the environment
    point = f"point --data-dir (or the environment variable {var}) at" if cli else \
        f"set the environment variable {var} to"
    if dataset == "folder":
        return (f"{point[0].upper()}{point[1:]} a folder of images with one sub-folder per "
                "class (or train/ and test/ sub-folders holding those).")
    get = {"mnist": "Restore the bundled copy with `git checkout -- data/mnist`",
           "fashion-mnist": "Install Debian's package with "
                            "`apt-get install dataset-fashion-mnist`"}[dataset]
    return (f"{get}, or {point} a folder holding the four {DATASET_NAMES[dataset]} IDX .gz "
            f"files{', or pass --download' if download else ''}.")
