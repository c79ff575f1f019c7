"""The reference digit classifier (vae_core.classifier), the class_consistency metric and the
seeded training augmentation (vae_core.augment)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from vae_core import CheckpointError, ConfigError, TrainConfig, is_checkpoint, load_checkpoint
from vae_core.__main__ import main
from vae_core.augment import augment_batch
from vae_core.classifier import (DEFAULT_DIR, SPEC, WEIGHTS, accuracy, class_consistency,
                                 classify, load_classifier, reconstructions, train_classifier)
from vae_core.schema import config_fields

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_bundled_classifier_reads_mnist(mnist_test) -> None:
    """At least 99% on real MNIST test digits, in both accepted shapes, with probabilities."""
    x, y = mnist_test.floats(), mnist_test.labels.numpy()
    labels, probs = classify(x)
    assert labels.dtype == np.int64 and labels.shape == (len(x),)
    assert probs.shape == (len(x), 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert (labels == probs.argmax(1)).all()
    assert (labels == y).mean() >= 0.99
    same, _ = classify(x[:, 0].numpy())  # [N, 28, 28] NumPy in, same readings
    assert (same == labels).all()
    assert classify(x[0, 0])[0].shape == (1,)  # one image


def test_bundled_spec_records_full_test_accuracy() -> None:
    spec = json.loads((DEFAULT_DIR / SPEC).read_text())
    assert spec["test_accuracy"] >= 0.99 and spec["test_images"] == 10_000


def test_classifier_is_not_a_vae() -> None:
    """The folder is never offered as a VAE by the model picker."""
    assert isinstance(load_classifier(), torch.nn.Module)
    assert not is_checkpoint(DEFAULT_DIR)
    assert not (DEFAULT_DIR / "model.safetensors").exists()


def test_classify_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="28"):
        classify(np.zeros((2, 3, 28, 28)))
    with pytest.raises(ValueError):
        classify(np.zeros((4, 32)))


@pytest.fixture
def copy_dir(tmp_path):
    dest = tmp_path / "clf"
    shutil.copytree(DEFAULT_DIR, dest)
    return dest


def test_tampered_classifier_is_refused(copy_dir) -> None:
    """Shapes, names and finiteness are checked against classifier.json; nothing unpickles."""
    good = load_classifier(copy_dir)
    state = {k: v.clone() for k, v in good.state_dict().items()}
    bad_shape = dict(state)
    bad_shape["0.weight"] = torch.zeros(3, 1, 3, 3)
    save_file(bad_shape, str(copy_dir / WEIGHTS))
    with pytest.raises(CheckpointError, match="0.weight"):
        load_classifier(copy_dir)  # a changed file is read again
    nan = dict(state)
    nan["0.weight"] = torch.full_like(state["0.weight"], float("nan"))
    save_file(nan, str(copy_dir / WEIGHTS))
    with pytest.raises(CheckpointError, match="finite"):
        load_classifier(copy_dir)
    (copy_dir / WEIGHTS).write_bytes(b"\x80\x04pickle")
    with pytest.raises(CheckpointError):
        load_classifier(copy_dir)
    (copy_dir / SPEC).write_text('{"channels": [100000], "dense": 1}')
    with pytest.raises(CheckpointError, match="out of bounds"):
        load_classifier(copy_dir)
    with pytest.raises(CheckpointError):
        load_classifier(copy_dir / "missing")


def test_class_consistency_tells_good_models_from_bad(mnist_test, repo_root) -> None:
    """The metric: a 50-D model gives back the digit far more often than a 2-D one, and a
    perfect 'model' (the identity) scores the classifier's own accuracy."""
    x, y = mnist_test.floats()[:300], mnist_test.labels[:300]
    rich = class_consistency(load_checkpoint(repo_root / "checkpoints/mnist-mlp-50d").model, x, y)
    flat = class_consistency(load_checkpoint(repo_root / "checkpoints/mnist-mlp-2d").model, x, y)
    assert rich >= 0.97 and flat < rich - 0.1

    class Identity(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def reconstruct(self, xb: torch.Tensor) -> torch.Tensor:
            return xb

    assert class_consistency(Identity(), x, y) == pytest.approx(accuracy(x, y))
    assert reconstructions(Identity(), x[:5]).shape == (5, 1, 28, 28)


def test_evaluate_reports_class_consistency(capsys, repo_root) -> None:
    ck = repo_root / "checkpoints/mnist-mlp-50d"
    assert main(["evaluate", "--checkpoint", str(ck), "--class-consistency", "--json",
                 "--limit", "200"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["test_images"] == 200 and 0.95 <= res["class_consistency"] <= 1


def test_evaluate_refuses_class_consistency_for_fashion(capsys, repo_root) -> None:
    code = main(["evaluate", "--checkpoint", str(repo_root / "checkpoints/fashion-mlp-2d"),
                 "--class-consistency", "--limit", "10"])
    assert code == 2 and "MNIST" in capsys.readouterr().err


def test_train_classifier_command_writes_a_loadable_classifier(tmp_path, mnist_dir,
                                                               capsys) -> None:
    out = tmp_path / "clf"
    assert main(["train-classifier", "--out", str(out), "--data-dir", str(mnist_dir),
                 "--limit", "512", "--epochs", "1", "--batch-size", "64"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    net = load_classifier(out)
    spec = json.loads((out / SPEC).read_text())
    assert spec["train_images"] == 512 and spec["epochs"] == 1 and 0 <= spec["test_accuracy"]
    assert classify(torch.zeros(2, 28, 28), net)[1].shape == (2, 10)
    assert sorted(p.name for p in out.iterdir()) == sorted([SPEC, WEIGHTS])


def test_train_classifier_is_seeded(tmp_path, mnist_train, mnist_test) -> None:
    x, y = mnist_train.floats()[:256], mnist_train.labels[:256]
    tx, ty = mnist_test.floats()[:64], mnist_test.labels[:64]
    runs = [train_classifier(x, y, tx, ty, tmp_path / f"r{i}", epochs=1, batch_size=64,
                             log=lambda m: None) for i in range(2)]
    assert runs[0]["test_accuracy"] == runs[1]["test_accuracy"]
    a, b = (load_classifier(tmp_path / f"r{i}").state_dict() for i in range(2))
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ConfigError):
        train_classifier(x, y, tx, ty, tmp_path / "bad", epochs=0)


# --- augmentation ---------------------------------------------------------------------------
def test_augment_is_seeded_light_and_in_range(mnist_test) -> None:
    x = mnist_test.floats()[:64]
    a = augment_batch(x, 1.0, torch.Generator().manual_seed(3))
    b = augment_batch(x, 1.0, torch.Generator().manual_seed(3))
    c = augment_batch(x, 1.0, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert augment_batch(x, 0.0, torch.Generator()) is x
    # Light: still the same digit to the classifier, but not the same pixels.
    assert accuracy(a, mnist_test.labels[:64]) >= 0.95
    assert (a - x).abs().mean() > 0.02


def test_augment_is_a_train_option() -> None:
    """Declared once in TrainConfig: a CLI flag and a form field; old configs read as off."""
    spec = next(f for f in config_fields(TrainConfig) if f.name == "augment")
    assert spec.flag == "--augment" and spec.kind == "float" and spec.default == 0.0
    assert TrainConfig.from_dict({"epochs": 3}).augment == 0.0
    with pytest.raises(ConfigError):
        TrainConfig(augment=3.0)



# --- what the pages use ---------------------------------------------------------------------
def test_read_digit_and_grid(mnist_test, repo_root) -> None:
    from vae_core import manifold
    from vae_core.classifier import read_digit, read_grid, tint_grid

    label, conf = read_digit(mnist_test.floats()[0])
    assert label == int(mnist_test.labels[0]) and 0.5 < conf <= 1
    with pytest.raises(ValueError, match="one image"):
        read_digit(mnist_test.floats()[:2])
    # A grid of known digits: row by row, as manifold tiles them.
    x = mnist_test.floats()[:9, 0]
    grid = x.reshape(3, 3, 28, 28).permute(0, 2, 1, 3).reshape(84, 84)
    labels, confs = read_grid(grid, 3)
    assert (labels.ravel() == classify(x)[0]).all() and confs.shape == (3, 3)
    rgb = tint_grid(grid, labels, confs)
    assert rgb.shape == (84, 84, 3) and rgb.min() >= 0 and rgb.max() <= 1
    assert (rgb[..., 0] == 0).sum() > 0 and np.allclose(rgb.sum(-1) == 0, grid.numpy() == 0)
    # A 2-D model's manifold: the decoder draws several digit classes across the plane.
    model = load_checkpoint(repo_root / "checkpoints/mnist-mlp-2d").model
    img, _ = manifold(model, n=8)
    labels, _ = read_grid(img, 8)
    assert len(np.unique(labels)) >= 7
    with pytest.raises(ValueError):
        read_grid(img, 7)
