"""vae_core.data: the bundled MNIST (md5s, default for both splits), what a missing dataset
says (per dataset), and `download_dataset` failing fast, never hanging, without a network."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vae_core import DataNotFoundError, download_dataset, load_split
from vae_core import data as vdata
from vae_core import download as vdownload
from vae_core.__main__ import main

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "mnist"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_bundled_files_have_the_published_md5s() -> None:
    from torchvision.datasets import MNIST

    assert vdata.MNIST_MD5 == dict(MNIST.resources)  # our list is torchvision's
    for name, want in vdata.MNIST_MD5.items():
        assert md5(BUNDLED / name) == want, name
    readme = (BUNDLED / "README.md").read_text()
    for name, want in vdata.MNIST_MD5.items():
        assert name in readme and want in readme
    assert "CC BY-SA 3.0" in readme and "LeCun" in readme and "Cortes" in readme


def test_bundled_mnist_is_the_default_for_both_splits(monkeypatch) -> None:
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    assert vdata.data_dirs("mnist")[0] == BUNDLED
    train, test = load_split("mnist", train=True), load_split("mnist", train=False)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.images.shape[1:] == (1, 28, 28)
    # Every class is there in MNIST's proportions (5,421 fives ... 6,742 ones).
    counts = train.labels.bincount(minlength=10)
    assert counts.min() == 5421 and counts.max() == 6742 and counts.sum() == 60_000


def test_setting_overrides_the_bundled_copy(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError, match="MNIST training set not found in"):
        load_split("mnist", train=True)


def _copy_test_split(dst: Path) -> Path:
    dst.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(BUNDLED / name, dst / name)
    return dst


def test_damaged_bundled_file_is_refused(monkeypatch, tmp_path: Path) -> None:
    """A valid gzip of other bytes (here one label changed) under a bundled name is refused,
    with what to do; the same bytes elsewhere (a user's folder) are not checked."""
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    fake = _copy_test_split(tmp_path / "mnist")
    labels = bytearray(gzip.decompress((fake / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    labels[8] = (labels[8] + 1) % 10
    (fake / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(labels)))
    monkeypatch.setattr(vdata, "REPO_DATA_DIR", fake)
    with pytest.raises(DataNotFoundError, match="damaged") as ei:
        load_split("mnist", train=False)
    msg = str(ei.value)
    assert "\n" not in msg and "git checkout -- data/mnist" in msg
    assert vdata.MNIST_MD5["t10k-labels-idx1-ubyte.gz"] in msg
    monkeypatch.setattr(vdata, "REPO_DATA_DIR", BUNDLED)  # now `fake` is just a user's folder
    assert len(load_split("mnist", train=False, data_dir=fake, limit=10)) == 10


def test_missing_fashion_says_its_own_package_and_setting(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VAE_FASHION_DIR", raising=False)
    monkeypatch.setattr(vdata, "FASHION_DEBIAN_DIR", tmp_path / "not-installed")
    with pytest.raises(DataNotFoundError) as ei:
        load_split("fashion-mnist", train=True)
    msg = str(ei.value)
    assert "\n" not in msg
    assert msg.startswith("Fashion-MNIST training set not found")
    assert "apt-get install dataset-fashion-mnist" in msg and "VAE_FASHION_DIR" in msg
    assert "VAE_DATA_DIR" not in msg and "data/mnist" not in msg
    assert "the four Fashion-MNIST IDX .gz files" in msg
    assert len(load_split("fashion-mnist", train=False, limit=5)) == 5  # bundled test set


def test_missing_folder_dataset_says_its_own_setting(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VAE_FOLDER_DIR", raising=False)
    for where in (None, tmp_path / "absent"):
        with pytest.raises(DataNotFoundError) as ei:
            load_split("folder", train=True, data_dir=where)
        msg = str(ei.value)
        assert "\n" not in msg and "VAE_FOLDER_DIR" in msg and "--data-dir" in msg
        assert "MNIST" not in msg and "apt-get" not in msg


def test_help_for_the_app_names_no_flags() -> None:
    for ds in ("mnist", "fashion-mnist", "folder"):
        text = vdata.missing_data_help(ds, cli=False)
        assert "--data-dir" not in text and "--download" not in text
        want = f"set the environment variable {vdata.ENV_VARS[ds]} to a folder"
        assert want in text or want[0].upper() + want[1:] in text, text


# --- download_dataset never hangs -----------------------------------------------------------
def _network_reachable() -> bool:
    from torchvision.datasets import MNIST

    return any(vdownload._unreachable(m, 3) is None for m in MNIST.mirrors)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A local HTTP "mirror" that accepts connections and never answers a byte."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}/mnist/"
    finally:
        stop.set()
        t.join(2)
        for c in held:
            c.close()
        srv.close()


def _download_fails_fast(dataset: str, root: Path, timeout_s: float) -> str:
    t0 = time.monotonic()
    with pytest.raises(DataNotFoundError) as ei:
        download_dataset(dataset, root, timeout_s=timeout_s)
    assert time.monotonic() - t0 < 30
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith("cannot download")
    return msg


def test_download_offline_fails_fast_with_one_line(tmp_path: Path) -> None:
    """This machine has no route to torchvision's mirrors; with a network, nothing to test."""
    if _network_reachable():
        pytest.skip("torchvision's mirrors are reachable from here")
    for ds, name, var in (("mnist", "MNIST", "VAE_DATA_DIR"),
                          ("fashion-mnist", "Fashion-MNIST", "VAE_FASHION_DIR")):
        msg = _download_fails_fast(ds, tmp_path / ds, timeout_s=3)
        assert msg.startswith(f"cannot download {name}: no network") and var in msg
        assert "--download" not in msg  # it was the download that failed


def test_download_refused_connection_fails_fast(monkeypatch, tmp_path: Path) -> None:
    from torchvision.datasets import MNIST

    port = socket.socket()
    port.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{port.getsockname()[1]}/"])
        msg = _download_fails_fast("mnist", tmp_path, timeout_s=2)
    finally:
        port.close()
    assert "no network" in msg and "refused" in msg.lower()


def test_download_from_a_silent_mirror_times_out(monkeypatch, tmp_path: Path,
                                                 silent_server: str) -> None:
    """The host answers the connection but never sends a byte: each read waits timeout_s,
    then the download gives up with one line (and the socket default is restored)."""
    from torchvision.datasets import MNIST

    monkeypatch.setattr(MNIST, "mirrors", [silent_server])
    before = socket.getdefaulttimeout()
    msg = _download_fails_fast("mnist", tmp_path, timeout_s=1)
    assert "cannot download MNIST into" in msg and "timed out" in msg
    assert socket.getdefaulttimeout() == before


def test_cli_download_offline_exits_2_fast(monkeypatch, tmp_path: Path, capsys) -> None:
    from torchvision.datasets import FashionMNIST

    monkeypatch.setattr(FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])  # discard port
    monkeypatch.delenv("VAE_FASHION_DIR", raising=False)
    monkeypatch.setattr(vdata, "FASHION_DEBIAN_DIR", tmp_path / "not-installed")
    t0 = time.monotonic()
    code = main(["train", "--dataset", "fashion-mnist", "--download", "--data-dir",
                 str(tmp_path / "dl"), "--out", str(tmp_path / "out")])
    assert code == 2 and time.monotonic() - t0 < 30
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "cannot download Fashion-MNIST" in err
    assert not (tmp_path / "out").exists()
