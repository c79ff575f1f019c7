"""The commands that use a checkpoint (evaluate, reconstruct, sample, info, export), the
classifier's training, and `app`; each refuses a file it would replace unless --force.

`train` lives in cli_train.py, the parser in __main__.py.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .checkpoint import Checkpoint, check_output_dir, load_checkpoint, save_metrics
from .classifier import class_consistency, train_classifier
from .data import load_split
from .errors import NoEncoderError, VAEError
from .latent import compose_grid
from .metrics import eval_targets, evaluate_elbo, importance_sampled_nll, latent_stats
from .onnx_export import export_onnx
from .preprocess import preprocess_image
from .progress import Progress, progress_mode
from .resources import launch_app, resolve_checkpoint, user_models_dir

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
MAX_SAMPLES = 10_000
MAX_IS_SAMPLES = 100_000  # 10,000 test images x 100,000 samples is already days on a CPU
MAX_SCALE = 32


def _checkpoint(text: str) -> Checkpoint:
    """--checkpoint: a folder, a bundled model's name or one of the user's models (or a
    foreign ONNX model folder)."""
    return load_checkpoint(resolve_checkpoint(text))


def need_encoder(ck: Checkpoint, command: str) -> None:
    """Refuse (one line) a foreign model without encoder.onnx for a command that encodes."""
    if not ck.model.has_encoder:
        raise NoEncoderError(f"{ck.name} has no encoder (encoder.onnx): {command} encodes "
                             "images; sample and info work without one")


def need_torch(ck: Checkpoint, command: str) -> None:
    """Refuse (one line) a foreign ONNX model for a command that needs torch weights."""
    if ck.model.foreign:
        raise VAEError(f"{ck.name} is a foreign ONNX model: {command} needs a checkpoint "
                       "with torch weights (config.json + model.safetensors)")


# --- files written ------------------------------------------------------------------------
def check_new_file(path: str | Path, force: bool, suffixes: tuple[str, ...]) -> Path:
    """`--out` as a Path, refused (one line) for an unknown suffix, a folder, or an existing
    file without --force; checked before any model is loaded."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise VAEError(f"--out must end in {', '.join(suffixes[:-1])} or {suffixes[-1]}; got "
                       f"{p.name!r}")
    if p.is_dir():
        raise VAEError(f"--out {p} is a folder; give a file name")
    if p.exists() and not force:
        raise VAEError(f"{p} already exists; pass --force to replace it")
    return p


def write_file(p: Path, data: bytes, force: bool) -> None:
    """Write `data`; without `force` the file must not exist (checked again when opening)."""
    try:
        with open(p, "wb" if force else "xb") as f:
            f.write(data)
    except FileExistsError:
        raise VAEError(f"{p} already exists; pass --force to replace it") from None
    except OSError as e:
        raise VAEError(f"cannot write {p}: {e.strerror or e}") from e


def image_bytes(arr: np.ndarray, scale: int, suffix: str) -> bytes:
    """A grey [H, W] array in [0, 1] encoded in the format its file suffix names."""
    u8 = (np.clip(np.asarray(arr, np.float32), 0, 1) * 255).round().astype(np.uint8)
    img = Image.fromarray(u8, mode="L")
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    fmt = IMAGE_FORMATS[suffix.lower()]
    img.save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else
                                 {"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue()


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


# --- commands -----------------------------------------------------------------------------
def cmd_evaluate(a: argparse.Namespace) -> int:
    ck = _checkpoint(a.checkpoint)
    need_encoder(ck, "evaluate")
    binar = a.binarization or ck.train_config.binarize
    if a.save and (not a.is_samples or a.limit or binar != ck.train_config.binarize):
        raise VAEError("--save needs --is-samples, no --limit and the model's own "
                       "binarization, so that metrics.json stays comparable")
    if binar != "none" and ck.model_config.likelihood != "bernoulli":
        raise VAEError("binarized evaluation needs a Bernoulli decoder")
    if a.class_consistency and ck.train_config.dataset != "mnist":
        raise VAEError("--class-consistency needs an MNIST model: the classifier reads digits")
    # evaluate takes no --download: the hint offers only what this command accepts
    test = load_split(ck.train_config.dataset, False, a.data_dir, limit=a.limit,
                      download_hint=False)
    if a.limit and len(test) < a.limit:
        raise VAEError(f"--limit {a.limit:,} is more than the {len(test):,} test images")
    x = eval_targets(test.floats(), binar)
    y = None
    if ck.model_config.conditional:
        if len(test.classes) != ck.model_config.n_classes:
            raise VAEError(f"the model is conditioned on {ck.model_config.n_classes} classes, "
                           f"the test data has {len(test.classes)}")
        y = test.labels  # the conditional -ELBO: a bound on -log p(x|y)
    res: dict[str, Any] = {
        "checkpoint": str(ck.path), **evaluate_elbo(ck.model, x, y=y), "binarization": binar,
        "likelihood": ck.model_config.likelihood, "conditional": ck.model_config.conditional,
        "test_images": len(x)}
    mode = progress_mode(quiet=a.json)
    if a.class_consistency:
        with Progress("class consistency", mode) as p:
            res["class_consistency"] = class_consistency(ck.model, test.floats(), test.labels,
                                                         progress=p)
    if a.is_samples:
        with Progress(f"IS-NLL, {a.is_samples:,} samples per image", mode) as p:
            res["test_nll_is"] = importance_sampled_nll(ck.model, x, k=a.is_samples, y=y,
                                                        progress=p)
        res["is_samples"] = a.is_samples
        res.update(latent_stats(ck.model, x, y=y))
    if a.save:
        save_metrics(ck.path, {k: res[k] for k in ("test_nll_is", "is_samples",
                                                   "active_units", "kl_per_dim")})
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:>16}: {v:.3f}" if isinstance(v, float) else f"{k:>16}: {v}")
    return 0


