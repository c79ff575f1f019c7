"""The `train` command: which configuration a run gets (flags, a run file, or the checkpoint it
resumes), where it may write, and the run itself.

Rules (docs/cli.md): a new run writes only to a folder that does not exist or is empty, unless
--force; `--resume DIR` continues DIR with its own model and data, and changes only the
schedule (epochs, lr, lr-decay, batch size) and the device; a flag that would change anything
else is refused, naming it. All of this is decided before any data is loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .checkpoint import check_output_dir, load_checkpoint
from .cli_commands import need_torch
from .config import RESUMABLE, ModelConfig, TrainConfig
from .data import load_split
from .errors import ConfigError, VAEError
from .loggers import make_loggers
from .progress import TrainProgress, progress_mode
from .replay import ReplayRecorder
from .resources import bundled_dir, resolve_checkpoint, user_models_dir
from .schema import config_fields
from .train import Trainer

MAX_RUN_FILE_BYTES = 1_000_000


def add_train_args(tr: argparse.ArgumentParser) -> None:
    """The flags of `train` besides the config fields (added by schema.add_config_args)."""
    tr.add_argument("--out", help="checkpoint folder to write: a new or empty folder, or any "
                    "with --force; default: the --resume folder")
    tr.add_argument("--resume", metavar="CHECKPOINT",
                    help="continue this checkpoint (a folder or a model name); only --epochs, "
                    "--lr, --lr-decay, --lr-schedule, --batch-size, --device and --precision "
                    "may change")
    tr.add_argument("--config", metavar="FILE",
                    help="start a new run from this JSON file (a checkpoint's config.json, or "
                    "{\"model\": {...}, \"train\": {...}}); flags given here override it")
    tr.add_argument("--force", action="store_true",
                    help="write into --out even if it holds files (a checkpoint is replaced)")
    tr.add_argument("--log-dir", metavar="DIR",
                    help="also log losses to DIR (CSV and TensorBoard)")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _show(v: Any) -> str:
    return " ".join(map(str, v)) if isinstance(v, list) else str(v)


def _explicit(a: argparse.Namespace, given: set[str], cls: type) -> dict[str, Any]:
    """The fields of `cls` whose flags were typed on the command line, with their values."""
    return {s.name: getattr(a, s.name) for s in config_fields(cls) if s.name in given}


def read_run_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model fields, train fields) of a run file: {"model": {...}, "train": {...}} (a
    checkpoint's config.json is one) or one flat object of both kinds of fields."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_RUN_FILE_BYTES:
            raise ConfigError(f"--config {p}: the file is too large for a run file")
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config {p}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"--config {p} is a folder; give its config.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ConfigError(f"--config {p} is not a JSON run file: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {p} must hold a JSON object")
    if isinstance(data.get("model"), dict):
        train = data.get("train") or {}
        if not isinstance(train, dict):
            raise ConfigError(f"--config {p}: 'train' must be an object")
        return dict(data["model"]), dict(train)
    mnames = {s.name for s in config_fields(ModelConfig)}
    tnames = {s.name for s in config_fields(TrainConfig)}
    unknown = sorted(set(data) - mnames - tnames)
    if unknown:
        raise ConfigError(f"--config {p}: unknown field(s) {', '.join(unknown[:5])}")
    return ({k: v for k, v in data.items() if k in mnames},
            {k: v for k, v in data.items() if k in tnames})


def _build(cls: type, fields: dict[str, Any], where: str) -> Any:
    try:
        return cls.from_dict(fields)
    except (ConfigError, TypeError) as e:
        raise ConfigError(f"{where}: {e}") from None


def run_configs(a: argparse.Namespace, given: set[str]
                ) -> tuple[ModelConfig, TrainConfig, Path | None]:
    """(model config, train config, resume folder) of this run, from the checkpoint it
    resumes, else a run file, else the flags; flags typed explicitly override a run file."""
    model_flags, train_flags = _explicit(a, given, ModelConfig), _explicit(a, given, TrainConfig)
    if a.resume:
        if a.config:
            raise ConfigError("--config starts a new run and --resume continues one: give one")
        resume = resolve_checkpoint(a.resume)
        ck = load_checkpoint(resume)
        need_torch(ck, "train --resume")
        old_m, old_t = ck.model_config.to_dict(), ck.train_config.to_dict()
        differ = [f"{_flag(k)} {_show(v)} (checkpoint: {_show(old_m[k])})"
                  for k, v in model_flags.items() if v != old_m[k]]
        differ += [f"{_flag(k)} {_show(v)} (checkpoint: {_show(old_t[k])})"
                   for k, v in train_flags.items() if k not in RESUMABLE and v != old_t[k]]
        if differ:
            raise ConfigError("--resume keeps the checkpoint's model and data, so these flags "
                              f"cannot change: {'; '.join(differ)}. Start a new run with "
                              "--config DIR/config.json and a new --out instead")
        tcfg = TrainConfig.from_dict({**old_t, **{k: v for k, v in train_flags.items()
                                                  if k in RESUMABLE}})
        done = int(ck.metrics.get("epochs") or 0)
        if done >= tcfg.epochs:
            raise ConfigError(f"{resume} already has {done} epochs; give --epochs N with N > "
                              f"{done} to train on")
        return ck.model_config, tcfg, resume
    if a.config:
        m, t = read_run_file(a.config)
        return (_build(ModelConfig, {**m, **model_flags}, f"--config {a.config}"),
                _build(TrainConfig, {**t, **train_flags}, f"--config {a.config}"), None)
    fields = {s.name: getattr(a, s.name) for s in config_fields(ModelConfig)}
    tfields = {s.name: getattr(a, s.name) for s in config_fields(TrainConfig)}
    return ModelConfig(**fields), TrainConfig(**tfields), None


def _is_bundled(path: Path) -> bool:
    """A model shipped with latent-explorer (not one of the user's)."""
    p = path.resolve()
    return p.parent == bundled_dir().resolve() and p != user_models_dir().resolve()


def output_dir(a: argparse.Namespace, resume: Path | None) -> Path:
    """Where the run writes; refuses (one line) a folder it must not write into."""
    if not (a.out or resume):
        raise VAEError("give --out DIR (or --resume DIR) for the checkpoint")
    out = Path(a.out) if a.out else resume
    assert out is not None
    if resume is not None and not a.force and _is_bundled(out):
        raise VAEError(f"{out} is a bundled model: write the continued run elsewhere with "
                       "--out DIR")
    check_output_dir(out, force=a.force, resume=resume)
    return out


def cmd_train(a: argparse.Namespace, given: set[str]) -> int:
    mcfg, tcfg, resume = run_configs(a, given)
    out = output_dir(a, resume)
    train = load_split(tcfg.dataset, True, a.data_dir, a.download, tcfg.limit)
    test = load_split(tcfg.dataset, False, a.data_dir, a.download)
    callbacks: list[Any] = [TrainProgress(progress_mode())]
    if a.log_dir:
        callbacks += make_loggers(a.log_dir)
    callbacks.append(ReplayRecorder())  # the replay sidecar beside the checkpoint
    trainer = Trainer(mcfg, tcfg, train, test, out, callbacks, resume=resume,
                      extra_config={"classes": train.classes}, overwrite=a.force)
    n_params = sum(p.numel() for p in trainer.model.parameters())
    if trainer.dist.is_main:
        if resume is not None and not trainer.optimizer_restored:
            print(f"note: {resume} has no optimizer state (e.g. a bundled model), so the "
                  "resumed run starts a fresh optimizer", file=sys.stderr)
        print(f"training {mcfg.arch} VAE ({n_params:,} parameters) on {len(train):,} images, "
              f"device {trainer.device}, {trainer.dist.world_size} process(es)", file=sys.stderr)
    m = trainer.run()
    if trainer.dist.is_main:
        print(f"saved {out}: test -ELBO {m['test_neg_elbo']:.2f} nats after {m['epochs']} "
              f"epochs ({m['train_seconds']:.0f}s)")
    return 0
