"""Models this project did not train, brought as ONNX graphs (tests/foreign_models.py), on
every page: with an encoder every view works; without one, the pages that encode say so in one
line and the decoder's views still work."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest_helpers import run_page
from foreign_models import write_foreign

from ui.latent_pad import unavailable
from ui.state import get_model

NO_ENCODER = "has no encoder"


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A user-models folder with three foreign models: a 2-D MLP with an encoder, a 2-D conv
    decoder alone, and a 5-D MLP decoder alone (the >2-D branches)."""
    root = tmp_path_factory.mktemp("foreign-models")
    return {"mlp": str(write_foreign(root / "their-mlp", "mlp", 2)),
            "conv": str(write_foreign(root / "their-conv", "conv", 2, encoder=False,
                                      output="probabilities")),
            "mlp5": str(write_foreign(root / "their-mlp5", "mlp", 5, encoder=False)),
            "odd": str(write_foreign(root / "their-hardswish", "hardswish", 2))}


@pytest.fixture
def models_dir(foreign: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(Path(foreign["mlp"]).parent))
    return foreign


def infos(at) -> list[str]:
    return [i.value for i in at.info]


def sidebar_text(at) -> str:
    return " ".join(m.value for m in at.sidebar.markdown)


@pytest.mark.parametrize("page", ["sliders", "manifold", "scatter", "reconstruct", "generate",
                                  "home"])
def test_every_page_works_on_a_foreign_model_with_an_encoder(models_dir, page):
    at = run_page(f"pages/{page}.py", models_dir["mlp"])
    assert not at.exception, [e.value for e in at.exception]
    assert not [i for i in infos(at) if NO_ENCODER in i]
    assert "their-mlp** · ONNX (decoder + encoder) · z=2" in sidebar_text(at)


def test_the_pad_decodes_a_foreign_model_in_the_browser(models_dir):
    for name in ("mlp", "conv", "mlp5"):
        assert unavailable(get_model(models_dir[name])) is None, name
    at = run_page("pages/sliders.py", models_dir["mlp"])
    assert not [c for c in at.caption if "Decoded on the server" in c.value]


@pytest.mark.parametrize("page", ["scatter", "reconstruct", "home"])
def test_pages_that_encode_say_so_in_one_line_without_an_encoder(models_dir, page):
    at = run_page(f"pages/{page}.py", models_dir["conv"])
    assert not at.exception, [e.value for e in at.exception]
    said = [i for i in infos(at) if NO_ENCODER in i]
    assert len(said) == 1, infos(at)
    assert "their-conv" in said[0] and "encoder.onnx" in said[0]
    assert "ONNX (decoder only)" in sidebar_text(at)


@pytest.mark.parametrize("model", ["conv", "mlp5"])
@pytest.mark.parametrize("page", ["sliders", "manifold", "generate"])
def test_decoder_pages_work_without_an_encoder(models_dir, page, model):
    at = run_page(f"pages/{page}.py", models_dir[model])
    assert not at.exception, [e.value for e in at.exception]
    if page == "generate":  # its posterior and interpolation tabs say so, the rest draws
        assert len([i for i in infos(at) if NO_ENCODER in i]) == 2
        assert at.image, "no prior samples"
    if page == "sliders":
        button = next(b for b in at.button if b.key == "sl_from_digit")
        assert button.disabled


def test_a_decoder_with_an_op_the_pad_lacks_runs_on_the_server_and_says_why(models_dir):
    ck = get_model(models_dir["odd"])
    why = unavailable(ck)
    assert why is not None and "HardSwish" in why, why
    at = run_page("pages/sliders.py", models_dir["odd"])
    assert not at.exception, [e.value for e in at.exception]
    said = [c.value for c in at.caption if "Decoded on the server" in c.value]
    assert len(said) == 1 and "HardSwish" in said[0], said
    assert at.image, "the server's decoded image is missing"
