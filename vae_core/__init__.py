"""latent-explorer's VAE core: models, data, training, checkpoints, latent tools, metrics.

No Streamlit here: usable from a notebook, the CLI (`python -m vae_core`) or the app.
"""

from .archive import copy_checkpoint, export_zip, import_upload, is_checkpoint, weights_mtime
from .checkpoint import Checkpoint, extract_zip, load_checkpoint, safe_name, save_checkpoint
from .config import ModelConfig, TrainConfig
from .data import Split, class_names, download_dataset, load_split
from .errors import (CheckpointError, ConfigError, DataNotFoundError, ImageError,
                     TrainingBusy, TrainingDiverged, VAEError)
from .latent import (compose_grid, decode_batch, encode_dataset, grid_values, interpolate_codes,
                     manifold, pca, plane_codes, traversal_codes)
from .losses import kl_normal, recon_nll
from .metrics import ACTIVE_THRESHOLD, evaluate_elbo, importance_sampled_nll, latent_stats
from .model import VAE, VAEOutput, build_model, count_params
from .preprocess import preprocess_image, to_png_bytes
from .train import Callback, Trainer, resolve_device

__all__ = [
    "ACTIVE_THRESHOLD",
    "VAE", "Callback", "Checkpoint", "CheckpointError", "ConfigError", "DataNotFoundError",
    "ImageError", "ModelConfig", "Split", "TrainConfig", "Trainer", "TrainingBusy",
    "TrainingDiverged", "VAEError", "VAEOutput", "build_model", "class_names", "compose_grid",
    "copy_checkpoint", "count_params", "decode_batch", "download_dataset", "encode_dataset",
    "evaluate_elbo", "export_zip", "extract_zip", "grid_values", "import_upload",
    "importance_sampled_nll", "interpolate_codes", "is_checkpoint", "kl_normal", "latent_stats",
    "load_checkpoint", "load_split", "manifold", "pca", "plane_codes", "preprocess_image",
    "recon_nll", "resolve_device", "safe_name", "save_checkpoint", "to_png_bytes",
    "traversal_codes", "weights_mtime",
]
