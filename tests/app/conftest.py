"""Fixtures shared by the AppTest files: a user-models folder (empty, or holding an untrained
4-D model or 16-D conv model), and a recorder of the media files a page serves."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from ui.state import ENV_USER_DIR
from vae_core import ModelConfig, TrainConfig, build_model, save_checkpoint


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """file id -> bytes of every media file the app registers during the test."""
    seen: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        if isinstance(path_or_data, bytes):
            seen[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return seen


@pytest.fixture
def user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "user-models"
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(d))
    return d


@pytest.fixture
def tiny4(user_models: Path) -> str:
    """An untrained 4-D latent model saved as a user model (exercises the >2-D branches)."""
    torch.manual_seed(0)
    cfg = ModelConfig(latent_dim=4, hidden=[32])
    path = user_models / "tiny4"
    save_checkpoint(path, build_model(cfg), TrainConfig(epochs=1), {"epochs": 0})
    return str(path)


@pytest.fixture
def empty_user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def conv16_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user-models folder holding one untrained conv model with a 16-D latent."""
    root = tmp_path_factory.mktemp("user-models")
    torch.manual_seed(0)
    cfg = ModelConfig(arch="conv", latent_dim=16, channels=[8, 16])
    save_checkpoint(root / "conv16", build_model(cfg), TrainConfig(epochs=1, binarize="dynamic"),
                    {"epochs": 0, "test_neg_elbo": 543.0, "test_recon": 540.0, "test_kl": 3.0})
    return root


@pytest.fixture
def with_user_models(conv16_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """conv16_models as the user-models folder."""
    monkeypatch.setenv(ENV_USER_DIR, str(conv16_models))
    return conv16_models
