"""vae_core.data.read_idx: IDX files read without torchvision, byte for byte as torchvision
reads them (the import of torchvision alone cost the app's first page seconds)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vae_core import DataNotFoundError, load_split
from vae_core.data import read_idx

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def raw_test_files(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    """The test split's two IDX files, decompressed into a temporary folder."""
    out = tmp_path_factory.mktemp("idx")
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        src = mnist_dir / f"{name}.gz"
        data = gzip.decompress(src.read_bytes()) if src.is_file() else (mnist_dir / name
                                                                         ).read_bytes()
        (out / name).write_bytes(data)
    return out


def test_read_idx_equals_torchvision_bit_for_bit(raw_test_files: Path) -> None:
    from torchvision.datasets.mnist import read_image_file, read_label_file

    images = read_idx(raw_test_files / "t10k-images-idx3-ubyte", 3)
    labels = read_idx(raw_test_files / "t10k-labels-idx1-ubyte", 1)
    tv_images = read_image_file(str(raw_test_files / "t10k-images-idx3-ubyte"))
    tv_labels = read_label_file(str(raw_test_files / "t10k-labels-idx1-ubyte"))
    assert images.dtype == tv_images.dtype == torch.uint8 and images.shape == (10000, 28, 28)
    assert torch.equal(images, tv_images)
    assert torch.equal(labels.long(), tv_labels) and labels.shape == (10000,)
    split = load_split("mnist", train=False)
    assert torch.equal(split.images[:, 0], tv_images) and torch.equal(split.labels, tv_labels)


def test_read_idx_refuses_wrong_or_truncated_files(raw_test_files: Path, tmp_path: Path) -> None:
    labels = raw_test_files / "t10k-labels-idx1-ubyte"
    with pytest.raises(ValueError, match="not a uint8 IDX file with 3 dimensions"):
        read_idx(labels, 3)  # a label file where images are expected
    cut = tmp_path / "t10k-images-idx3-ubyte"
    cut.write_bytes((raw_test_files / "t10k-images-idx3-ubyte").read_bytes()[:-1])
    with pytest.raises(ValueError, match="header says 10000x28x28"):
        read_idx(cut, 3)
    # Through load_split, a damaged file is a DataNotFoundError that names the folder.
    root = tmp_path / "root"
    (root / "MNIST" / "raw").mkdir(parents=True)
    (root / "MNIST" / "raw" / cut.name).write_bytes(cut.read_bytes())
    (root / "MNIST" / "raw" / labels.name).write_bytes(labels.read_bytes())
    with pytest.raises(DataNotFoundError, match="cannot read mnist"):
        load_split("mnist", train=False, data_dir=root)


def test_loading_a_split_does_not_import_torchvision() -> None:
    code = ("import sys; from vae_core import load_split; s = load_split('mnist', train=False); "
            "assert len(s) == 10000; print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=False,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
