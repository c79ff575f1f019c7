"""Datasets as one in-memory uint8 tensor, loaded through torchvision.

Where the data lives is a setting: `--data-dir` on the command line, else the environment
variable `VAE_DATA_DIR`, else the MNIST test set committed in this repository (`data/mnist`,
test split only). A data dir may be either

* a folder holding the standard IDX files (`train-images-idx3-ubyte.gz`, ...), gz or not,
  like `../shared/data/mnist`; they are decompressed once into a cache folder
  (`VAE_CACHE_DIR`, default `~/.cache/latent-explorer`), or
* a torchvision root, i.e. a folder with `MNIST/raw/` (or `FashionMNIST/raw/`) inside.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import DataNotFoundError

ENV_DATA_DIR = "VAE_DATA_DIR"
ENV_FASHION_DIR = "VAE_FASHION_DIR"
ENV_FOLDER_DIR = "VAE_FOLDER_DIR"
ENV_CACHE_DIR = "VAE_CACHE_DIR"
ENV_VARS = {"mnist": ENV_DATA_DIR, "fashion-mnist": ENV_FASHION_DIR, "folder": ENV_FOLDER_DIR}
REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "mnist"
REPO_FASHION_DIR = REPO_DATA_DIR.parent / "fashion-mnist"
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # dataset-fashion-mnist package

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
# torchvision's class names; the module itself is imported only when data is loaded, because
# importing torchvision costs seconds that `info`, `sample` and the app's first page don't need.
_TV = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_PREFIX = {True: "train", False: "t10k"}


@dataclass
class Split:
    """One split of a dataset in memory: images [N,1,28,28] uint8 and labels [N] int64."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def floats(self) -> torch.Tensor:
        """Images as float32 in [0, 1]."""
        return self.images.float().div_(255)


def class_names(dataset: str) -> list[str]:
    return FASHION_CLASSES if dataset == "fashion-mnist" else MNIST_CLASSES


def data_dirs(dataset: str = "mnist") -> list[Path]:
    """Folders to search, in order, when no data dir is given: the setting (environment
    variable) if set, else this repository's bundled test set and, for Fashion-MNIST, the
    Debian package's folder."""
    env = os.environ.get(ENV_VARS[dataset])
    if env:
        return [Path(env).expanduser()]
    if dataset == "fashion-mnist":
        return [FASHION_DEBIAN_DIR, REPO_FASHION_DIR]
    if dataset == "mnist":
        return [REPO_DATA_DIR]
    return []


def default_data_dir(dataset: str = "mnist") -> Path | None:
    dirs = data_dirs(dataset)
    return dirs[0] if dirs else None


def _tv_class(dataset: str) -> type:
    from torchvision import datasets

    return getattr(datasets, _TV[dataset])


def _split_class(base: type) -> type:
    """torchvision's dataset class, checking only the files of the split it is asked for
    (so a folder with just the test set still loads), and reading from `<root>/<Base>/raw`."""

    class _OneSplit(base):  # type: ignore[misc, valid-type]
        @property
        def raw_folder(self) -> str:
            return os.path.join(self.root, base.__name__, "raw")

        def _check_exists(self) -> bool:
            pre = _PREFIX[self.train]
            return all(os.path.isfile(os.path.join(self.raw_folder, f"{pre}-{kind}"))
                       for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"))

    return _OneSplit


def _idx_files(folder: Path, train: bool) -> dict[str, Path] | None:
    pre = _PREFIX[train]
    found = {}
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        name = f"{pre}-{kind}"
        for cand in (folder / name, folder / f"{name}.gz"):
            if cand.is_file():
                found[name] = cand
                break
        else:
            return None
    return found


def _has_split(folder: Path, dataset: str, train: bool) -> bool:
    return bool(_idx_files(folder, train) or _idx_files(folder / _TV[dataset] / "raw",
                                                       train))


def _cache_root(source: Path) -> Path:
    base = Path(os.environ.get(ENV_CACHE_DIR, Path.home() / ".cache" / "latent-explorer"))
    key = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:12]
    return base.expanduser() / key


def _materialize(files: dict[str, Path], raw: Path) -> None:
    """Decompress (or copy) IDX files into a torchvision raw folder, atomically per file."""
    raw.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        dst = raw / name
        if dst.is_file() and dst.stat().st_mtime >= src.stat().st_mtime:
            continue
        tmp = raw / f".{name}.{os.getpid()}.tmp"
        opener = gzip.open if src.suffix == ".gz" else open
        try:
            with opener(src, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        except (OSError, EOFError) as e:
            tmp.unlink(missing_ok=True)
            raise DataNotFoundError(f"cannot read {src}: {e}") from e
        os.replace(tmp, dst)


def resolve_root(data_dir: str | Path | None, dataset: str, train: bool) -> Path:
    """Find a torchvision root holding the requested split, preparing a cache if needed."""
    setting = ENV_VARS[dataset]
    split = "training" if train else "test"
    hint = (f"Point --data-dir (or the environment variable {setting}) at a folder holding the "
            f"four {dataset} IDX .gz files, or pass --download.")
    if data_dir:
        folder = Path(data_dir).expanduser()
    else:  # the first default folder that holds this split
        cands = data_dirs(dataset)
        folder = next((c for c in cands if c.is_dir() and _has_split(c, dataset, train)),
                      cands[0] if cands else None)
    if folder is None or not folder.is_dir():
        raise DataNotFoundError(f"{dataset} data folder not found: {folder}. {hint}")
    tv_name = _TV[dataset]
    raw = folder / tv_name / "raw"
    if raw.is_dir() and _idx_files(raw, train):
        files = _idx_files(raw, train)
        if all(p.suffix != ".gz" for p in files.values()):
            return folder
    else:
        files = _idx_files(folder, train)
    if not files:
        raise DataNotFoundError(f"{dataset} {split} files not found in {folder}. {hint}")
    root = _cache_root(folder)
    _materialize(files, root / tv_name / "raw")
    return root


def load_split(dataset: str = "mnist", train: bool = False, data_dir: str | Path | None = None,
               download: bool = False, limit: int = 0) -> Split:
    """Load one split into memory through torchvision's dataset class.

    Raises DataNotFoundError (naming the setting) when the files are missing and `download`
    is False. `limit` keeps only the first N images.
    """
    if dataset == "folder":
        from .folder import load_folder_split

        return load_folder_split(data_dir or default_data_dir("folder"), train, limit)
    if dataset not in _TV:
        raise DataNotFoundError(f"unknown dataset {dataset!r}; choose one of {sorted(_TV)}")
    if download:
        root = Path(data_dir or default_data_dir(dataset) or ".").expanduser()
        ds = _tv_class(dataset)(str(root), train=train, download=True)
    else:
        root = resolve_root(data_dir, dataset, train)
        try:
            ds = _split_class(_tv_class(dataset))(str(root), train=train, download=False)
        except (RuntimeError, AssertionError, ValueError, OSError) as e:
            raise DataNotFoundError(f"cannot read {dataset} from {root}: {e}") from e
    images, labels = ds.data, ds.targets
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise DataNotFoundError(f"{dataset} files in {root} do not hold 28x28 images")
    if limit:
        images, labels = images[:limit], labels[:limit]
    return Split(images.unsqueeze(1).contiguous(), labels.long(), class_names(dataset))


def binarize(images: torch.Tensor, seed: int) -> torch.Tensor:
    """One fixed Bernoulli draw of grey levels in [0, 1] (static binarization / binarized test)."""
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(images, generator=g)
