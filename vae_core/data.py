"""Datasets as one in-memory uint8 tensor, read from IDX files (torchvision downloads).

Where the data lives is a setting: `--data-dir` on the command line, else the dataset's
environment variable (`VAE_DATA_DIR`, `VAE_FASHION_DIR`, `VAE_FOLDER_DIR`), else a default:
MNIST is committed in this repository (`data/mnist`, training and test set, md5-checked on
load), Fashion-MNIST comes from Debian's `dataset-fashion-mnist` package (the repository
bundles only its test set), and both may have been downloaded by `download_dataset`. A data dir
may be either

* a folder holding the standard IDX files (`train-images-idx3-ubyte.gz`, ...), gz or not,
  like `data/mnist`; they are decompressed once into a cache folder (`VAE_CACHE_DIR`,
  default `~/.cache/latent-explorer`), or
* a torchvision root, i.e. a folder with `MNIST/raw/` (or `FashionMNIST/raw/`) inside.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
from pathlib import Path

import torch

from .datasets import DATASET_NAMES, ENV_VARS, TV_NAMES, Split, class_names, missing_data_help
from .download import download_dataset
from .errors import DataNotFoundError
from .folder import load_folder_split
from .resources import data_root

ENV_CACHE_DIR = "VAE_CACHE_DIR"
REPO_DATA_DIR = data_root() / "mnist"  # the repository's data/, or the installed copy
REPO_FASHION_DIR = REPO_DATA_DIR.parent / "fashion-mnist"
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # dataset-fashion-mnist package
# The published md5s of the bundled files (also torchvision's `datasets.MNIST.resources`): a
# clone that lost or mangled a file (a partial checkout, an LFS pointer) is refused on load.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
_PREFIX = {True: "train", False: "t10k"}


def data_dirs(dataset: str = "mnist") -> list[Path]:
    """Folders to search, in order, when no data dir is given: the setting (environment
    variable) if set; else for MNIST this repository's bundled copy, for Fashion-MNIST the
    Debian package's folder and the bundled test set, and then `download_root()`."""
    env = os.environ.get(ENV_VARS[dataset])
    if env:
        return [Path(env).expanduser()]
    if dataset == "fashion-mnist":
        return [FASHION_DEBIAN_DIR, REPO_FASHION_DIR, download_root()]
    if dataset == "mnist":
        return [REPO_DATA_DIR, download_root()]
    return []


def default_data_dir(dataset: str = "mnist") -> Path | None:
    dirs = data_dirs(dataset)
    return dirs[0] if dirs else None


def read_idx(path: str | Path, ndim: int) -> torch.Tensor:
    """A uint8 IDX file (LeCun's format: magic 0x0000080N for N dimensions, N big-endian
    int32 sizes, then the bytes) as a uint8 tensor of that shape.

    Byte for byte what torchvision's MNIST reader returns, without importing torchvision:
    that import pulls in torch._dynamo (via torchvision.ops) and takes seconds, which would
    all be on the path of the app's first page.
    """
    data = bytearray(Path(path).read_bytes())
    head = 4 + 4 * ndim
    magic = int.from_bytes(data[:4], "big")
    if len(data) < head or magic != 0x800 + ndim:
        raise ValueError(f"{path} is not a uint8 IDX file with {ndim} dimensions")
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if len(data) - head != math.prod(shape):
        raise ValueError(f"{path} holds {len(data) - head} bytes of data, its header says "
                         f"{'x'.join(map(str, shape))}")
    return torch.frombuffer(data, dtype=torch.uint8, offset=head).view(shape)


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
    return bool(_idx_files(folder, train) or _idx_files(folder / TV_NAMES[dataset] / "raw",
                                                       train))


def _cache_base() -> Path:
    return Path(os.environ.get(ENV_CACHE_DIR, Path.home() / ".cache" / "latent-explorer")
                ).expanduser()


def _cache_root(source: Path) -> Path:
    key = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:12]
    return _cache_base() / key


def download_root() -> Path:
    """Where `download_dataset` puts a dataset when no folder is given (a torchvision root
    in the cache folder); the default search looks there too."""
    return _cache_base() / "downloads"


_md5_ok: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> md5, per process


