"""latent-explorer's VAE core: models, data, training, checkpoints, latent tools, metrics.

No Streamlit here: usable from a notebook, the CLI (`python -m vae_core`) or the app.
"""

from .archive import copy_checkpoint, export_zip, import_upload, is_checkpoint, weights_mtime
from .checkpoint import (Checkpoint, extract_zip, load_checkpoint, read_configs, safe_name,
                         save_checkpoint)
from .classifier import (CLASS_COLORS, CLASS_COLOURS, UPLOAD_MODEL_DIR, class_consistency,
                         classifier_version, classify, load_classifier, read_digit, read_grid,
                         tint_grid)
from .config import ModelConfig, TrainConfig
from .data import download_root, load_split
from .datasets import ENV_VARS, Split, class_names, missing_data_help
from .download import download_dataset
from .errors import (CheckpointError, ConfigError, DataNotFoundError, ExportError,
                     ImageError, NoEncoderError, TrainingBusy, TrainingDiverged, VAEError)
from .export import decode_with_spec, export_classifier, export_decoder, run_spec
from .codes import grid_values, interpolate_codes, plane_codes, traversal_codes
from .latent import compose_grid, decode_batch, encode_dataset, manifold, pca
from .loggers import CSVLogger, TensorBoardLogger, make_loggers
from .losses import kl_normal, kl_per_dim, recon_nll
from .metrics import (ACTIVE_THRESHOLD, EVAL_SEED, elbo_terms, eval_targets, evaluate_elbo,
                      importance_sampled_nll, latent_stats)
from .model import (VAE, Labels, VAEOutput, batch_labels, build_model, count_params,
                    one_hot_labels)
from .onnx_export import export_onnx
from .onnx_model import OnnxVAE, is_onnx_model
from .pad_data import class_mean_codes, pad_images_bytes, pad_points_bytes, payload_hash
from .notebook import explore
from .plane_maps import (HOLE_RATIO, MIXTURE_CODES, PRIOR_RADIUS, decoded_cost, grid_centres,
                         hole_gap, hole_map, hole_share, log_aggregate_posterior, log_prior,
                         mixture_subsample, pixel_cost, prior_holes, round_trip,
                         round_trip_field)
from .preprocess import preprocess_image, to_gray, to_mnist, to_png_bytes
from .provenance import git_commit, package_version, run_record
from .replay import (MAX_REPLAY_BYTES, REPLAY, Replay, ReplayRecorder, follow_set, has_replay,
                     load_replay, save_replay)
from .publish import MAX_PUBLISH_BYTES, content_hash, publish_checkpoint
from .resources import ENV_USER_MODELS_DIR, bundled_dir, load, root as app_root, user_models_dir
from .schema import (FieldSpec, add_config_args, config_fields, config_from_args,
                     format_ints, parse_ints)
from .train import Callback, Trainer, resolve_device
from .checkpoint import check_output_dir, write_safetensors
from .config import RESUMABLE, resume_config
from .model import as_images
from .training_slots import (ENV_MAX_TRAINING, ENV_TRAINING_CPUS, SlotHolder, TrainingSlot,
                             acquire_training_slot, max_training_runs, slot_holders,
                             widen_to_training_cpus)

__all__ = [
    "ACTIVE_THRESHOLD", "Callback", "Checkpoint", "CheckpointError", "ConfigError",
    "DataNotFoundError", "FieldSpec", "ImageError", "ModelConfig", "Split", "TrainConfig",
    "Trainer", "TrainingBusy", "TrainingDiverged", "VAE", "VAEError", "VAEOutput",
    "ENV_VARS", "add_config_args", "build_model", "class_names", "compose_grid", "config_fields",
    "config_from_args", "copy_checkpoint", "count_params", "decode_batch", "download_dataset",
    "download_root", "encode_dataset", "evaluate_elbo", "export_zip", "extract_zip",
    "format_ints", "grid_values", "import_upload", "importance_sampled_nll",
    "interpolate_codes", "is_checkpoint", "kl_normal", "latent_stats", "load_checkpoint",
    "load_split", "manifold", "missing_data_help", "parse_ints", "pca", "plane_codes",
    "preprocess_image", "read_configs", "recon_nll", "resolve_device", "safe_name",
    "save_checkpoint",
    "to_gray", "to_mnist", "to_png_bytes", "traversal_codes", "weights_mtime",
    "ExportError", "decode_with_spec", "export_classifier", "export_decoder", "run_spec",
    "CLASS_COLORS", "CLASS_COLOURS", "UPLOAD_MODEL_DIR", "class_consistency",
    "classifier_version", "classify", "load_classifier", "read_digit", "read_grid",
    "tint_grid",
    "Labels", "batch_labels", "one_hot_labels",
    "EVAL_SEED", "elbo_terms", "eval_targets", "kl_per_dim",
    "ENV_MAX_TRAINING", "ENV_TRAINING_CPUS", "SlotHolder", "TrainingSlot", "acquire_training_slot",
    "widen_to_training_cpus",
    "max_training_runs", "slot_holders",
    "MAX_REPLAY_BYTES", "REPLAY", "Replay", "ReplayRecorder", "follow_set", "has_replay",
    "load_replay", "save_replay",
    "HOLE_RATIO", "MIXTURE_CODES", "PRIOR_RADIUS", "decoded_cost", "grid_centres", "hole_gap",
    "hole_map", "hole_share", "prior_holes",
    "log_aggregate_posterior", "log_prior", "mixture_subsample", "pixel_cost", "round_trip",
    "round_trip_field",
    "ENV_USER_MODELS_DIR", "app_root", "bundled_dir", "load", "user_models_dir",
    "MAX_PUBLISH_BYTES", "content_hash", "publish_checkpoint",
    "CSVLogger", "TensorBoardLogger", "export_onnx", "make_loggers",
    "check_output_dir", "write_safetensors", "RESUMABLE", "resume_config", "as_images",
    "git_commit", "package_version", "run_record",
    "NoEncoderError", "OnnxVAE", "is_onnx_model",
    "class_mean_codes", "pad_images_bytes", "pad_points_bytes", "payload_hash", "explore",
]
