"""The latent pad on the Latent sliders page, through AppTest (which cannot run its JavaScript;
tests/e2e/test_latent_pad.py drives it in Chromium): what the page sends it, z coming back on
release, the page's buttons moving it, each blob sent once, and the server-side fallback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from latent_pad_helpers import need, pad, pad_data, release
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

import ui.latent_pad as latent_pad
from ui.keys import MODEL_KEY
from vae_core import (ModelConfig, TrainConfig, build_model, decode_with_spec, load_checkpoint,
                      save_checkpoint)

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
BUNDLED = ROOT / "checkpoints"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every byte string registered with the media store (the blobs the page may fetch)."""
    seen: list[bytes] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        if mimetype == latent_pad.MIME:
            seen.append(path_or_data)
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return seen


def sliders(model: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    if model:
        at.session_state[MODEL_KEY] = model
    at.run()
    at.switch_page("pages/sliders.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def blobs(data: dict) -> list[dict]:
    return [data[k] for k in ("decoder", "points", "images", "reader") if data.get(k)]


def test_2d_pad_gets_the_decoder_and_the_test_digits_as_binary(served: list[bytes]) -> None:
    at = sliders()
    data = pad_data(at)
    assert data["z"] == [0.0, 0.0] and data["range"] == 3.0 and data["dims"] == ["z0", "z1"]
    assert not at.slider and not at.image  # no server-side sliders or decoded image
    by_hash = {latent_pad.Blob.of(b).hash: b for b in served}
    for ref in blobs(data):
        assert ref["url"].endswith(".bin") and ref["bytes"] == len(by_hash[ref["hash"]])
    # The served weights decode like the model itself.
    model = load_checkpoint(BUNDLED / "mnist-mlp-2d").model
    weights = np.frombuffer(by_hash[data["decoder"]["hash"]], dtype="<f4")
    z = np.array([[0.5, -1.0], [2.0, 2.0]], dtype=np.float32)
    with torch.no_grad():
        want = model.decode(torch.from_numpy(z))[:, 0].numpy()
    assert np.abs(decode_with_spec(data["decoder"]["spec"], weights, z) - want).max() < 1e-5
    # Points: float32 [n, 2] then uint8 labels; images: uint8 [n, 28, 28], at most 4 MB.
    n = data["points"]["n"]
    assert n == 5000 and data["points"]["bytes"] == n * 9
    assert data["images"]["bytes"] == n * 784 <= 4_000_000
    assert data["classes"] == [str(i) for i in range(10)] and len(data["colors"]) == 10
    assert len(at.get("bidi_component")[0].proto.json) < 5_000  # data itself stays small


def test_release_sets_z_and_the_pad_follows_the_buttons() -> None:
    at = sliders()
    release(at, [1.25, -0.5])
    assert not at.exception
    assert at.session_state["sl_code"] == [1.25, -0.5]
    assert pad_data(at)["z"] == [1.25, -0.5]
    assert pad_data(at)["ack"].startswith("test-")  # the page ignores echoes of older releases
    assert any("z on the server: (1.25, -0.50)" in c.value for c in at.caption)
    at.button(key="sl_reset").click().run()
    assert pad_data(at)["z"] == [0.0, 0.0]
    at.button(key="sl_random").click().run()
    drawn = pad_data(at)["z"]
    assert drawn != [0.0, 0.0] and max(map(abs, drawn)) <= 3.0
    at.number_input(key="sl_digit").set_value(3)
    at.button(key="sl_from_digit").click().run()
    assert pad_data(at)["z"] not in ([0.0, 0.0], drawn)
    at.number_input(key="sl_range").set_value(0.5).run()  # z is clipped, the pad follows
    assert pad_data(at)["range"] == 0.5 and max(map(abs, pad_data(at)["z"])) <= 0.5


def test_malformed_release_is_ignored() -> None:
    at = sliders()
    release(at, [1.0, 2.0, 3.0])  # wrong length
    release(at, ["x", 1.0])  # type: ignore[list-item]
    assert not at.exception and pad_data(at)["z"] == [0.0, 0.0]


def test_blobs_are_registered_until_the_page_holds_them(served: list[bytes]) -> None:
    at = sliders()
    first = pad_data(at)
    hashes = [ref["hash"] for ref in blobs(first)]
    release(at, [0.5, 0.5], have=hashes)
    served.clear()
    at.button(key="sl_reset").click().run()  # any later run
    assert all(ref["url"] is None for ref in blobs(pad_data(at)))
    assert served == []  # not even hashed again by the media store
    need(at, hashes[0])  # the page lost one (or its URL expired): every URL comes back
    assert all(ref["url"] for ref in blobs(pad_data(at)))
    assert [ref["hash"] for ref in blobs(pad_data(at))] == hashes


def test_16d_pad_has_sliders_only(served: list[bytes]) -> None:
    at = sliders(str(BUNDLED / "mnist-conv-16d"))
    data = pad_data(at)
    assert len(data["z"]) == 16 and len(data["dims"]) == 16
    assert data["points"] is None and data["images"] is None
    assert [len(b) for b in served] == [data["decoder"]["bytes"], data["reader"]["bytes"]]
    release(at, [0.1 * i for i in range(16)])
    assert pad_data(at)["z"] == [round(0.1 * i, 2) for i in range(16)]


@pytest.fixture
def wide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An untrained 65-D model: more dimensions than the pad takes."""
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(tmp_path))
    torch.manual_seed(0)
    path = tmp_path / "wide65"
    save_checkpoint(path, build_model(ModelConfig(latent_dim=65, hidden=[16])),
                    TrainConfig(epochs=1), {"epochs": 0})
    return str(path)


def test_models_the_pad_cannot_take_fall_back_to_server_sliders(wide: str) -> None:
    at = sliders(wide)
    assert pad(at) is None
    assert any("Decoded on the server" in c.value and "65 dimensions" in c.value
               for c in at.caption)
    assert len([s for s in at.slider if s.key.startswith("z_")]) == 65 and at.image


def test_unavailable_reasons() -> None:
    ck = load_checkpoint(BUNDLED / "mnist-conv-2d")
    assert latent_pad.unavailable(ck) is None
    mlp = load_checkpoint(BUNDLED / "mnist-mlp-2d")
    assert latent_pad.payload_sizes(mlp) == {"decoder": 2138176, "points": 45000,
                                             "images": 3920000, "reader": 966184}
    spec = json.dumps(latent_pad._decoder(ck)[0])
    assert "conv_transpose2d" in spec