def _file_md5(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _md5_ok:
        h = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _md5_ok[key] = h.hexdigest()
    return _md5_ok[key]


def check_bundled(files: dict[str, Path], download_hint: bool = True) -> None:
    """Refuse bundled MNIST files whose md5 is not the published one."""
    for src in files.values():
        want = MNIST_MD5.get(src.name)
        if want is None:  # e.g. a decompressed copy beside the .gz: not what git ships
            continue
        got = _file_md5(src)
        if got != want:
            raise DataNotFoundError(
                f"{src} is damaged (md5 {got}, expected {want}). "
                f"{missing_data_help('mnist', download=download_hint)}")


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


def resolve_root(data_dir: str | Path | None, dataset: str, train: bool,
                 download_hint: bool = True) -> Path:
    """Find a torchvision root holding the requested split, preparing a cache if needed.
    `download_hint` False: the missing-data hint does not offer --download (for commands
    that do not take it)."""
    what = f"{DATASET_NAMES[dataset]} {'training' if train else 'test'} set"
    hint = missing_data_help(dataset, download=download_hint)
    if data_dir:
        folder = Path(data_dir).expanduser()
    elif os.environ.get(ENV_VARS[dataset]):
        folder = data_dirs(dataset)[0]
    else:  # the first default folder that holds this split
        cands = data_dirs(dataset)
        folder = next((c for c in cands if c.is_dir() and _has_split(c, dataset, train)), None)
        if folder is None:
            looked = ", ".join(str(c) for c in cands)
            raise DataNotFoundError(f"{what} not found (looked in {looked}). {hint}")
    if not folder.is_dir():
        raise DataNotFoundError(f"{what} not found: {folder} is not a folder. {hint}")
    tv_name = TV_NAMES[dataset]
    raw = folder / tv_name / "raw"
    if raw.is_dir() and _idx_files(raw, train):
        files = _idx_files(raw, train)
        if all(p.suffix != ".gz" for p in files.values()):
            return folder
    else:
        files = _idx_files(folder, train)
    if not files:
        raise DataNotFoundError(f"{what} not found in {folder}. {hint}")
    if dataset == "mnist" and folder.resolve() == REPO_DATA_DIR.resolve():
        check_bundled(files, download_hint)
    root = _cache_root(folder)
    _materialize(files, root / tv_name / "raw")
    return root


def load_split(dataset: str = "mnist", train: bool = False, data_dir: str | Path | None = None,
               download: bool = False, limit: int = 0, download_hint: bool = True) -> Split:
    """Load one split into memory from its IDX files (see `read_idx`).

    Raises DataNotFoundError (saying what to do for this dataset) when the files are missing
    and `download` is False. With `download`, missing files are fetched by `download_dataset`
    into `data_dir`, or `download_root()` when none is given. `limit` keeps only the first N
    images. `download_hint` False leaves `--download` out of the missing-data hint (for
    commands that do not take it).
    """
    if dataset == "folder":
        return load_folder_split(data_dir or default_data_dir("folder"), train, limit)
    if dataset not in TV_NAMES:
        raise DataNotFoundError(f"unknown dataset {dataset!r}; choose one of {sorted(TV_NAMES)}")
    try:
        root = resolve_root(data_dir, dataset, train, download_hint or download)
    except DataNotFoundError:
        if not download:
            raise
        where = Path(data_dir).expanduser() if data_dir else download_root()
        root = resolve_root(download_dataset(dataset, where), dataset, train)
    raw = root / TV_NAMES[dataset] / "raw"
    try:
        images = read_idx(raw / f"{_PREFIX[train]}-images-idx3-ubyte", 3)
        labels = read_idx(raw / f"{_PREFIX[train]}-labels-idx1-ubyte", 1)
    except (ValueError, OSError) as e:
        raise DataNotFoundError(f"cannot read {dataset} from {root}: {e}") from e
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise DataNotFoundError(f"{dataset} files in {root} do not hold 28x28 images")
    if limit:
        images, labels = images[:limit], labels[:limit]
    return Split(images.unsqueeze(1).contiguous(), labels.long(), class_names(dataset),
                 dataset)


def binarize(images: torch.Tensor, seed: int) -> torch.Tensor:
    """One fixed Bernoulli draw of grey levels in [0, 1] (static binarization / binarized test)."""
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(images, generator=g)