def cmd_reconstruct(a: argparse.Namespace) -> int:
    out = check_new_file(a.out, a.force, tuple(IMAGE_FORMATS))
    ck = _checkpoint(a.checkpoint)
    need_encoder(ck, "reconstruct")
    label = parse_label(ck, a.label)
    if ck.model_config.conditional and label is None:
        raise VAEError("this model is conditional: give the image's class with --label")
    img = preprocess_image(a.image)
    with torch.no_grad():
        rec = ck.model.reconstruct(torch.from_numpy(img).view(1, 1, 28, 28), label)[0, 0].numpy()
    write_file(out, image_bytes(np.concatenate([img, rec], axis=1), a.scale, out.suffix),
               a.force)
    print(f"wrote {out}")
    return 0


def cmd_sample(a: argparse.Namespace) -> int:
    out = check_new_file(a.out, a.force, (*IMAGE_FORMATS, ".npy"))
    ck = _checkpoint(a.checkpoint)
    label, model, g = parse_label(ck, a.label), ck.model, torch.Generator().manual_seed(a.seed)
    nrow = math.ceil(math.sqrt(a.n))
    with torch.no_grad():
        if model.cfg.conditional and label is None:
            # The style grid: row r is one z drawn as every class, so image i has class i % K.
            k = model.cfg.n_classes
            z = torch.randn(math.ceil(a.n / k), model.cfg.latent_dim, generator=g)
            imgs = model.decode(z.repeat_interleave(k, 0)[:a.n], torch.arange(a.n) % k)
            nrow = k
        else:
            imgs = model.sample(a.n, g, y=label)
    if out.suffix.lower() == ".npy":
        data = npy_bytes(imgs[:, 0].numpy().astype(np.float32))
    else:
        data = image_bytes(compose_grid(imgs, nrow=nrow, pad=2).numpy(), a.scale, out.suffix)
    write_file(out, data, a.force)
    print(f"wrote {out}")
    return 0


def parse_label(ck: Checkpoint, text: str | None) -> int | None:
    """--label as a class index (given as the index or the class's name), checked against the
    model; None when not given."""
    if text is None:
        return None
    cfg = ck.model_config
    if not cfg.conditional:
        raise VAEError("--label needs a conditional model (trained with --conditional); "
                       f"{ck.name} is unconditional")
    names = ck.info.get("classes")
    names = [str(n) for n in names] if isinstance(names, list) else []
    if text.strip().lstrip("-").isdigit():
        k = int(text)
    elif text in names:
        k = names.index(text)
    else:
        known = f" or one of {', '.join(names[:12])}" if names else ""
        raise VAEError(f"--label must be a class index 0..{cfg.n_classes - 1}{known}, "
                       f"got {text!r}")
    if not 0 <= k < cfg.n_classes:
        raise VAEError(f"--label must be in 0..{cfg.n_classes - 1}, got {k}")
    return k


def cmd_info(a: argparse.Namespace) -> int:
    ck = _checkpoint(a.checkpoint)
    m = {k: v for k, v in ck.metrics.items() if k != "history"}
    if ck.model.foreign:  # no architecture or training of ours to show: what model.json says
        cfg, model = ck.model_config, ck.model
        info = {"checkpoint": str(ck.path), "format": "onnx", "foreign": True,
                "name": model.name, "latent_dim": cfg.latent_dim, "output": model.output,
                "conditional": cfg.conditional, "n_classes": model.n_labels,
                "class_names": model.class_names, "likelihood": cfg.likelihood,
                "dataset": ck.info["dataset"], "encoder": model.has_encoder,
                "metrics": m, "parameters": model.weight_count}
    else:
        info = {"checkpoint": str(ck.path), "model": ck.model_config.to_dict(),
                "train": ck.train_config.to_dict(), "metrics": m,
                "parameters": sum(p.numel() for p in ck.model.parameters())}
    print(json.dumps(info, indent=None if a.json else 2))
    return 0


def new_classifier_dir() -> Path:
    """A folder that does not exist yet under the user's models folder: the default of
    train-classifier, so the bundled classifier is never replaced by accident."""
    base = user_models_dir() / f"digit-classifier-{time.strftime('%Y%m%d-%H%M%S')}"
    p, i = base, 2
    while p.exists():
        p, i = base.with_name(f"{base.name}-{i}"), i + 1
    return p


def cmd_train_classifier(a: argparse.Namespace) -> int:
    out = Path(a.out) if a.out else new_classifier_dir()
    check_output_dir(out, force=a.force)
    train = load_split("mnist", True, a.data_dir, limit=a.limit, download_hint=False)
    test = load_split("mnist", False, a.data_dir, download_hint=False)
    with Progress("training", progress_mode(), unit="batch", every=None) as p:
        spec = train_classifier(train.floats(), train.labels, test.floats(), test.labels, out,
                                epochs=a.epochs, batch_size=a.batch_size, lr=a.lr,
                                augment=a.augment, seed=a.seed, log=p.write, progress=p)
    print(f"saved {out}: test accuracy {spec['test_accuracy']:.4f}")
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    check_output_dir(a.onnx, force=a.force)  # before the model is even loaded
    for f in export_onnx(_checkpoint(a.checkpoint), a.onnx, force=a.force):
        print(f"wrote {f}")
    return 0


def cmd_app(a: argparse.Namespace, streamlit_args: list[str]) -> int:
    return launch_app(streamlit_args)
