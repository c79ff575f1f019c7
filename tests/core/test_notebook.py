"""vae_core.explore: the latent pad as a notebook widget (vae_core/notebook.py, the page side
in ui/frontend/latent_pad/widget.js). Its traitlets and payloads for a checkpoint, an in-memory
VAE and a conditional model; z set from Python and from the page; one clear error per bad
input; vae_core imports without anywidget; widget.js links the app's pad modules in node.
The JupyterLab round trip is tests/e2e/test_notebook_widget.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import traitlets
from ipywidgets.widgets.widget import _remove_buffers
from torch import nn

import vae_core
from vae_core import (CLASS_COLORS, CheckpointError, ExportError, ModelConfig, VAEError,
                      build_model, encode_dataset, export_classifier, export_decoder,
                      load_classifier, load_split)

ROOT = Path(__file__).resolve().parents[2]
PAD = ROOT / "ui" / "frontend" / "latent_pad"
N = 300  # test digits on the plane: enough to check, quick to encode


@pytest.fixture(scope="module")
def mlp() -> vae_core.Checkpoint:
    return vae_core.load("mnist-mlp-2d")


@pytest.fixture(scope="module")
def widget(mlp):
    return vae_core.explore(mlp, points=N)


def test_a_checkpoint_gets_the_apps_payloads(mlp, widget) -> None:
    """The decoder's spec and float32 weights, the first N test codes and labels, their
    images, the classifier, the class mean codes: the app's formats, as binary buffers."""
    assert type(widget).__name__ == "LatentPad"
    assert (widget.z, widget.label, widget.range, widget.model_name) == (
        [0.0, 0.0], None, 3.0, "mnist-mlp-2d")
    data = widget._data
    spec, weights = export_decoder(mlp.model)
    assert data["decoder"]["spec"] == spec
    assert widget._decoder_bytes == weights.astype("<f4").tobytes()
    assert data["decoder"]["bytes"] == len(widget._decoder_bytes)
    test = load_split("mnist", train=False, limit=N)
    mu = encode_dataset(mlp.model, test.floats())[0].numpy()
    buf = widget._points_bytes
    assert len(buf) == N * 9 and data["points"]["n"] == N
    np.testing.assert_allclose(np.frombuffer(buf[:8 * N], "<f4").reshape(N, 2), mu, atol=1e-5)
    assert np.array_equal(np.frombuffer(buf[8 * N:], np.uint8), test.labels.numpy())
    assert widget._images_bytes == test.images.numpy().tobytes()  # uint8 [N, 28, 28]
    rspec, rweights = export_classifier(load_classifier())
    assert data["reader"]["spec"] == rspec
    assert widget._reader_bytes == rweights.astype("<f4").tobytes()
    assert data["classes"] == list(test.classes) and data["colors"] == CLASS_COLORS
    labels = test.labels.numpy()
    np.testing.assert_allclose(data["class_means"][3], mu[labels == 3].mean(0), atol=1e-3)
    assert data["dims"] == ["z0", "z1"] and data["layers"] is None
    hashes = {data[k]["hash"] for k in ("decoder", "points", "images", "reader")}
    assert len(hashes) == 4
    # The payloads leave the kernel as binary buffers, not in the JSON.
    state, buffer_paths, buffers = _remove_buffers(widget.get_state())
    assert sorted(p[0] for p in buffer_paths) == [
        "_decoder_bytes", "_images_bytes", "_points_bytes", "_reader_bytes"]
    assert sum(len(b) for b in buffers) == sum(data[k]["bytes"] for k in (
        "decoder", "points", "images", "reader"))
    assert len(json.dumps(state)) < 200_000


def test_the_modules_are_the_apps_own(widget) -> None:
    """_modules holds every module pad.js needs (its imports resolve inside it), read from
    the folder the app serves; _esm is widget.js, _css the pad's CSS."""
    mods = widget._modules
    assert "pad.js" in mods and "widget.js" not in mods
    assert not any(name.endswith(".test.js") for name in mods)
    for name, text in mods.items():
        assert text == (PAD / name).read_text()
        for dep in re.findall(r'from\s*"\./([\w.-]+\.js)"', text):
            assert dep in mods, f"{name} imports {dep}, which is not sent"
    assert widget._esm == (PAD / "widget.js").read_text()
    assert (PAD / "pad.css").read_text() in widget._css


