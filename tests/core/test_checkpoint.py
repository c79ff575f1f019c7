"""Checkpoints: exact round trip, resume, and refusal of every broken or hostile input.

Every refusal must be a CheckpointError (one clear line for the CLI and the app), never a
crash in safetensors/json/zipfile, never an allocation sized by an attacker, never an
unpickle.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import stat
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vae_core import (
    CheckpointError,
    ConfigError,
    ModelConfig,
    ReplayRecorder,
    TrainConfig,
    Trainer,
    build_model,
    extract_zip,
    load_checkpoint,
    safe_name,
    save_checkpoint,
)
from vae_core import checkpoint as ckmod
from vae_core.classifier import build_classifier, save_classifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MCFG = ModelConfig(hidden=[32, 16], latent_dim=3)
TCFG = TrainConfig(epochs=1, batch_size=100, device="cpu", seed=3)


# --- helpers -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_ck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid checkpoint folder of an (untrained, seeded) small model."""
    torch.manual_seed(0)
    model = build_model(MCFG)
    opt = torch.optim.Adam(model.parameters())
    model(torch.rand(4, 1, 28, 28)).loss.backward()
    opt.step()
    path = tmp_path_factory.mktemp("ck") / "good"
    save_checkpoint(path, model, TCFG, {"epochs": 1, "test_neg_elbo": 500.0, "history": []},
                    opt)
    return path


@pytest.fixture
def ck(good_ck: Path, tmp_path: Path) -> Path:
    """A fresh copy of the good checkpoint to break."""
    dst = tmp_path / "ck"
    shutil.copytree(good_ck, dst)
    return dst


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


def write_weights(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path / "model.safetensors"))


def edit_config(path: Path, **model_patch) -> None:
    cfg = json.loads((path / "config.json").read_text())
    cfg["model"].update(model_patch)
    (path / "config.json").write_text(json.dumps(cfg))


def refused(path, *needles: str) -> CheckpointError:
    with pytest.raises(CheckpointError) as ei:
        load_checkpoint(path)
    msg = str(ei.value)
    assert "\n" not in msg and len(msg) < 400, msg
    for n in needles:
        assert n.lower() in msg.lower(), f"{n!r} not in {msg!r}"
    return ei.value


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


def folder_entries(path: Path, prefix: str = "") -> dict[str, bytes]:
    return {prefix + f.name: f.read_bytes() for f in sorted(path.iterdir()) if f.is_file()}


