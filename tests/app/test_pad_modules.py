"""The latent pad's browser modules (ui/frontend/latent_pad): node's unit tests of the decoder
kernels, the classifier's reading and the per-pixel cost against vae_core on the bundled models,
and of the plane's keys, the live region's words and the hole under z; the class mean codes
the digit keys jump to;
the pad and the replay player served as real ES modules (ui.frontend_modules); the test hooks
only under VAE_TEST_HOOKS=1; one class palette and one field colour, sent by Python."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import CVAE, MLP, open_page
from foreign_decode import pad_models
from latent_pad_helpers import pad, pad_data
from starlette.requests import Request
from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.web.server.starlette.starlette_routes import create_bidi_component_routes

import ui.latent_pad as latent_pad
import ui.replay_player as replay_player
from ui.frontend_modules import HOOKS_ENV, serve_folder
from ui.plane_layers import FIELD_COLOUR
from ui.state import test_set as load_test_set
from vae_core import (CLASS_COLORS, decode_with_spec, decoded_cost, export_classifier,
                      export_decoder, load_checkpoint, load_classifier, load_split, pixel_cost,
                      run_spec)

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "ui" / "frontend" / "latent_pad"
MODELS = ["mnist-mlp-2d", "mnist-conv-2d", "mnist-cvae-2d", "mnist-conv-16d"]
# node tests that need no fixture: decoder.test.js 5, cost.test.js 3, modules.test.js 1,
# keys.test.js 6
STATIC_TESTS = 15
IMPORT = re.compile(r'^import\s*\{[^}]*\}\s*from\s*"(\.{1,2}/[\w./]+)";', re.M)


def _floats(a: np.ndarray | torch.Tensor) -> list[float]:
    return [float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def write_fixture(folder: Path) -> dict:
    """What node checks the modules against: each model's export, decoded pixels and logits
    (decode_with_spec, run_spec) and per-pixel cost (decoded_cost) at a few codes; the digit
    classifier's logits; a Gaussian likelihood's cost (pixel_cost)."""
    test = load_split("mnist", train=False, limit=8)
    images = test.floats()[:, 0].numpy()
    g = np.random.default_rng(0)
    fixture: dict = {"models": []}
    for name in MODELS:
        ck = load_checkpoint(ROOT / "checkpoints" / name)
        spec, weights = export_decoder(ck.model)
        (folder / f"{name}.bin").write_bytes(weights.astype("<f4").tobytes())
        cases = []
        for k in range(3):
            z = (g.standard_normal(ck.model_config.latent_dim) * 1.5).astype(np.float32)
            label = [0, 3, 7][k] if ck.model.n_labels else None
            y = None if label is None else np.array([label])
            cost = decoded_cost(ck.model, torch.from_numpy(z), torch.from_numpy(images[k]),
                                None if y is None else torch.from_numpy(y))["cost"]
            cases.append({
                "z": _floats(z), "label": label,
                "pixels": _floats(decode_with_spec(spec, weights, z[None], y)),
                "logits": _floats(run_spec(spec[:-1], weights, z[None].astype(np.float64), y)),
                "target": _floats(images[k]), "likelihood": ck.model_config.likelihood,
                "var": float(ck.model_config.gaussian_var), "cost": _floats(cost),
                "total": float(cost.double().sum())})
        fixture["models"].append({"name": name, "spec": spec, "weights": f"{name}.bin",
                                  "zdim": ck.model_config.latent_dim, "cases": cases})
    spec, weights = export_classifier(load_classifier())
    (folder / "classifier.bin").write_bytes(weights.astype("<f4").tobytes())
    reads = []
    for k in range(4):
        logits = run_spec(spec, weights, images[k].reshape(1, 784).astype(np.float64))[0]
        p = np.exp(logits - logits.max())
        reads.append({"pixels": _floats(images[k]), "logits": _floats(logits),
                      "label": int(logits.argmax()), "p": float(1 / p.sum())})
    fixture["classifier"] = {"spec": spec, "weights": "classifier.bin", "cases": reads}
    logits = torch.from_numpy(g.standard_normal(784) * 3)
    means = torch.sigmoid(logits)
    fixture["gaussian"] = []
    for var in (0.5, 0.05):
        cost = pixel_cost(logits, torch.from_numpy(images[5].reshape(-1)).double(),
                          "gaussian", var)
        fixture["gaussian"].append({"logits": _floats(logits), "means": _floats(means),
                                    "target": _floats(images[5]), "var": var,
                                    "cost": _floats(cost), "total": float(cost.sum())})
    fixture["foreign"] = []  # models this project did not train, held to onnxruntime
    for m in pad_models(folder / "foreign"):
        (folder / f"{m['name']}.bin").write_bytes(m.pop("weights").astype("<f4").tobytes())
        fixture["foreign"].append({**m, "weights": f"{m['name']}.bin"})
    (folder / "fixture.json").write_text(json.dumps(fixture))
    return fixture


def test_node_kernels_and_cost_match_vae_core(tmp_path: Path) -> None:
    """node --test runs the pad's modules against the bundled models: an MLP, conv models and
    the CVAE decode to decode_with_spec's pixels, the classifier reads as run_spec does, and
    the per-pixel cost is decoded_cost's (pixel_cost's for a Gaussian likelihood)."""
    node = shutil.which("node")
    assert node, "node is missing: apt-get install nodejs (the pad's unit tests need it)"
    fixture = write_fixture(tmp_path)
    out = subprocess.run([node, "--test"], cwd=FRONTEND, capture_output=True, text=True,
                         timeout=300, env={**os.environ,
                                           "PAD_FIXTURE": str(tmp_path / "fixture.json")})
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-4000:]
    want = STATIC_TESTS + 2 * len(fixture["models"]) + 2 + len(fixture["foreign"])
    counts = dict(re.findall(r"^# (pass|fail|skipped) (\d+)$", report, re.M))
    assert counts == {"pass": str(want), "fail": "0", "skipped": "0"}, report[-2000:]
    for name in MODELS:
        assert re.search(rf"^ok \d+ - {name} decodes like vae_core", report, re.M), name
    for m in fixture["foreign"]:
        assert re.search(rf"^ok \d+ - {m['name']} decodes like onnxruntime", report, re.M)
    assert re.search(r"^ok \d+ - a run of presses moves z each time and settles once", report,
                     re.M), report[-2000:]


def test_the_digit_keys_get_each_class_mean_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2-D unconditional model's plane gets each class's mean test code (where its digit
    keys jump); a conditional model's, whose codes are style alone, gets none."""
    monkeypatch.delenv(HOOKS_ENV, raising=False)
    means = np.array(pad_data(open_page("sliders", MLP))["class_means"])
    ck = load_checkpoint(ROOT / "checkpoints" / MLP)
    images, labels, _ = load_test_set("mnist")
    with torch.no_grad():
        mu = ck.model.encode(torch.from_numpy(np.array(images)).unsqueeze(1))[0].numpy()
    want = np.stack([mu[labels == c].mean(0) for c in range(10)])
    assert means.shape == (10, 2) and np.abs(means - want).max() < 1e-3
    assert pad_data(open_page("sliders", CVAE))["class_means"] is None


