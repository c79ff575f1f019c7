"""A checkpoint is a folder: `config.json` + `model.safetensors` + `metrics.json`
(+ `optimizer.safetensors` for resume). Loading rebuilds the model from the validated config,
then checks every tensor's name, shape, dtype and finiteness. Nothing is ever unpickled.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from .config import MAX_PARAMS, ModelConfig, TrainConfig, _short
from .errors import CheckpointError, ConfigError
from .model import VAE, build_model, count_params
from .onnx_checks import DECODER, MANIFEST, ONNX_FILES
from .onnx_model import load_foreign
from .provenance import versions

FORMAT = "latent-explorer/1"
CONFIG, WEIGHTS, METRICS, OPTIM = "config.json", "model.safetensors", "metrics.json", \
    "optimizer.safetensors"
REPLAY = "replay.safetensors"  # the training replay's sidecar (vae_core.replay)
CHECKPOINT_FILES = (CONFIG, WEIGHTS, METRICS, OPTIM, REPLAY, *ONNX_FILES)
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")
MAX_JSON_BYTES = 2_000_000
MAX_WEIGHTS_BYTES = 4 * 50_000_000 + 1_000_000  # 50 M float32 parameters plus header
MAX_ZIP_BYTES = 250_000_000
RESERVED_NAMES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                  *(f"lpt{i}" for i in range(10))}


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (eval mode) and everything saved beside it."""

    model: VAE
    model_config: ModelConfig
    train_config: TrainConfig
    metrics: dict[str, Any]
    path: Path
    info: dict[str, Any] = field(default_factory=dict)  # the rest of config.json

    @property
    def name(self) -> str:
        return self.path.name


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # atomic on POSIX: readers see the old or the new file, never half


def _atomic_json(path: Path, obj: Any) -> None:
    _atomic_write(path, json.dumps(obj, indent=2, allow_nan=False).encode())


def write_safetensors(path: str | Path, tensors: dict[str, torch.Tensor],
                      meta: dict[str, str] | None = None) -> None:
    """Write tensors to a safetensors file atomically, with the folder's usual permissions.

    safetensors' own save_file creates its file 0600 whatever the umask, which breaks a
    shared models folder; the bytes go through `_atomic_write` (umask-respecting) instead."""
    data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, meta)
    _atomic_write(Path(path), data)


def check_output_dir(path: str | Path, *, force: bool = False,
                     resume: str | Path | None = None) -> Path:
    """Where a new model may be written: `path` unless it is an existing file, or an existing
    non-empty folder (a checkpoint or anything else) that is neither the `resume` folder nor
    allowed by `force`. Raises CheckpointError (one line) before any work is done."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise CheckpointError(f"{p} is an existing file, not a folder; choose a new folder "
                              "for the model")
    if not p.is_dir() or force or not any(p.iterdir()):
        return p
    if resume is not None and p.resolve() == Path(resume).expanduser().resolve():
        return p
    what = "a model" if (p / CONFIG).is_file() or (p / WEIGHTS).is_file() else "files"
    raise CheckpointError(f"{p} already holds {what}; choose a new folder, or pass --force "
                          "to overwrite it")


def save_checkpoint(path: str | Path, model: VAE, train_cfg: TrainConfig,
                    metrics: dict[str, Any], optimizer: torch.optim.Optimizer | None = None,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write (or overwrite) a checkpoint folder, file by file atomically.

    Order matters for crash safety: weights and optimizer first, metrics.json last. The
    weights' metadata carries the epoch count and a copy of the metrics, so a process killed
    between two writes still leaves weights whose metrics are known (see `load_checkpoint`).
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    epochs = str(metrics.get("epochs", 0))
    config = {"format": FORMAT, "model": model.cfg.to_dict(), "train": train_cfg.to_dict(),
              "dataset": train_cfg.dataset, "versions": versions(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **(extra or {})}
    _atomic_json(path / CONFIG, config)
    write_safetensors(path / WEIGHTS, model.state_dict(),
                    {"epochs": epochs, "format": FORMAT, "metrics": json.dumps(metrics)})
    if optimizer is not None:
        tensors, meta = optimizer_to_tensors(optimizer)
        write_safetensors(path / OPTIM, tensors, {"epochs": epochs, **meta})
    _atomic_json(path / METRICS, metrics)
    return path


def save_metrics(path: str | Path, updates: dict[str, Any]) -> None:
    """Merge evaluation results into a checkpoint's metrics.json (atomically)."""
    file = Path(path) / METRICS
    metrics = _read_json(file) if file.exists() else {}
    if not isinstance(metrics, dict):
        raise CheckpointError("metrics.json must be a JSON object")
    _atomic_json(file, {**metrics, **updates})


