"""The pad's decoder.js in headless Chromium decodes foreign decoders (models this project did
not train, translated from decoder.onnx by vae_core.onnx_spec) as onnxruntime does, within
1e-4. The module is served as is from a routed origin: no Streamlit server is needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from e2e_helpers import REPO_ROOT
from foreign_decode import pad_models

pytestmark = pytest.mark.e2e
ORIGIN = "http://pad.test"
PAD = REPO_ROOT / "ui" / "frontend" / "latent_pad"
PAGE = b"""<!doctype html><meta charset="utf-8"><title>decoder.js</title>
<script type="module">
import { Decoder } from "./decoder.js";
window.Decoder = Decoder;
</script>"""
DECODE_JS = """async ({spec, weights, zdim, cases}) => {
  const buf = await (await fetch(weights)).arrayBuffer();
  const d = new window.Decoder(spec, new Float32Array(buf), zdim);
  return cases.map((c) => Array.from(d.decode(c.z, new Float32Array(784), c.label)));
}"""


def serve(page, files: dict[str, tuple[bytes, str]]) -> None:
    """Answer requests to ORIGIN from `files` (path -> (body, content type)); 404 otherwise."""
    def answer(route) -> None:
        path = route.request.url[len(ORIGIN):].split("?")[0]
        if path in files:
            body, kind = files[path]
            route.fulfill(status=200, body=body, content_type=kind)
        else:
            route.fulfill(status=404, body=b"")
    page.route(f"{ORIGIN}/**", answer)


@pytest.fixture
def decoder_page(browser) -> Iterator:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


def test_chromium_decodes_foreign_decoders_like_onnxruntime(decoder_page, tmp_path: Path
                                                            ) -> None:
    models = pad_models(tmp_path, n_codes=4)
    files = {"/index.html": (PAGE, "text/html"),
             "/decoder.js": ((PAD / "decoder.js").read_bytes(), "text/javascript")}
    for m in models:
        files[f"/{m['name']}.bin"] = (m["weights"].astype("<f4").tobytes(),
                                      "application/octet-stream")
    serve(decoder_page, files)
    decoder_page.goto(f"{ORIGIN}/index.html")
    decoder_page.wait_for_function("window.Decoder !== undefined", timeout=30_000)
    kinds = set()
    for m in models:
        got = decoder_page.evaluate(DECODE_JS, {
            "spec": m["spec"], "weights": f"/{m['name']}.bin", "zdim": m["zdim"],
            "cases": [{"z": c["z"], "label": c["label"]} for c in m["cases"]]})
        want = np.array([c["onnx"] for c in m["cases"]])
        assert np.abs(np.array(got) - want).max() < 1e-4, m["name"]
        kinds.update(L["op"] for L in m["spec"])
    assert {"conv_transpose2d", "conv2d", "one_hot", "linear", "upsample", "gelu", "softplus"} \
        <= kinds
    assert decoder_page.errors == []