def run_coroutine(coro):
    """asyncio.run in a thread of its own: an e2e test run before this one in the same process
    leaves Playwright's event loop running in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.mark.parametrize("component", [latent_pad, replay_player])
def test_every_module_is_served_from_its_folder(component) -> None:
    """ui.frontend_modules declares the folder on a component manager as the manifest
    scanner would; the server's route then serves each module, so the relative imports of
    the entry module resolve. Guards the hook on the installed Streamlit."""
    manager = BidiComponentManager()
    serve_folder(manager, component.NAME)
    sub = "latent_pad" if component is latent_pad else "replay_player"
    entry = f"{sub}/{'pad' if component is latent_pad else 'player'}.js"
    manager.register(manager.build_definition_with_validation(
        component_key=component.NAME, html=None, css=entry.replace(".js", ".css"), js=entry))
    assert manager.get(component.NAME).js_url == entry
    assert manager.get(component.NAME).js_content is None
    route = create_bidi_component_routes(manager, None)[0]

    async def get(path: str):
        return await route.endpoint(Request({
            "type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"",
            "path_params": {"path": f"{component.NAME}/{path}"}}))

    root = ROOT / "ui" / "frontend"
    modules = sorted(str(p.relative_to(root)) for p in root.glob("*/*.js"))
    for name in (m for m in modules if m.startswith(sub)):
        got = run_coroutine(get(name))
        assert got.status_code == 200 and got.media_type == "text/javascript", name
        assert got.body == (root / name).read_bytes()
        for imported in IMPORT.findall((root / name).read_text()):
            target = (root / name).parent / imported
            assert target.resolve().is_relative_to(root) and target.is_file(), \
                f"{name} imports a missing {imported}"
    assert run_coroutine(get("../__init__.py")).status_code == 400  # nothing outside it


def test_the_page_loads_the_pad_as_a_module_with_python_colours(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The element names its module file (no inline JavaScript), and the class palette and
    the field's colour come from Python, so no JS file holds its own."""
    monkeypatch.delenv(HOOKS_ENV, raising=False)
    at = open_page("sliders", MLP)
    proto = pad(at).proto
    assert (proto.js_source_path, proto.css_source_path) == ("latent_pad/pad.js",
                                                             "latent_pad/pad.css")
    assert not proto.js_content and not proto.css_content
    data = pad_data(at)
    assert data["colors"] == CLASS_COLORS and data["test_hooks"] is False
    at.toggle(key="sl_field").set_value(True).run()
    assert pad_data(at)["layers"]["colour"] == FIELD_COLOUR
    for js in FRONTEND.glob("*.js"):
        assert FIELD_COLOUR.lower() not in js.read_text().lower(), js.name
        assert not [c for c in CLASS_COLORS if c.lower() in js.read_text().lower()], js.name


def test_test_hooks_only_under_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """window.latentPad* exist only in hooks.js, which pad.js installs only when the data
    says so, and Python says so only under VAE_TEST_HOOKS=1."""
    monkeypatch.setenv(HOOKS_ENV, "1")
    assert pad_data(open_page("sliders", MLP))["test_hooks"] is True
    hooks = {js.name for js in FRONTEND.glob("*.js") if "window.latentPad" in js.read_text()}
    assert hooks == {"hooks.js"}
    assert re.search(r"if \(data\.test_hooks\) installHooks\(", (FRONTEND / "pad.js").read_text())
    # the benchmarks' server sets it by name, without importing the app
    assert f'env["{HOOKS_ENV}"] = "1"' in (ROOT / "bench" / "loadtest.py").read_text()