def optimizer_to_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor],
                                                                dict[str, str]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, float]] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"state.{pid}.{k}"] = v
            else:
                scalars.setdefault(str(pid), {})[k] = float(v)
    return tensors, {"param_groups": json.dumps(sd["param_groups"]), "scalars": json.dumps(scalars)}


def load_optimizer_state(opt: torch.optim.Optimizer, path: str | Path) -> None:
    """Restore optimizer state saved by `save_checkpoint` (safetensors + JSON metadata)."""
    file = Path(path) / OPTIM
    try:
        with safe_open(str(file), "pt") as f:
            meta = f.metadata() or {}
            state: dict[int, dict[str, Any]] = {}
            for key in f.keys():
                _, pid, name = key.split(".", 2)
                state.setdefault(int(pid), {})[name] = f.get_tensor(key)
        for pid, d in json.loads(meta.get("scalars", "{}")).items():
            state.setdefault(int(pid), {}).update(d)
        groups = json.loads(meta["param_groups"])
        opt.load_state_dict({"state": state, "param_groups": groups})
    except (OSError, SafetensorError, KeyError, ValueError) as e:
        raise CheckpointError(f"cannot resume from {file}: {e}") from e


def _read_json(file: Path) -> Any:
    if not file.is_file():
        raise CheckpointError(f"{file.name} is missing in {file.parent}")
    if file.stat().st_size > MAX_JSON_BYTES:
        raise CheckpointError(f"{file.name} is too large ({file.stat().st_size:,} bytes)")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{file.name} is not valid JSON: {e}") from e
    except RecursionError as e:  # e.g. 100,000 nested brackets
        raise CheckpointError(f"{file.name} is not valid JSON: nested too deeply") from e


def read_configs(path: str | Path) -> tuple[ModelConfig, TrainConfig, dict[str, Any]]:
    """Parse and validate config.json without touching the weights."""
    cfg = _read_json(check_path(path) / CONFIG)
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model"), dict):
        raise CheckpointError("config.json has no 'model' object")
    try:
        mcfg = ModelConfig.from_dict(cfg["model"])
        tcfg = TrainConfig.from_dict(cfg.get("train") or {})
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"config.json is invalid: {e}") from e
    return mcfg, tcfg, cfg


