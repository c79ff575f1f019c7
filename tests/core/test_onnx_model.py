"""Foreign models through ONNX (vae_core.onnx_model): OnnxVAE gives the numbers of the plain
torch.nn modules it was exported from (tests/foreign_models.py: MLP and conv decoders, flat
and 4-D outputs, logits and probabilities, conditional, the dynamo and the legacy exporter),
and our own `export --onnx` folder loads as a foreign model and decodes like its checkpoint.
Hostile and odd folders: test_onnx_checks.py."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from foreign_models import foreign_modules, write_foreign
from torch import nn

from vae_core import (ExportError, NoEncoderError, OnnxVAE, copy_checkpoint, evaluate_elbo,
                      export_onnx, export_zip, import_upload, is_checkpoint, is_onnx_model,
                      load_checkpoint, publish_checkpoint, weights_mtime)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[2]
TOL = 1e-5
# name: write_foreign options (dynamo for two of them: the exporter a researcher meets first)
KINDS = {
    "mlp": dict(kind="mlp", latent_dim=2, dynamo=True),
    "conv4d": dict(kind="conv", latent_dim=3, flat=False, dynamo=False),
    "cvae": dict(kind="mlp", latent_dim=2, n_classes=3, dynamo=True, seed=1),
    "prob": dict(kind="conv", latent_dim=2, output="probabilities", encoder=False,
                 dynamo=False, seed=2),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each kind of foreign folder, exported once for the whole module."""
    root = tmp_path_factory.mktemp("foreign")
    return {name: write_foreign(root / name, **opts) for name, opts in KINDS.items()}


def modules(name: str) -> tuple[nn.Module, nn.Module]:
    o = KINDS[name]
    return foreign_modules(o["kind"], o["latent_dim"], n_classes=o.get("n_classes", 0),
                           output=o.get("output", "logits"), flat=o.get("flat", True),
                           seed=o.get("seed", 0))


def codes(n: int, d: int, seed: int = 3) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) * 1.5


def images(n: int, seed: int = 4) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", ["mlp", "conv4d"])
def test_decode_and_encode_match_the_source_modules(folders, name: str) -> None:
    model = load_checkpoint(folders[name]).model
    dec, enc = modules(name)
    assert isinstance(model, OnnxVAE) and model.foreign and model.has_encoder
    z, x = codes(7, model.cfg.latent_dim), images(5)
    with torch.no_grad():
        logits = dec(z).reshape(7, 1, 28, 28)
        mu, logvar = enc(x)
    assert model.decode_logits(z).shape == (7, 1, 28, 28)
    assert torch.allclose(model.decode_logits(z), logits, atol=TOL)
    assert torch.allclose(model.decode(z), torch.sigmoid(logits), atol=TOL)
    assert torch.allclose(model.decode(z[0]), torch.sigmoid(logits[:1]), atol=TOL)  # one code
    m2, lv2 = model.encode(x)
    assert torch.allclose(m2, mu, atol=TOL) and torch.allclose(lv2, logvar, atol=TOL)
    with torch.no_grad():
        rec = torch.sigmoid(dec(mu).reshape(5, 1, 28, 28))
    assert torch.allclose(model.reconstruct(x), rec, atol=TOL)
    assert model.reconstruct(x, sample=True, generator=torch.Generator()).shape == (5, 1, 28, 28)


def test_conditional_model_takes_labels(folders) -> None:
    model = load_checkpoint(folders["cvae"]).model
    dec, enc = modules("cvae")
    assert model.cfg.conditional and model.n_labels == 3
    z, x, y = codes(6, 2), images(6), torch.tensor([0, 1, 2, 2, 1, 0])
    onehot = torch.eye(3)[y]
    with torch.no_grad():
        want = torch.sigmoid(dec(z, onehot)).reshape(6, 1, 28, 28)
        mu, _ = enc(x, onehot)
    assert torch.allclose(model.decode(z, y), want, atol=TOL)
    assert torch.allclose(model.encode(x, y)[0], mu, atol=TOL)
    assert torch.allclose(model.decode(z, 2), torch.sigmoid(dec(z, torch.eye(3)[[2] * 6]))
                          .reshape(6, 1, 28, 28), atol=TOL)
    with pytest.raises(ValueError, match="conditional"):
        model.decode(z)
    ck = load_checkpoint(folders["cvae"])
    assert ck.info["classes"] == ["0", "1", "2"] and ck.model_config.n_classes == 3


def test_probabilities_output_is_decoded_as_it_is(folders) -> None:
    ck = load_checkpoint(folders["prob"])
    model = ck.model
    assert model.output == "probabilities" and not model.has_encoder
    z = codes(9, 2)
    session = ort.InferenceSession(str(folders["prob"] / "decoder.onnx"))
    (probs,) = session.run(None, {"z": z.numpy()})
    assert np.array_equal(model.decode(z).numpy().reshape(9, -1), probs.reshape(9, -1))
    dec, _ = modules("prob")
    with torch.no_grad():
        assert torch.allclose(model.decode(z), dec(z).reshape(9, 1, 28, 28), atol=TOL)
    assert torch.allclose(torch.sigmoid(model.decode_logits(z)), model.decode(z), atol=1e-5)