class _Evil:
    """Unpickling this creates (truncates) the marker file: arbitrary code execution."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def evil_pickle(marker: Path) -> bytes:
    return pickle.dumps({"state_dict": _Evil(marker)})


# --- round trip ----------------------------------------------------------------------------
def test_round_trip_is_exact(good_ck: Path) -> None:
    ck = load_checkpoint(good_ck)
    saved = weights(good_ck)
    sd = ck.model.state_dict()
    assert sd.keys() == saved.keys()
    assert all(torch.equal(sd[k], saved[k]) for k in sd)
    assert ck.model_config == MCFG and ck.train_config == TCFG
    assert ck.metrics["epochs"] == 1 and ck.metrics["test_neg_elbo"] == 500.0
    assert ck.info["format"] == ckmod.FORMAT and "versions" in ck.info
    assert not ck.model.training
    assert not any(p.requires_grad for p in ck.model.parameters())
    with safe_open(str(good_ck / "model.safetensors"), "pt") as f:
        assert f.metadata()["epochs"] == "1"
    assert not list(good_ck.glob(".*.tmp"))  # atomic writes leave no temp files behind


def test_round_trip_of_trained_model(tmp_path: Path, mnist_train, subset) -> None:
    tr = Trainer(ModelConfig(arch="conv", channels=[4, 8], latent_dim=2, dropout=0.1),
                 TCFG, subset(mnist_train, 200), out_dir=tmp_path / "c")
    tr.run()
    ck = load_checkpoint(tmp_path / "c")
    a, b = tr.model.state_dict(), ck.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    x = subset(mnist_train, 16).floats()
    tr.model.eval()
    with torch.no_grad():
        assert torch.equal(tr.model.reconstruct(x), ck.model.reconstruct(x))
    assert ck.model_config == tr.model_cfg and ck.train_config == tr.train_cfg


# --- resume --------------------------------------------------------------------------------
def test_resume_continues_the_loss_curve(tmp_path: Path, mnist_train, mnist_test, subset) -> None:
    """1 epoch, then resume to 2 == an uninterrupted 2-epoch run, bit for bit on CPU
    (per-epoch seeding + saved Adam state make resume exact)."""
    mcfg = ModelConfig(hidden=[64], latent_dim=4, dropout=0.1)
    data, test = subset(mnist_train, 600), subset(mnist_test, 200)
    # A constant rate: a schedule over the whole run changes with its epochs (2 here, 1 before).
    t1 = TrainConfig(epochs=1, batch_size=64, device="cpu", seed=5, binarize="dynamic",
                     lr_schedule="constant")
    t2 = TrainConfig.from_dict({**t1.to_dict(), "epochs": 2})
    d = tmp_path / "resumed"
    Trainer(mcfg, t1, data, test, out_dir=d).run()
    first = json.loads((d / "metrics.json").read_text())
    resumed = Trainer(mcfg, t2, data, test, out_dir=d, resume=d)
    assert resumed.start_epoch == 1
    m = resumed.run()
    assert m["epochs"] == 2 and [h["epoch"] for h in m["history"]] == [1, 2]
    assert m["history"][0] == first["history"][0]
    assert m["train_seconds"] >= first["train_seconds"]
    assert json.loads((d / "metrics.json").read_text())["epochs"] == 2
    with safe_open(str(d / "model.safetensors"), "pt") as f:
        assert f.metadata()["epochs"] == "2"

    straight = Trainer(mcfg, t2, data, test, out_dir=tmp_path / "straight")
    ms = straight.run()
    a, b = resumed.model.state_dict(), straight.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), "resume is not exact"
    assert [h["train_loss"] for h in m["history"]] == [h["train_loss"] for h in ms["history"]]


def test_resume_refuses_other_model_config(good_ck: Path, mnist_train, subset) -> None:
    other = ModelConfig(hidden=[32, 16], latent_dim=4)
    with pytest.raises(ConfigError, match="different model config"):
        Trainer(other, TCFG, subset(mnist_train, 10), resume=good_ck)


# --- broken folders ------------------------------------------------------------------------
def test_missing_folder(tmp_path: Path) -> None:
    refused(tmp_path / "nope", "not found")


def test_file_instead_of_folder(tmp_path: Path) -> None:
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"x")
    refused(f, "folder")


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_missing_file(ck: Path, name: str) -> None:
    (ck / name).unlink()
    refused(ck, name, "missing")


def test_missing_metrics_is_allowed(ck: Path) -> None:
    (ck / "metrics.json").unlink()
    assert load_checkpoint(ck).metrics == {}


@pytest.mark.parametrize(("text", "needle"), [
    ("{not json", "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2, 3]", "'model'"),
    ('{"model": 3}', "'model'"),
    ('{"model": {"latent_dim": 10000}}', "latent_dim"),
    ('{"model": {"hidden": [64], "wings": 1}}', "unknown field"),
    ('{"model": {}, "train": {"lr": "fast"}}', "lr"),
    ('{"model": {}, "train": [1]}', "JSON object"),
    ('{"model": {"leaky_slope": 1' + "0" * 400 + "}}", "leaky_slope"),
    ("[" * 100_000 + "]" * 100_000, "JSON"),
])
def test_bad_config_json(ck: Path, text: str, needle: str) -> None:
    (ck / "config.json").write_text(text)
    refused(ck, "config.json", needle)


@pytest.mark.parametrize("model", [
    {"hidden": [64], "evil\nfield": 1},
    {f"field{i}": i for i in range(10_000)},
    {"arch": "x" * 100_000},
    {"hidden": list(range(100_000))},
], ids=["newline-in-name", "10k-unknown-fields", "huge-string", "huge-list"])
def test_config_error_message_stays_one_short_line(ck: Path, model: dict) -> None:
    (ck / "config.json").write_text(json.dumps({"model": model}))
    err = refused(ck, "config.json is invalid")
    assert len(str(err)) < 300


def test_config_not_utf8(ck: Path) -> None:
    (ck / "config.json").write_bytes(b"\xff\xfe{\x00")
    refused(ck, "config.json")


def test_config_too_large(ck: Path) -> None:
    (ck / "config.json").write_text(" " * (ckmod.MAX_JSON_BYTES + 1) + "{}")
    refused(ck, "too large")


@pytest.mark.parametrize("text", ["[1]", "{bad", "[" * 100_000 + "]" * 100_000])
def test_bad_metrics_json(ck: Path, text: str) -> None:
    (ck / "metrics.json").write_text(text)
    refused(ck, "metrics.json")


@pytest.mark.parametrize("model_patch", [
    {"hidden": [4096] * 8, "latent_dim": 128},
    {"arch": "conv", "channels": [512] * 8, "strides": [1] * 8, "conv_dense": 4096},
], ids=["mlp-240M", "conv-1.6G"])
def test_oversized_config_refused_before_allocation(ck: Path, model_patch: dict,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def no_build(cfg):
        pytest.fail("build_model was called: the weights would have been allocated")

    monkeypatch.setattr(ckmod, "build_model", no_build)
    edit_config(ck, **model_patch)
    t0 = time.perf_counter()
    refused(ck, "parameters", "limit")
    assert time.perf_counter() - t0 < 10  # counted on the meta device


def test_random_bytes_as_weights(ck: Path) -> None:
    (ck / "model.safetensors").write_bytes(bytes(range(256)) * 8)
    refused(ck, "model.safetensors")


def test_empty_weights(ck: Path) -> None:
    (ck / "model.safetensors").write_bytes(b"")
    refused(ck, "model.safetensors")


@pytest.mark.parametrize("keep", [0.5, 0.99, 8 / 10_000])
def test_truncated_weights(ck: Path, keep: float) -> None:
    f = ck / "model.safetensors"
    data = f.read_bytes()
    f.write_bytes(data[:max(9, int(len(data) * keep))])
    refused(ck, "model.safetensors")


def test_header_claims_huge_length(ck: Path) -> None:
    f = ck / "model.safetensors"
    f.write_bytes(struct.pack("<Q", 2 ** 62) + b'{"a":1}')
    refused(ck, "model.safetensors")


def test_weights_larger_than_config_allows(ck: Path) -> None:
    f = ck / "model.safetensors"
    with open(f, "ab") as fh:
        fh.write(b"\0" * 2_000_000)
    refused(ck, "larger than")


def test_wrong_shapes(ck: Path) -> None:
    other = build_model(ModelConfig(hidden=[32, 17], latent_dim=3)).state_dict()
    write_weights(ck, other)
    refused(ck, "needs F32")


def test_extra_tensor(ck: Path) -> None:
    w = weights(ck)
    w["backdoor.weight"] = torch.zeros(3)
    write_weights(ck, w)
    refused(ck, "unexpected", "backdoor.weight")


def test_hostile_tensor_name(ck: Path) -> None:
    w = weights(ck)
    w["x" * 20_000 + "\nsecond line"] = torch.zeros(1)
    write_weights(ck, w)
    err = refused(ck, "unexpected")
    assert len(str(err)) < 300


def test_missing_tensor(ck: Path) -> None:
    w = weights(ck)
    del w["mu.bias"]
    write_weights(ck, w)
    refused(ck, "missing", "mu.bias")


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64, torch.bfloat16, torch.int32])
def test_wrong_dtype(ck: Path, dtype: torch.dtype) -> None:
    write_weights(ck, {k: v.to(dtype) for k, v in weights(ck).items()})
    refused(ck, "needs F32")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights(ck: Path, value: float) -> None:
    w = weights(ck)
    w["logvar.weight"][0, 0] = value
    write_weights(ck, w)
    refused(ck, "logvar.weight", "NaN or Inf")


# --- pickles are never loaded --------------------------------------------------------------
def test_evil_pickle_is_really_evil(tmp_path: Path) -> None:
    """Sanity check of the payload used below: unpickling it does create the marker."""
    marker = tmp_path / "pwned-sanity"
    pickle.loads(evil_pickle(marker))
    assert marker.exists()


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pkl", ".ckpt", ".bin"])
def test_pickle_checkpoint_file_refused(tmp_path: Path, suffix: str) -> None:
    marker = tmp_path / "pwned"
    f = tmp_path / f"model{suffix}"
    f.write_bytes(evil_pickle(marker))
    refused(f, "pickle")
    refused(str(f), "pickle")
    assert not marker.exists()


def test_pickle_checkpoint_refused_even_if_missing(tmp_path: Path) -> None:
    refused(tmp_path / "missing.pth", "pickle")


def test_pickle_inside_folder_without_safetensors(ck: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (ck / "model.safetensors").unlink()
    (ck / "model.pt").write_bytes(evil_pickle(marker))
    refused(ck, "model.safetensors")
    assert not marker.exists()


def test_pickle_bytes_named_safetensors(ck: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (ck / "model.safetensors").write_bytes(evil_pickle(marker))
    refused(ck, "model.safetensors")
    assert not marker.exists()


def test_torch_save_file_named_safetensors(ck: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save({"w": _Evil(marker)}, buf)
    (ck / "model.safetensors").write_bytes(buf.getvalue())
    refused(ck, "model.safetensors")
    assert not marker.exists()


def test_stray_pickle_beside_valid_checkpoint_is_ignored(ck: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (ck / "extra.pkl").write_bytes(evil_pickle(marker))
    load_checkpoint(ck)
    assert not marker.exists()


# --- zip uploads ---------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["", "my-model/"])
def test_good_zip_round_trips(good_ck: Path, tmp_path: Path, prefix: str) -> None:
    data = zip_bytes(folder_entries(good_ck, prefix) | ({"my-model/": b""} if prefix else {}))
    dest = extract_zip(data, tmp_path / "up")
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in good_ck.iterdir())
    a, b = load_checkpoint(dest), load_checkpoint(good_ck)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa) and a.model_config == b.model_config


def test_zip_ignores_macos_metadata(good_ck: Path, tmp_path: Path) -> None:
    entries = folder_entries(good_ck) | {"__MACOSX/._config.json": b"junk", ".DS_Store": b"x"}
    dest = extract_zip(zip_bytes(entries), tmp_path / "up")
    assert not (dest / ".DS_Store").exists() and not (dest / "__MACOSX").exists()
    load_checkpoint(dest)


@pytest.mark.parametrize("bad", ["../config.json", "/abs/config.json", "a/../../config.json",
                                 "a/b/config.json", "..\\config.json"])
def test_zip_path_traversal(good_ck: Path, tmp_path: Path, bad: str) -> None:
    entries = folder_entries(good_ck) | {bad: b"{}"}
    dest = tmp_path / "sub" / "up"
    with pytest.raises(CheckpointError, match="outside"):
        extract_zip(zip_bytes(entries), dest)
    assert not dest.exists()  # refused before anything was written
    assert not (tmp_path / "sub" / "config.json").exists()


@pytest.mark.parametrize("name", ["notes.txt", "model.onnx", "run.sh", "config.yaml"])
def test_zip_unexpected_file(good_ck: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(CheckpointError, match="unexpected"):
        extract_zip(zip_bytes(folder_entries(good_ck) | {name: b"x"}), tmp_path / "up")
    assert not (tmp_path / "up").exists()


@pytest.mark.parametrize("name", ["model.pt", "ck/weights.pth", "x.pkl", "m.ckpt"])
def test_zip_with_pickle(good_ck: Path, tmp_path: Path, name: str) -> None:
    marker = tmp_path / "pwned"
    entries = folder_entries(good_ck) | {name: evil_pickle(marker)}
    if "/" in name:
        entries = folder_entries(good_ck, "ck/") | {name: evil_pickle(marker)}
    with pytest.raises(CheckpointError, match="pickle"):
        extract_zip(zip_bytes(entries), tmp_path / "up")
    assert not marker.exists() and not (tmp_path / "up").exists()


def test_zip_with_only_a_pickle(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(CheckpointError, match="pickle"):
        extract_zip(zip_bytes({"model.pt": evil_pickle(marker)}), tmp_path / "up")
    assert not marker.exists()


@pytest.mark.parametrize("drop", ["config.json", "model.safetensors"])
def test_zip_missing_required_file(good_ck: Path, tmp_path: Path, drop: str) -> None:
    entries = folder_entries(good_ck)
    del entries[drop]
    with pytest.raises(CheckpointError, match=f"no {drop}"):
        extract_zip(zip_bytes(entries), tmp_path / "up")


def test_zip_duplicate_entry(good_ck: Path, tmp_path: Path) -> None:
    entries = folder_entries(good_ck) | {"x/config.json": b"{}"}
    with pytest.raises(CheckpointError, match="twice"):
        extract_zip(zip_bytes(entries), tmp_path / "up")


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04garbage", b"not a zip at all" * 10])
def test_not_a_zip(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(CheckpointError, match="zip"):
        extract_zip(data, tmp_path / "up")


def test_zip_upload_too_large(good_ck: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    data = zip_bytes(folder_entries(good_ck))
    monkeypatch.setattr(ckmod, "MAX_ZIP_BYTES", len(data) - 1)
    with pytest.raises(CheckpointError, match="too large"):
        extract_zip(data, tmp_path / "up")
    assert not (tmp_path / "up").exists()


def test_zip_bomb_refused_before_unpacking(good_ck: Path, tmp_path: Path) -> None:
    """~260 MB of zeros compressing to a few hundred KB: refused from the central directory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in folder_entries(good_ck).items():
            if name != "optimizer.safetensors":
                zf.writestr(name, data)
        bomb = zipfile.ZipInfo("optimizer.safetensors")
        bomb.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(bomb, "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(ckmod.MAX_ZIP_BYTES // len(chunk) + 8):
                f.write(chunk)
    data = buf.getvalue()
    assert len(data) < 2_000_000
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="too large"):
            extract_zip(data, tmp_path / "up")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000
    assert not (tmp_path / "up").exists()


