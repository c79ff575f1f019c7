"""AppTest for the sidebar's model picker: uploading a checkpoint (zip or files), refusals,
and downloading the active model as a zip that uploads back."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from ui.state import MODEL_KEY
from vae_core import export_zip, load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
BUNDLED = ROOT / "checkpoints"


@pytest.fixture(autouse=True)
def _user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(tmp_path / "user-models"))


def on_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def uploader(at: AppTest):
    (up,) = [w for w in at.sidebar.get("file_uploader")]
    return up


def folder_zip(name: str, inside: str | None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in ("config.json", "model.safetensors", "metrics.json"):
            zf.write(BUNDLED / name / f, f"{inside}/{f}" if inside else f)
    return buf.getvalue()


def sidebar_text(at: AppTest) -> str:
    return " ".join(str(m.value) for m in at.sidebar.markdown)


def test_valid_zip_upload_becomes_the_active_model() -> None:
    at = on_page("manifold")
    uploader(at).upload("mine.zip", folder_zip("mnist-conv-2d", "mine"), "application/zip")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    path = at.session_state[MODEL_KEY]
    assert Path(path).name == "mine" and "upload-" in str(Path(path).parent)
    box = at.sidebar.selectbox(key=MODEL_KEY)
    assert box.value == path
    assert box.format_func(path) == "mine (uploaded)"
    assert "**mine** · CONV" in sidebar_text(at)  # one name: picker and card agree
    assert not at.sidebar.error


def test_files_upload_is_named_from_its_config_and_clears_an_earlier_refusal() -> None:
    at = on_page("sliders")
    uploader(at).upload("model.pt", b"\x80\x04pickle", "application/octet-stream")
    at.run()
    assert any("pickle" in e.value for e in at.sidebar.error)
    # the refused file is no longer in the uploader: the next upload stands on its own
    up = uploader(at)
    assert not up.value
    src = BUNDLED / "mnist-mlp-2d"
    up.set_value([("config.json", (src / "config.json").read_bytes(), "application/json"),
                  ("model.safetensors", (src / "model.safetensors").read_bytes(),
                   "application/octet-stream")]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.sidebar.error, [e.value for e in at.sidebar.error]
    path = Path(at.session_state[MODEL_KEY])
    assert path.name == "mnist-mlp-2d"
    assert at.sidebar.selectbox(key=MODEL_KEY).format_func(str(path)) == \
        "mnist-mlp-2d (uploaded)"
    assert any("No metrics were saved" in c.value for c in at.sidebar.caption)


def test_download_zip_round_trips_to_equal_tensors(tmp_path: Path) -> None:
    at = on_page("home")
    assert at.sidebar.get("download_button"), "no download button in the sidebar"
    data = export_zip(BUNDLED / "mnist-mlp-2d")
    dest = tmp_path / "back"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == [f"mnist-mlp-2d/{f}" for f in
                                         ("config.json", "metrics.json", "model.safetensors",
                                          "replay.safetensors")]
    uploader(at).upload("mnist-mlp-2d.zip", data, "application/zip")
    at.run()
    assert not at.exception and not at.sidebar.error
    back = load_checkpoint(at.session_state[MODEL_KEY])
    orig = load_checkpoint(BUNDLED / "mnist-mlp-2d")
    assert back.name == "mnist-mlp-2d"
    for k, v in orig.model.state_dict().items():
        assert torch.equal(v, back.model.state_dict()[k]), k
    assert back.metrics == orig.metrics
    del dest


@pytest.mark.parametrize("page", ["home", "sliders", "manifold", "scatter", "reconstruct",
                                  "generate", "compare", "train"])
def test_conditional_model_gets_a_note_not_a_crash(page: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[MODEL_KEY] = str(BUNDLED / "mnist-cvae-2d")
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    noted = any("conditional VAE" in i.value for i in at.info)
    # Train only reads its config; the home page (and its tour), Latent sliders, Manifold,
    # Latent scatter, Reconstruct, Generate and Compare take a class (issues 17, 20).
    assert not noted