def test_model_without_encoder_says_so_in_one_line(folders) -> None:
    model = load_checkpoint(folders["prob"]).model
    for call in (lambda: model.encode(images(2)), lambda: model.reconstruct(images(2)),
                 lambda: model(images(2))):
        with pytest.raises(NoEncoderError) as e:
            call()
        assert "has no encoder (encoder.onnx)" in str(e.value) and "\n" not in str(e.value)
    g = torch.Generator().manual_seed(5)
    assert model.sample(4, g).shape == (4, 1, 28, 28)  # decoding needs no encoder


def test_sample_interpolate_forward_and_metrics(folders) -> None:
    model = load_checkpoint(folders["mlp"]).model
    a = model.sample(6, torch.Generator().manual_seed(1))
    b = model.sample(6, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and 0 <= a.min() and a.max() <= 1
    z = torch.randn(6, 2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, model.decode(z))
    path = model.interpolate(torch.zeros(2), torch.ones(2), steps=4)
    assert path.shape == (4, 1, 28, 28)
    out = model(images(3))
    assert torch.isfinite(out.loss) and out.x_hat.shape == (3, 1, 28, 28)
    res = evaluate_elbo(model, images(20), batch_size=8)
    assert np.isfinite(res["test_neg_elbo"]) and res["test_kl"] >= 0


def test_checkpoint_and_archive_accept_the_folder(folders, tmp_path: Path) -> None:
    src = folders["mlp"]
    ck = load_checkpoint(src)
    assert ck.info["format"] == "onnx" and ck.info["foreign"] is True
    assert ck.info["manifest"]["latent_dim"] == 2 and ck.train_config.dataset == "mnist"
    assert ck.model_config.latent_dim == 2 and ck.metrics == {}
    assert ck.model.decoder_bytes == (src / "decoder.onnx").read_bytes()
    assert is_onnx_model(src) and is_checkpoint(src) and not is_onnx_model(tmp_path)
    mtimes = [(src / f).stat().st_mtime for f in ("decoder.onnx", "encoder.onnx")]
    assert weights_mtime(src) == max(mtimes)
    # export_zip -> import_upload gives the same model back, under the zip's folder name
    dest = import_upload([("mine.zip", export_zip(src, "my-vae"))], tmp_path / "a")
    assert dest.name == "my-vae" and is_onnx_model(dest)
    z = codes(3, 2)
    assert torch.equal(load_checkpoint(dest).model.decode(z), ck.model.decode(z))
    loose = [(f, (src / f).read_bytes()) for f in ("model.json", "decoder.onnx")]
    dest = import_upload(loose, tmp_path / "b")
    assert dest.name == "mnist-onnx-2d" and not load_checkpoint(dest).model.has_encoder


def test_copy_and_publish_keep_the_graphs(folders, tmp_path: Path) -> None:
    src, z = folders["mlp"], codes(3, 2)
    want = load_checkpoint(src).model.decode(z)
    for dest in (copy_checkpoint(src, tmp_path / "copy"),
                 publish_checkpoint(src, tmp_path / "shared", "their-vae")):
        assert {p.name for p in dest.iterdir()} == {"model.json", "decoder.onnx",
                                                   "encoder.onnx"}
        assert torch.equal(load_checkpoint(dest).model.decode(z), want)


def test_copies_and_refused_export(folders, tmp_path: Path) -> None:
    ck = load_checkpoint(folders["cvae"])
    twin = copy.deepcopy(ck.model)  # new sessions: onnxruntime's cannot be copied
    z = codes(4, 2)
    assert twin is not ck.model and torch.equal(twin.decode(z, 1), ck.model.decode(z, 1))
    with pytest.raises(ExportError, match="foreign ONNX model"):
        export_onnx(ck, tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_our_own_onnx_export_loads_as_a_foreign_model(tmp_path: Path) -> None:
    ck = load_checkpoint(REPO / "checkpoints" / "mnist-cvae-2d")
    export_onnx(ck, tmp_path / "out")
    foreign = load_checkpoint(tmp_path / "out")
    assert foreign.model.foreign and foreign.info["classes"] == [str(i) for i in range(10)]
    z, y, x = codes(8, 2), torch.arange(8), images(8)
    with torch.no_grad():
        assert torch.allclose(foreign.model.decode(z, y), ck.model.decode(z, y), atol=1e-4)
        assert torch.allclose(foreign.model.encode(x, y)[0], ck.model.encode(x, y)[0],
                              atol=1e-4)


def test_the_documented_example_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """docs/onnx.md's "Bring your own model" block, run as written in an empty folder."""
    doc = (REPO / "docs" / "onnx.md").read_text()
    code = doc.split("## Bring your own model")[1].split("```python\n")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(code, scope)
    model, z = scope["model"], codes(5, 8)
    assert isinstance(model, OnnxVAE) and scope["images"].shape == (16, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(model.decode(z), scope["decoder"](z).reshape(5, 1, 28, 28),
                              atol=TOL)