def check_path(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(
            f"{p.name}: pickle-based PyTorch files are refused because loading them can run "
            "arbitrary code; use a checkpoint folder (config.json + model.safetensors)")
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {p}")
    if not p.is_dir():
        raise CheckpointError(f"a checkpoint is a folder with {CONFIG} and {WEIGHTS}: {p}")
    return p


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint folder safely; raises CheckpointError with a one-line reason.

    A foreign model folder (model.json + decoder.onnx, no config.json) loads as an OnnxVAE
    on the CPU whatever `device` says (vae_core.onnx_model)."""
    p = check_path(path)
    if not (p / CONFIG).exists() and any((p / f).exists() for f in ONNX_FILES):
        model, tcfg, info = load_foreign(p)
        return Checkpoint(model, model.cfg, tcfg, _read_metrics(p), p, info)
    mcfg, tcfg, info = read_configs(p)
    try:
        n_params = count_params(mcfg)
    except ConfigError as e:
        raise CheckpointError(f"config.json is invalid: {e}") from e
    if n_params > MAX_PARAMS:  # refused before build_model allocates anything
        raise CheckpointError(f"config.json describes a model with {n_params:,} parameters "
                              f"(limit {MAX_PARAMS:,})")
    wfile = p / WEIGHTS
    if not wfile.is_file():
        raise CheckpointError(f"{WEIGHTS} is missing in {p}")
    if wfile.stat().st_size > min(MAX_WEIGHTS_BYTES, 4 * n_params + 1_000_000):
        raise CheckpointError(f"{WEIGHTS} is larger than its config allows")
    model = build_model(mcfg)
    expected = model.state_dict()
    state = {}
    try:
        with safe_open(str(wfile), "pt") as f:
            wmeta = f.metadata() or {}
            names = set(f.keys())
            if names != set(expected):
                missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
                raise CheckpointError(f"weights do not match config.json (missing "
                                      f"{_short(missing[:3])}, unexpected {_short(extra[:3])})")
            for k in expected:
                sl = f.get_slice(k)
                shape, dtype = tuple(sl.get_shape()), sl.get_dtype()
                if shape != tuple(expected[k].shape) or dtype != "F32":
                    raise CheckpointError(f"tensor {k} is {dtype}{list(shape)}, config.json "
                                          f"needs F32{list(expected[k].shape)}")
                t = f.get_tensor(k)
                if not torch.isfinite(t).all():
                    raise CheckpointError(f"tensor {k} holds NaN or Inf values")
                state[k] = t
    except SafetensorError as e:
        raise CheckpointError(f"{WEIGHTS} is corrupt: {e}") from e
    except OSError as e:
        raise CheckpointError(f"cannot read {wfile}: {e}") from e
    model.load_state_dict(state)
    model.to(device).eval().requires_grad_(False)
    return Checkpoint(model, mcfg, tcfg, _matching_metrics(_read_metrics(p), wmeta), p, info)


def _read_metrics(p: Path) -> dict[str, Any]:
    metrics = _read_json(p / METRICS) if (p / METRICS).exists() else {}
    if not isinstance(metrics, dict):
        raise CheckpointError("metrics.json must be a JSON object")
    return metrics


def _matching_metrics(metrics: dict[str, Any], wmeta: dict[str, str]) -> dict[str, Any]:
    """metrics.json, unless it describes another epoch than the weights do.

    That happens only when training was killed between writing the weights and metrics.json;
    the copy of the metrics stored with the weights then belongs to them (a resume continues
    from the right epoch with the right loss history).
    """
    epochs = wmeta.get("epochs")
    if epochs is None or "epochs" not in metrics or str(metrics["epochs"]) == epochs:
        return metrics  # nothing to compare (metrics.json is optional) or they agree
    try:
        embedded = json.loads(wmeta.get("metrics", ""))
    except (json.JSONDecodeError, RecursionError):
        embedded = None
    if not isinstance(embedded, dict) or str(embedded.get("epochs", 0)) != epochs:
        raise CheckpointError(f"{WEIGHTS} holds epoch {epochs} but {METRICS} describes epoch "
                              f"{metrics['epochs']}; the checkpoint is inconsistent")
    return {**embedded, "recovered_from_weights": True}


def safe_name(name: str) -> str:
    """Validate a user-chosen model name: letters, digits, '-', '_', '.', no path tricks."""
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name) or ".." in name:
        raise CheckpointError("a model name is 1-64 letters, digits, '-', '_' or '.', starting "
                              "with a letter or digit, without '..' or slashes")
    if name.split(".")[0].lower() in RESERVED_NAMES:
        raise CheckpointError(f"{name!r} is a reserved name")
    return name


def extract_zip(data: bytes, dest: str | Path) -> Path:
    """Unpack an uploaded checkpoint zip into `dest`, refusing anything but the known files.

    A checkpoint needs config.json + model.safetensors, a foreign model model.json +
    decoder.onnx (+ encoder.onnx). Entries may sit at the top or inside one folder; any
    other path, a path that escapes,
    a pickle, or more than MAX_ZIP_BYTES uncompressed is refused before anything is written.
    """
    if len(data) > MAX_ZIP_BYTES:
        raise CheckpointError("zip file is too large")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"not a valid zip file: {e}") from e
    chosen: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        parts = Path(info.filename.replace("\\", "/")).parts
        if info.filename.startswith("/") or ".." in parts or len(parts) > 2:
            raise CheckpointError(f"zip entry {info.filename!r} is outside the checkpoint folder")
        base = parts[-1]
        if base.startswith(".") or base == "__MACOSX" or parts[0] == "__MACOSX":
            continue
        if base.lower().endswith(PICKLE_SUFFIXES):
            raise CheckpointError(f"zip holds a pickle file ({base}); only safetensors, ONNX "
                                  "and JSON are accepted because pickles can run code when "
                                  "loaded")
        if base not in CHECKPOINT_FILES:
            raise CheckpointError(f"unexpected file {info.filename!r} in zip; expected "
                                  f"{', '.join(CHECKPOINT_FILES)}")
        if base in chosen:
            raise CheckpointError(f"zip holds {base} twice")
        chosen[base] = info
    if sum(i.file_size for i in chosen.values()) > MAX_ZIP_BYTES:
        raise CheckpointError("zip contents are too large when unpacked")
    foreign = CONFIG not in chosen and any(f in chosen for f in ONNX_FILES)
    for need in (MANIFEST, DECODER) if foreign else (CONFIG, WEIGHTS):
        if need not in chosen:
            raise CheckpointError(f"zip has no {need}")
    blobs: dict[str, bytes] = {}
    for base, info in chosen.items():  # read (and CRC-check) everything before writing
        try:
            with zf.open(info) as src:
                blob = src.read(MAX_ZIP_BYTES + 1)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError,
                NotImplementedError, ValueError) as e:  # bad CRC, bad deflate data, encrypted
            raise CheckpointError(f"{base} in the zip is corrupt or unreadable: {e}") from e
        if len(blob) > info.file_size or len(blob) > MAX_ZIP_BYTES:
            raise CheckpointError(f"{base} is larger than the zip says")
        blobs[base] = blob
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for base, blob in blobs.items():
        _atomic_write(dest / base, blob)
    return dest


def is_finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)