def test_z_from_python_and_from_the_page(widget) -> None:
    """w.z set from Python is checked and widens the range; a release from the page (the
    state update the comm applies) changes w.z and observers hear it."""
    seen = []
    widget.observe(lambda ch: seen.append(ch["new"]), names="z")
    widget.z = [1.25, -0.5]
    assert widget.z == [1.25, -0.5] and widget.range == 3.0
    widget.z = [0.5, -4.2]
    assert widget.range == 5.0
    widget.set_state({"z": [0.75, 2]})  # what a release in the page sends
    assert widget.z == [0.75, 2.0]
    assert seen == [[1.25, -0.5], [0.5, -4.2], [0.75, 2.0]]
    widget.range = 1.5  # narrower: z is clipped to it
    assert widget.z == [0.75, 1.5] and widget.range == 1.5
    widget.set_state({"z": [0.75, 2.0]})
    assert widget.range == 2.0 and widget.z == [0.75, 2.0]
    for bad in ([1.0], [1.0, float("nan")], ["a", 1], [1, None]):
        with pytest.raises(traitlets.TraitError, match="z must be 2"):
            widget.z = bad
    with pytest.raises(traitlets.TraitError, match="expected a list, not the int 3"):
        widget.z = 3
    assert widget.z == [0.75, 2.0]
    with pytest.raises(traitlets.TraitError, match="unconditional"):
        widget.label = 1
    with pytest.raises(traitlets.TraitError, match="range"):
        widget.range = -1.0


def test_a_conditional_model_takes_a_label() -> None:
    """A CVAE's widget starts at class 0, takes 0..9 from Python and refuses others; its plane
    shows style codes encoded under their own labels, and no class mean codes."""
    ck = vae_core.load("mnist-cvae-2d")
    w = vae_core.explore(ck, label=4, points=50)
    assert w.label == 4 and w._data["decoder"]["spec"][0]["op"] == "one_hot"
    assert w._data["class_means"] is None
    test = load_split("mnist", train=False, limit=50)
    mu = encode_dataset(ck.model, test.floats(), y=test.labels)[0].numpy()
    np.testing.assert_allclose(np.frombuffer(w._points_bytes[:400], "<f4").reshape(50, 2), mu,
                               atol=1e-5)
    w.label = 9
    assert w.label == 9
    for bad in (10, -1, None, 2.5):
        with pytest.raises(traitlets.TraitError, match="conditional: give a class label 0..9"):
            w.label = bad
    assert vae_core.explore(ck, points=0).label == 0
    assert vae_core.explore(ck, points=0)._points_bytes is None  # points=0: no plane