def _corrupt_member(data: bytes, member: str) -> bytes:
    """Flip bytes inside one member's compressed data (its CRC no longer matches)."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    info = zf.getinfo(member)
    # local header: 30 bytes + name + extra, then the compressed data
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:
                                                   info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    mid = start + info.compress_size // 2
    return data[:mid] + bytes(b ^ 0x5A for b in data[mid:mid + 8]) + data[mid + 8:]


@pytest.mark.parametrize("member", ["config.json", "model.safetensors"])
def test_zip_with_corrupt_member(good_ck: Path, tmp_path: Path, member: str) -> None:
    data = _corrupt_member(zip_bytes(folder_entries(good_ck)), member)
    with pytest.raises(CheckpointError, match="corrupt"):
        extract_zip(data, tmp_path / "up")
    assert not (tmp_path / "up").exists()  # nothing half-written


def test_zip_lying_about_size(good_ck: Path, tmp_path: Path) -> None:
    """A central directory claiming a member is tiny while its data inflates to more."""
    data = bytearray(zip_bytes(folder_entries(good_ck)))
    pos = data.find(b"PK\x01\x02")  # central directory records
    while pos != -1:
        n = struct.unpack("<H", data[pos + 28:pos + 30])[0]
        if bytes(data[pos + 46:pos + 46 + n]) == b"model.safetensors":
            data[pos + 24:pos + 28] = struct.pack("<I", 100)  # uncompressed size
            break
        pos = data.find(b"PK\x01\x02", pos + 4)
    assert pos != -1
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("model.safetensors").file_size == 100
    with pytest.raises(CheckpointError):
        extract_zip(bytes(data), tmp_path / "up")
    assert not (tmp_path / "up" / "model.safetensors").exists()


# --- names ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["my-model_1", "a", "mnist.conv.v2", "A" * 64, "  padded  "])
def test_safe_name_accepts(name: str) -> None:
    assert safe_name(name) == name.strip()


@pytest.mark.parametrize("name", ["", "   ", "..", "a..b", "../x", "a/b", "a\\b", "/abs", ".hidden",
                                  "-dash", "con", "NUL", "nul.txt", "com1", "lpt9.json",
                                  "A" * 65, "tab\tname", "new\nline", "naïve", "x\0y"])
def test_safe_name_rejects(name: str) -> None:
    with pytest.raises(CheckpointError):
        safe_name(name)


# --- property tests ------------------------------------------------------------------------

FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                         st.integers(-9, 9).map(lambda i: i * 10 ** 400),  # beyond float
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
json_values = st.recursive(json_scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=5), st.dictionaries(st.text(max_size=8), kids, max_size=5)),
    max_leaves=20)
EXTREMES = st.sampled_from([10 ** 400, -10 ** 400, 1e308, float("nan"), float("inf"), True,
                            [], {}, "1", 2 ** 63, -1, 0])
field_values = st.one_of(json_scalars, EXTREMES, json_values)
MODEL_FIELDS = sorted(MCFG.to_dict())
TRAIN_FIELDS = sorted(TCFG.to_dict())


@st.composite
def configs(draw) -> object:
    """Random JSON, or a valid config.json with one or two fields replaced by random JSON."""
    kind = draw(st.sampled_from(["random", "model-field", "train-field", "section"]))
    if kind == "random":
        return draw(json_values)
    cfg = {"format": ckmod.FORMAT, "model": MCFG.to_dict(), "train": TCFG.to_dict()}
    for _ in range(draw(st.integers(1, 2))):
        if kind == "model-field":
            cfg["model"][draw(st.sampled_from(MODEL_FIELDS + ["bogus"]))] = draw(field_values)
        elif kind == "train-field":
            cfg["train"][draw(st.sampled_from(TRAIN_FIELDS + ["bogus"]))] = draw(field_values)
        else:
            cfg[draw(st.sampled_from(["model", "train"]))] = draw(json_values)
    return cfg


@st.composite
def weight_bytes(draw, good: bytes) -> bytes:
    kind = draw(st.sampled_from(["random", "mutated", "header"]))
    if kind == "random":
        return draw(st.binary(max_size=4096))
    if kind == "header":  # a plausible length prefix followed by random JSON-ish bytes
        body = json.dumps(draw(json_values)).encode()
        return struct.pack("<Q", draw(st.sampled_from([len(body), 0, 7, 2 ** 40]))) + body
    data = bytearray(good)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "truncate", "header-byte"]))
        if op == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[max(1, i):]
        else:  # damage the JSON header, where names, shapes and offsets live
            j = draw(st.integers(0, min(len(data) - 1, 8 + 400)))
            data[j] = draw(st.integers(0, 255))
    return bytes(data)


def _load_or_refuse(folder: Path) -> None:
    try:
        ck = load_checkpoint(folder)
    except CheckpointError as e:
        assert str(e) and "\n" not in str(e) and len(str(e)) < 600, str(e)[:1000]
        return
    # Only a config that is still valid with intact weights may load.
    assert all(torch.isfinite(p).all() for p in ck.model.parameters())


@settings(FUZZ, max_examples=150)
@given(cfg=configs(), data=st.data())
def test_load_checkpoint_fuzz(good_ck: Path, cfg, data) -> None:
    import tempfile

    good = (good_ck / "model.safetensors").read_bytes()
    weights_blob = data.draw(weight_bytes(good))
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "config.json").write_text(json.dumps(cfg))
        (folder / "model.safetensors").write_bytes(weights_blob)
        if data.draw(st.booleans()):
            (folder / "metrics.json").write_text(json.dumps(data.draw(json_values)))
        _load_or_refuse(folder)


@FUZZ
@given(cfg=json_values, blob=st.binary(max_size=2048))
def test_load_checkpoint_random_json_and_bytes(cfg, blob: bytes) -> None:
    """The brief's literal property: random JSON + random bytes is always refused."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "config.json").write_text(json.dumps(cfg))
        (folder / "model.safetensors").write_bytes(blob)
        with pytest.raises(CheckpointError):
            load_checkpoint(folder)


