"""Training replay (vae_core.replay): what the recorder keeps, the sidecar file, its
validation, and that copy / export / import / resume keep it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from vae_core import (MAX_REPLAY_BYTES, REPLAY, CheckpointError, ModelConfig, ReplayRecorder,
                      TrainConfig, Trainer, copy_checkpoint, export_zip, follow_set,
                      import_upload, load_checkpoint, load_replay)
from cli_helpers import TINY
from cli_helpers import run as run_cli
from vae_core.replay import REPLAY_DIGITS, REPLAY_EVERY, capacity

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parents[2]
# Every bundled VAE (the classifier's folder has no config.json): each ships its replay.
BUNDLED = sorted(p for p in (ROOT / "checkpoints").iterdir() if (p / "config.json").is_file())
MCFG = ModelConfig(hidden=[32], latent_dim=3, dropout=0.1)


def tcfg(**kw) -> TrainConfig:
    return TrainConfig(**{"epochs": 2, "batch_size": 50, "device": "cpu", "seed": 3,
                          "precision": "fp32", **kw})


@pytest.fixture(scope="module")
def run(tmp_path_factory, mnist_train, mnist_test, subset) -> tuple[Path, Trainer]:
    """A 2-epoch run on 500 images (10 steps an epoch), snapshots every 4 steps."""
    out = tmp_path_factory.mktemp("replay") / "run"
    rec = ReplayRecorder(every=4, n_images=120)
    tr = Trainer(MCFG, tcfg(), subset(mnist_train, 500), subset(mnist_test, 300), out_dir=out,
                 callbacks=[rec])
    threads = torch.get_num_threads()  # one thread, as the tests that compare with it
    torch.set_num_threads(1)
    try:
        tr.run()
    finally:
        torch.set_num_threads(threads)
    return out, tr


def test_recorder_shapes_and_steps(run) -> None:
    out, tr = run
    r = load_replay(out, latent_dim=3)
    # start (step 0), steps 4, 8, end of epoch 1 (10), 12, 16, 20 (= end of epoch 2)
    assert r.step.tolist() == [0, 4, 8, 10, 12, 16, 20]
    assert r.epoch_end.tolist() == [False, False, False, True, False, False, True]
    np.testing.assert_allclose(r.epoch, r.step / 10)
    assert r.mu.shape == r.logvar.shape == (7, 120, 3) and r.kl_dims.shape == (7, 3)
    assert np.isnan(r.loss[0]) and np.isfinite(r.loss[1:]).all()
    np.testing.assert_allclose(r.loss[1:], r.recon[1:] + r.kl[1:], rtol=1e-5)
    assert r.index.tolist() == follow_set(300, 120).tolist()
    assert (r.labels == tr.test_data.labels[r.index].numpy()).all()
    # the last snapshot is the saved model's posterior of those images (float16 precision)
    ck = load_checkpoint(out)
    mu, logvar = ck.model.encode(tr.x_test[torch.from_numpy(r.index)])
    np.testing.assert_allclose(r.mu[-1], mu.numpy(), atol=2e-3, rtol=2e-3)
    np.testing.assert_allclose(r.logvar[-1], logvar.numpy(), atol=2e-3, rtol=2e-3)


def test_recorder_does_not_change_training(run, mnist_train, mnist_test, subset) -> None:
    _, with_replay = run
    plain = Trainer(MCFG, tcfg(), subset(mnist_train, 500), subset(mnist_test, 300))
    plain.run()
    a, b = with_replay.model.state_dict(), plain.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_replay_only_from_a_recorder(tmp_path: Path, mnist_train, mnist_test,
                                       subset) -> None:
    """The Trainer records a replay when its caller passes a ReplayRecorder (the CLI and the
    Train page do), like any callback; without one it writes none."""
    out = tmp_path / "ck"
    Trainer(MCFG, tcfg(epochs=1), subset(mnist_train, 200), subset(mnist_test, 50),
            out_dir=out, callbacks=[ReplayRecorder()]).run()
    r = load_replay(out)
    assert len(r.index) == 50 and r.step[-1] == 4
    Trainer(MCFG, tcfg(epochs=1), subset(mnist_train, 200), subset(mnist_test, 50),
            out_dir=tmp_path / "off").run()
    assert (tmp_path / "off" / "model.safetensors").is_file()
    assert not (tmp_path / "off" / REPLAY).exists()


def test_cli_train_records_one(tmp_path: Path, mnist_dir: Path, capsys) -> None:
    """`train` passes its Trainer a recorder with the default settings."""
    out = tmp_path / "cli"
    code, _, err = run_cli(["train", "--data-dir", mnist_dir, "--out", out, *TINY], capsys)
    assert code == 0, err
    r = load_replay(out, latent_dim=2)
    assert len(r.index) == REPLAY_DIGITS and r.every == REPLAY_EVERY
    assert r.step[0] == 0 and r.step[-1] == 2 and r.epoch_end[-1]


def test_budget_thins_and_stays_small(tmp_path: Path, mnist_train, mnist_test, subset) -> None:
    out = tmp_path / "ck"
    budget = 40_000
    rec = ReplayRecorder(every=1, n_images=200, budget=budget)
    Trainer(MCFG, tcfg(epochs=3, batch_size=20), subset(mnist_train, 400),
            subset(mnist_test, 200), out_dir=out, callbacks=[rec]).run()
    r = load_replay(out)
    assert (out / REPLAY).stat().st_size <= budget
    assert len(r) <= capacity(200, 3, budget) and r.every > 1
    assert r.step[0] == 0 and r.step[-1] == 60 and r.epoch_end[-1]


def test_thinning_keeps_the_whole_run_in_view(tmp_path: Path, mnist_train, mnist_test,
                                              subset) -> None:
    """A long run past its budget keeps snapshots spread over all its epochs. Dropping every
    second row kept only the last epochs once each epoch end added one (a 130-epoch bundled
    run kept epochs 0 and 101-130)."""
    out = tmp_path / "ck"
    rec = ReplayRecorder(every=1, n_images=20, budget=2_700)  # room for 8 snapshots
    Trainer(MCFG, tcfg(epochs=40, batch_size=20), subset(mnist_train, 60),
            subset(mnist_test, 20), out_dir=out, callbacks=[rec]).run()
    r = load_replay(out)
    assert capacity(20, 3, 2_700) == 8 and len(r) <= 8
    assert r.epoch[0] == 0 and r.epoch[-1] == 40 and r.epoch_end[-1]
    gaps = np.diff(r.epoch)
    assert gaps.max() <= 12, r.epoch  # no stretch of the run left out
    assert (r.epoch[1:] < 20).any(), r.epoch  # the first half is not thinned away


def test_resume_appends(tmp_path: Path, mnist_train, mnist_test, subset) -> None:
    data, test = subset(mnist_train, 500), subset(mnist_test, 100)
    out = tmp_path / "ck"
    Trainer(MCFG, tcfg(epochs=1), data, test, out_dir=out,
            callbacks=[ReplayRecorder(every=4)]).run()
    first = load_replay(out)
    Trainer(MCFG, tcfg(epochs=2), data, test, out_dir=out, resume=out,
            callbacks=[ReplayRecorder(every=4)]).run()
    both = load_replay(out)
    assert first.step.tolist() == [0, 4, 8, 10]
    assert both.step.tolist() == [0, 4, 8, 10, 12, 16, 20]
    np.testing.assert_array_equal(both.mu[:4], first.mu)


def test_copy_export_import_keep_it(run, tmp_path: Path) -> None:
    out, _ = run
    blob = (out / REPLAY).read_bytes()
    copied = copy_checkpoint(out, tmp_path / "copy")
    assert (copied / REPLAY).read_bytes() == blob
    data = export_zip(out, "my-run")
    assert f"my-run/{REPLAY}" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    imported = import_upload([("my-run.zip", data)], tmp_path / "uploads")
    assert (imported / REPLAY).read_bytes() == blob
    assert len(load_replay(imported)) == 7
    loose = import_upload([(n, (out / n).read_bytes()) for n in
                           ("config.json", "model.safetensors", REPLAY)], tmp_path / "loose")
    assert (loose / REPLAY).read_bytes() == blob


def _write(folder: Path, tensors: dict, meta: dict | None = None) -> None:
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / REPLAY),
              meta or {"format": "latent-explorer-replay/1"})


@pytest.mark.parametrize("case", ["garbage", "truncated", "empty", "format", "missing",
                                  "dtype", "shape", "nan", "labels", "big", "other-dim"])
def test_corrupt_or_hostile_files_are_refused(run, tmp_path: Path, case: str) -> None:
    out, _ = run
    folder = copy_checkpoint(out, tmp_path / "m")
    good = load_replay(folder)
    tensors = {k: v.clone() for k, v in good.tensors().items()}
    path = folder / REPLAY
    if case == "garbage":
        path.write_bytes(b"\x00" * 100)
    elif case == "truncated":
        path.write_bytes(path.read_bytes()[:-500])
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "format":
        _write(folder, tensors, {"format": "pickle"})
    elif case == "missing":
        tensors.pop("mu")
        _write(folder, tensors)
    elif case == "dtype":
        tensors["mu"] = tensors["mu"].double()
        _write(folder, tensors)
    elif case == "shape":
        tensors["logvar"] = tensors["logvar"][:, :5]
        _write(folder, tensors)
    elif case == "nan":
        tensors["mu"][2, 3, 0] = float("nan")
        _write(folder, tensors)
    elif case == "labels":
        tensors["labels"][0] = -4
        _write(folder, tensors)
    elif case == "big":
        path.write_bytes(b"\x00" * 8_000_001)
    with pytest.raises(CheckpointError, match=REPLAY) as e:
        load_replay(folder, latent_dim=5 if case == "other-dim" else 3)
    assert "\n" not in str(e.value)
    load_checkpoint(folder)  # the model itself still loads


@pytest.mark.parametrize("folder", BUNDLED, ids=lambda p: p.name)
def test_bundled_replays_load_and_are_small(folder: Path) -> None:
    assert (folder / REPLAY).is_file(), f"{folder.name} ships without its training replay"
    assert (folder / REPLAY).stat().st_size <= MAX_REPLAY_BYTES
    ck = load_checkpoint(folder)
    d = ck.model_config.latent_dim
    r = load_replay(folder, d)
    assert r.epoch[0] == 0 and r.epoch[-1] == ck.metrics["epochs"] and r.epoch_end[-1]
    # The recorder halves its snapshots when they outgrow the budget, so at least half of
    # what fits is kept; a 2-D model keeps one every 50 steps (over 40 for 40 epochs).
    assert len(r.index) == 500 and len(r) >= min(40, capacity(500, d) // 2)


def test_default_model_ships_a_replay() -> None:
    assert (ROOT / "checkpoints" / "mnist-mlp-2d" / REPLAY).is_file()