def test_an_in_memory_vae() -> None:
    """An untrained VAE straight from build_model: exported as it is (its weights, not a
    file's), its plane encoded in eval mode, its training mode left as it was; a 5-D one
    gets sliders (no plane)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=2, arch="mlp"))
    model.train()
    w = vae_core.explore(model, z=[0.5, -1], points=20)
    assert model.training
    assert w.z == [0.5, -1.0] and w.model_name == type(model).__name__
    assert w._decoder_bytes == export_decoder(model)[1].astype("<f4").tobytes()
    assert w._data["points"]["n"] == 20 and len(w._images_bytes) == 20 * 784
    w5 = vae_core.explore(build_model(ModelConfig(latent_dim=5, arch="mlp")))
    assert w5._data["dims"] == [f"z{i}" for i in range(5)] and w5.z == [0.0] * 5
    assert w5._points_bytes is None and w5._data["points"] is None
    assert w5._reader_bytes is not None  # the reading works on any MNIST model


def test_bad_inputs_get_one_clear_error(mlp) -> None:
    """Each bad input: one VAEError of one line naming what is wrong."""
    class Odd(nn.Module):
        def forward(self, x):
            return x

    odd = build_model(ModelConfig(latent_dim=2, arch="mlp"))
    odd.decoder = nn.Sequential(nn.Linear(2, 784), nn.LSTM(784, 784))
    cases = [
        (lambda: vae_core.explore(42), VAEError, "not int"),
        (lambda: vae_core.explore("no-such-model"), CheckpointError, "not found"),
        (lambda: vae_core.explore(mlp, z=[1, 2, 3]), VAEError, "z must be 2 finite"),
        (lambda: vae_core.explore(mlp, z=[0, float("inf")]), VAEError, "finite"),
        (lambda: vae_core.explore(mlp, label=3), VAEError, "unconditional"),
        (lambda: vae_core.explore(vae_core.load("mnist-cvae-2d"), label=12), VAEError,
         "label 0..9"),
        (lambda: vae_core.explore(odd), ExportError, "LSTM"),
        (lambda: vae_core.explore(build_model(ModelConfig(latent_dim=65, arch="mlp"))),
         ExportError, "up to 64"),
    ]
    for make, kind, words in cases:
        with pytest.raises(kind) as e:
            make()
        assert words in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_vae_core_imports_without_anywidget() -> None:
    """anywidget is optional: vae_core imports without it, and explore says how to get it."""
    code = ("import sys; sys.modules['anywidget'] = None\n"
            "import vae_core\n"
            "assert 'anywidget' not in sys.modules or sys.modules['anywidget'] is None\n"
            "try:\n    vae_core.explore('mnist-mlp-2d', points=0)\n"
            "except vae_core.VAEError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ("the notebook widget needs anywidget: "
                                  "pip install 'latent-explorer[notebook]'")


NODE_CHECK = """
const [widgetUrl, sourcesFile] = process.argv.slice(1);
const { linkModules } = await import(widgetUrl);
const sources = JSON.parse((await import("node:fs")).readFileSync(sourcesFile, "utf8"));
const order = [];
const dataUrl = (text, name) => {
  order.push(name);
  return "data:text/javascript;base64," + Buffer.from(text).toString("base64");
};
const pad = await import(linkModules(sources, "pad.js", dataUrl));
const errors = [];
for (const bad of [{ "pad.js": 'import { a } from "./gone.js";' },
                   { "a.js": 'import "./b.js";', "b.js": 'export { x } from "./a.js";' }]) {
  try { linkModules(bad, Object.keys(bad)[0], dataUrl); } catch (e) { errors.push(e.message); }
}
console.log(JSON.stringify({ order, padDefault: typeof pad.default, errors }));
"""


def test_widget_js_links_the_pad_modules(widget, tmp_path: Path) -> None:
    """In node: widget.js's linkModules turns the sources Python sends into URLs, dependencies
    first, and pad.js then loads with its default export; a missing module and an import
    cycle are named."""
    node = shutil.which("node")
    assert node, "node is missing: apt-get install nodejs"
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps(widget._modules))
    out = subprocess.run([node, "--input-type=module", "-e", NODE_CHECK,
                          (PAD / "widget.js").as_uri(), str(sources)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    assert got["padDefault"] == "function"
    order = got["order"]
    assert order[-1] == "pad.js" and sorted(order) == sorted(widget._modules)
    assert order.index("decoder.js") < order.index("blobs.js") < order.index("plane.js")
    assert got["errors"] == ["module ./gone.js is missing (imported by pad.js)",
                             "import cycle: a.js -> b.js -> a.js"]


def test_a_foreign_onnx_folder(tmp_path: Path) -> None:
    """A model this project did not train (tests/foreign_models.py: torch.nn modules exported
    with torch.onnx): its decoder.onnx translated for the page, its encoder.onnx's codes on the
    plane; without an encoder, sliders only; a conditional one takes a label."""
    from foreign_models import write_foreign

    folder = write_foreign(tmp_path / "conv", kind="conv", latent_dim=2)
    ck = vae_core.load(folder)
    w = vae_core.explore(folder, points=40)
    assert w.model_name == "conv" and w._data["decoder"]["spec"] == export_decoder(ck.model)[0]
    test = load_split("mnist", train=False, limit=40)
    mu = ck.model.encode(test.floats())[0].numpy()
    np.testing.assert_allclose(np.frombuffer(w._points_bytes[:320], "<f4").reshape(40, 2), mu,
                               atol=1e-5)
    assert w._reader_bytes is not None
    bare = vae_core.explore(write_foreign(tmp_path / "bare", latent_dim=2, encoder=False))
    assert bare._data["points"] is None and bare._points_bytes is None
    assert bare._data["dims"] == ["z0", "z1"]
    cond = vae_core.explore(write_foreign(tmp_path / "cond", latent_dim=2, n_classes=10),
                            label=7, points=10)
    assert cond.label == 7 and cond._data["decoder"]["spec"][0]["op"] == "one_hot"
    elsewhere = vae_core.explore(write_foreign(tmp_path / "other", latent_dim=2,
                                               dataset="my-letters"), points=10)
    assert elsewhere._data["points"] is None and elsewhere._data["reader"] is None


def test_the_docs_example_runs_as_written() -> None:
    """docs/notebook.md's python blocks run in order: the three-line example gives the widget
    at z = 0, and its observe line hears a release."""
    blocks = re.findall(r"^```python\n(.*?)^```", (ROOT / "docs" / "notebook.md").read_text(),
                        re.M | re.S)
    assert len(blocks) == 2 and "vae_core.explore(" in blocks[0]
    ns: dict = {}
    for block in blocks:
        exec(block, ns)  # noqa: S102 - the doc's own example
    w = ns["w"]
    assert type(w).__name__ == "LatentPad" and w.z == [0.0, 0.0]
    w.set_state({"z": [1.93, 1.29]})  # a release in the page
    assert w.z == [1.93, 1.29]