@FUZZ
@given(data=st.data())
def test_extract_zip_fuzz(good_ck: Path, data) -> None:
    """A damaged zip of a good checkpoint unpacks to something loadable or is refused."""
    import tempfile

    z = bytearray(zip_bytes(folder_entries(good_ck)))
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(z) - 1))
        if data.draw(st.booleans()):
            z[i] ^= data.draw(st.integers(1, 255))
        else:
            del z[i:i + data.draw(st.integers(1, 64))]
    with tempfile.TemporaryDirectory() as d:
        try:
            dest = extract_zip(bytes(z), Path(d) / "up")
        except CheckpointError as e:
            assert str(e)
            return
        assert {p.name for p in dest.iterdir()} <= set(ckmod.CHECKPOINT_FILES)
        _load_or_refuse(dest)


# --- a kill between two file writes ----------------------------------------------------------
def _save_epochs(path: Path, model, opt, epochs: int) -> None:
    history = [{"epoch": e, "loss": 500.0 - e} for e in range(1, epochs + 1)]
    save_checkpoint(path, model, TCFG, {"epochs": epochs, "history": history}, opt)


def test_kill_before_metrics_write_keeps_weights_and_their_metrics(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Weights of epoch 3 were written, then the process died before metrics.json (epoch 2).
    The loader must report epoch 3 with its 3-entry history, not pair new weights with the
    old metrics (a resume would then train epoch 3 twice and lose its loss)."""
    model = build_model(MCFG)
    opt = torch.optim.Adam(model.parameters())
    path = tmp_path / "ck"
    _save_epochs(path, model, opt, 2)
    real = ckmod._atomic_json

    def die_on_metrics(p: Path, obj) -> None:
        if p.name == "metrics.json":
            raise KeyboardInterrupt("killed")  # the process ends here
        real(p, obj)

    monkeypatch.setattr(ckmod, "_atomic_json", die_on_metrics)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        _save_epochs(path, model, opt, 3)
    monkeypatch.undo()
    assert json.loads((path / "metrics.json").read_text())["epochs"] == 2
    ck = load_checkpoint(path)
    assert ck.metrics["epochs"] == 3 and len(ck.metrics["history"]) == 3
    assert ck.metrics["recovered_from_weights"] is True
    assert torch.equal(next(ck.model.parameters()), next(model.parameters()))


def test_inconsistent_epochs_without_a_copy_are_refused(tmp_path: Path, good_ck: Path) -> None:
    """Weights from another epoch than metrics.json, and no metrics stored with the weights
    (a hand-made or older checkpoint): refuse clearly rather than guess."""
    path = tmp_path / "ck"
    shutil.copytree(good_ck, path)
    tensors = load_file(path / "model.safetensors")
    save_file(tensors, path / "model.safetensors", metadata={"epochs": "7"})
    with pytest.raises(CheckpointError, match="epoch 7 .* epoch 1"):
        load_checkpoint(path)
    (path / "metrics.json").unlink()  # metrics.json is optional: nothing to disagree with
    assert load_checkpoint(path).metrics == {}


# --- where a model may be written ------------------------------------------------------------
def test_check_output_dir(tmp_path: Path, good_ck: Path) -> None:
    assert ckmod.check_output_dir(tmp_path / "new") == tmp_path / "new"  # not there yet
    (tmp_path / "empty").mkdir()
    assert ckmod.check_output_dir(tmp_path / "empty") == tmp_path / "empty"
    with pytest.raises(CheckpointError, match="already holds a model; .* --force"):
        ckmod.check_output_dir(good_ck)
    assert ckmod.check_output_dir(good_ck, force=True) == good_ck
    assert ckmod.check_output_dir(good_ck, resume=good_ck / ".." / good_ck.name) == good_ck
    with pytest.raises(CheckpointError, match="already holds a model"):
        ckmod.check_output_dir(good_ck, resume=tmp_path)  # resuming another folder
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="already holds files"):
        ckmod.check_output_dir(tmp_path / "notes")
    (tmp_path / "x.png").write_bytes(b"png")
    for force in (False, True):
        with pytest.raises(CheckpointError, match="existing file"):
            ckmod.check_output_dir(tmp_path / "x.png", force=force)
    assert (tmp_path / "x.png").read_bytes() == b"png"


# --- file permissions ------------------------------------------------------------------------
@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_checkpoint_files_respect_the_umask(umask_022, tmp_path: Path, mnist_train, mnist_test,
                                            subset) -> None:
    """Every file of a fresh checkpoint (replay and optimizer included) is 0644 under umask
    022, like config.json: safetensors' own writer made model.safetensors 0600, which breaks
    a shared models folder."""
    out = tmp_path / "ck"
    Trainer(MCFG, TCFG, subset(mnist_train, 100), subset(mnist_test, 50), out_dir=out,
            callbacks=[ReplayRecorder()]).run()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert set(modes) == {"config.json", "model.safetensors", "metrics.json",
                          "optimizer.safetensors", "replay.safetensors"}
    assert modes == dict.fromkeys(modes, 0o644)
    save_classifier(build_classifier((4,), 8), {"test_accuracy": 0.0}, tmp_path / "clf")
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "clf").iterdir()} == {0o644}
