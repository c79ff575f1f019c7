"""docs/examples/own_vae.py, a VAE written and trained in plain PyTorch and exported with
torch.onnx, comes out as a folder that the library, the CLI and the browser's pad all take."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import vae_core

ROOT = Path(__file__).resolve().parents[2]


def test_a_vae_trained_in_plain_pytorch_is_explored_as_onnx(tmp_path: Path) -> None:
    out = tmp_path / "their-vae"
    run = subprocess.run([sys.executable, str(ROOT / "docs" / "examples" / "own_vae.py"),
                          "--epochs", "1", "--limit", "2000", "--out", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "epoch 1: -ELBO" in run.stdout
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "encoder.onnx",
                                                      "model.json"]
    model = vae_core.load(out).model
    assert model.foreign and model.has_encoder and model.cfg.latent_dim == 2
    z = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    logits = ort.InferenceSession(str(out / "decoder.onnx")).run(None, {"z": z})[0]
    with torch.no_grad():
        got = model.decode(torch.from_numpy(z)).reshape(5, 784).numpy()
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-logits)), atol=1e-6)
    spec, weights = vae_core.export_decoder(model)  # the browser's pad takes it too
    np.testing.assert_allclose(vae_core.decode_with_spec(spec, weights, z).reshape(5, 784), got,
                               atol=1e-4)
    ev = subprocess.run([sys.executable, "-m", "vae_core", "evaluate", "--checkpoint", str(out),
                         "--limit", "200", "--json"], capture_output=True, text=True,
                        timeout=300, cwd=ROOT)
    assert ev.returncode == 0, ev.stderr[-2000:]
