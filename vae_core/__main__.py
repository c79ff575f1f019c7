"""Command line for latent-explorer's VAE core.

Examples (MNIST is bundled in data/mnist; --data-dir or VAE_DATA_DIR points elsewhere):
    python -m vae_core train --arch mlp --hidden 512 256 --latent-dim 2 --epochs 30 \\
        --out checkpoints/my-model
    python -m vae_core train --resume checkpoints/my-model --epochs 40
    python -m vae_core train --dataset fashion-mnist --download --out checkpoints/fashion
    python -m vae_core evaluate --checkpoint checkpoints/mnist-mlp-2d --json
    python -m vae_core reconstruct --checkpoint checkpoints/mnist-mlp-2d --image photo.jpg \\
        --out rec.png
    python -m vae_core sample --checkpoint checkpoints/mnist-mlp-2d --n 64 --out samples.png
    python -m vae_core train --conditional --hidden 512 256 --latent-dim 2 --out checkpoints/cvae
    python -m vae_core sample --checkpoint checkpoints/mnist-cvae-2d --label 3 --n 200 \
        --out threes.npy
    python -m vae_core info --checkpoint checkpoints/mnist-mlp-2d

Every user error (missing data, bad path, unreadable image, bad checkpoint) exits with code 2
and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from .checkpoint import Checkpoint, load_checkpoint, read_configs, save_metrics
from .classifier import DEFAULT_DIR as DEFAULT_CLASSIFIER_DIR
from .classifier import class_consistency, train_classifier
from .config import BINARIZE, ModelConfig, TrainConfig
from .data import load_split
from .errors import VAEError
from .latent import compose_grid
from .metrics import eval_targets, evaluate_elbo, importance_sampled_nll, latent_stats
from .preprocess import preprocess_image, to_png_bytes
from .schema import add_config_args, config_from_args
from .train import Trainer, TqdmCallback


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, like every other user error
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = _Parser(prog="python -m vae_core", description="Train, evaluate and use VAEs on digits.",
                formatter_class=fmt)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    tr = sub.add_parser("train", help="train a model and write a checkpoint folder",
                        formatter_class=fmt)
    tr.add_argument("--data-dir", help="dataset folder (IDX .gz files or torchvision root; "
                    "an image folder for --dataset folder); default: $VAE_DATA_DIR, else the "
                    "MNIST bundled in data/mnist ($VAE_FASHION_DIR, else Debian's "
                    "dataset-fashion-mnist, for Fashion-MNIST; $VAE_FOLDER_DIR for folder)")
    tr.add_argument("--download", action="store_true",
                    help="download MNIST or Fashion-MNIST with torchvision if missing (into "
                    "--data-dir, else the cache folder); fails in seconds when offline")
    add_config_args(tr, ModelConfig)
    add_config_args(tr, TrainConfig)
    tr.add_argument("--out", help="checkpoint folder to write (default: the --resume folder)")
    tr.add_argument("--resume", help="continue training from this checkpoint folder")

    ev = sub.add_parser("evaluate", help="test -ELBO (and IS-NLL) of a checkpoint",
                        formatter_class=fmt)
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--data-dir", help="default: the dataset's setting ($VAE_DATA_DIR for "
                    "MNIST), else its default folder (data/mnist for MNIST)")
    ev.add_argument("--is-samples", type=int, default=0,
                    help="importance samples for the NLL estimate (0 = skip)")
    ev.add_argument("--limit", type=int, default=0, help="first N test images (0 = all)")
    ev.add_argument("--binarization", choices=BINARIZE,
                    help="score the test set grey ('none') or as one fixed Bernoulli draw "
                    "('static'/'dynamic'); default: as the model was trained")
    ev.add_argument("--class-consistency", action="store_true",
                    help="also report class_consistency: the share of test reconstructions the "
                    "bundled digit classifier reads as the input's label (MNIST models)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--save", action="store_true",
                    help="also store the IS-NLL, KL per dimension and active units in the "
                    "checkpoint's metrics.json (needs --is-samples, the full test set and the "
                    "model's own binarization)")

    rc = sub.add_parser("reconstruct", help="preprocess an image like MNIST and reconstruct it",
                        formatter_class=fmt)
    rc.add_argument("--checkpoint", required=True)
    rc.add_argument("--image", required=True)
    rc.add_argument("--out", required=True, help="PNG: input (left) beside reconstruction")
    rc.add_argument("--scale", type=int, default=8, help="enlarge the PNG by this factor")
    rc.add_argument("--label", help="the image's class (index or name); needed by, and only "
                    "accepted by, a conditional model")

    sa = sub.add_parser("sample", help="decode samples from the prior", formatter_class=fmt)
    sa.add_argument("--checkpoint", required=True)
    sa.add_argument("--n", type=int, default=64)
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--out", required=True,
                    help="FILE.npy: the images as a float32 array [N, 28, 28] in [0, 1]; any "
                    "other name: a PNG grid")
    sa.add_argument("--scale", type=int, default=2)
    sa.add_argument("--label", help="conditional models: the class to draw (index or name); "
                    "without it each row is one style z drawn as every class in turn")

    tc = sub.add_parser("train-classifier", help="train the reference digit classifier (MNIST)",
                        formatter_class=fmt)
    tc.add_argument("--out", default=str(DEFAULT_CLASSIFIER_DIR), help="folder to write")
    tc.add_argument("--data-dir", help="MNIST folder; default: $VAE_DATA_DIR, else data/mnist")
    tc.add_argument("--epochs", type=int, default=8)
    tc.add_argument("--batch-size", type=int, default=128)
    tc.add_argument("--lr", type=float, default=2e-3, help="peak of the one-cycle schedule")
    tc.add_argument("--augment", type=float, default=1.0,
                    help="augmentation strength (0 = off; see vae_core.augment)")
    tc.add_argument("--seed", type=int, default=0)
    tc.add_argument("--limit", type=int, default=0, help="first N training images (0 = all)")

    inf = sub.add_parser("info", help="print a checkpoint's config and metrics",
                         formatter_class=fmt)
    inf.add_argument("--checkpoint", required=True)
    inf.add_argument("--json", action="store_true")
    return p


def cmd_train(a: argparse.Namespace) -> int:
    if a.resume:
        mcfg, old_t, _ = read_configs(a.resume)
        tcfg = TrainConfig.from_dict({**old_t.to_dict(), "epochs": a.epochs})
    else:
        mcfg = config_from_args(ModelConfig, a)
        tcfg = config_from_args(TrainConfig, a)
    out = a.out or a.resume
    if not out:
        raise VAEError("give --out DIR (or --resume DIR) for the checkpoint")
    train = load_split(tcfg.dataset, True, a.data_dir, a.download, tcfg.limit)
    test = load_split(tcfg.dataset, False, a.data_dir, a.download)
    trainer = Trainer(mcfg, tcfg, train, test, out, [TqdmCallback()], resume=a.resume,
                      extra_config={"classes": train.classes})
    n_params = sum(p.numel() for p in trainer.model.parameters())
    if trainer.dist.is_main:
        print(f"training {mcfg.arch} VAE ({n_params:,} parameters) on {len(train):,} images, "
              f"device {trainer.device}, {trainer.dist.world_size} process(es)", file=sys.stderr)
    m = trainer.run()
    if trainer.dist.is_main:
        print(f"saved {out}: test -ELBO {m['test_neg_elbo']:.2f} nats after {m['epochs']} "
              f"epochs ({m['train_seconds']:.0f}s)")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    ck = load_checkpoint(a.checkpoint)
    test = load_split(ck.train_config.dataset, False, a.data_dir, limit=a.limit)
    binar = a.binarization or ck.train_config.binarize
    if binar != "none" and ck.model_config.likelihood != "bernoulli":
        raise VAEError("binarized evaluation needs a Bernoulli decoder")
    x = eval_targets(test.floats(), binar)
    y = None
    if ck.model_config.conditional:
        if len(test.classes) != ck.model_config.n_classes:
            raise VAEError(f"the model is conditioned on {ck.model_config.n_classes} classes, "
                           f"the test data has {len(test.classes)}")
        y = test.labels  # the conditional -ELBO: a bound on -log p(x|y)
    res = {"checkpoint": str(ck.path), **evaluate_elbo(ck.model, x, y=y),
           "binarization": binar, "likelihood": ck.model_config.likelihood,
           "conditional": ck.model_config.conditional, "test_images": len(x)}
    if a.class_consistency:
        if ck.train_config.dataset != "mnist":
            raise VAEError("--class-consistency needs an MNIST model: the classifier reads "
                           "digits")
        res["class_consistency"] = class_consistency(ck.model, test.floats(), test.labels)
    if a.is_samples:
        res["test_nll_is"] = importance_sampled_nll(ck.model, x, k=a.is_samples, y=y)
        res["is_samples"] = a.is_samples
        res.update(latent_stats(ck.model, x, y=y))
    if a.save:
        if not a.is_samples or a.limit or binar != ck.train_config.binarize:
            raise VAEError("--save needs --is-samples, no --limit and the model's own "
                           "binarization, so that metrics.json stays comparable")
        save_metrics(ck.path, {k: res[k] for k in ("test_nll_is", "is_samples",
                                                   "active_units", "kl_per_dim")})
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:>16}: {v:.3f}" if isinstance(v, float) else f"{k:>16}: {v}")
    return 0


def cmd_reconstruct(a: argparse.Namespace) -> int:
    ck = load_checkpoint(a.checkpoint)
    label = _label(ck, a.label)
    if ck.model_config.conditional and label is None:
        raise VAEError("this model is conditional: give the image's class with --label")
    img = preprocess_image(a.image)
    with torch.no_grad():
        rec = ck.model.reconstruct(torch.from_numpy(img).view(1, 1, 28, 28), label)[0, 0].numpy()
    _write_png(a.out, np.concatenate([img, rec], axis=1), a.scale)
    print(f"wrote {a.out}")
    return 0


def cmd_train_classifier(a: argparse.Namespace) -> int:
    train = load_split("mnist", True, a.data_dir, limit=a.limit)
    test = load_split("mnist", False, a.data_dir)
    spec = train_classifier(train.floats(), train.labels, test.floats(), test.labels, a.out,
                            epochs=a.epochs, batch_size=a.batch_size, lr=a.lr,
                            augment=a.augment, seed=a.seed,
                            log=lambda m: print(m, file=sys.stderr))
    print(f"saved {a.out}: test accuracy {spec['test_accuracy']:.4f}")
    return 0


def cmd_sample(a: argparse.Namespace) -> int:
    if not 1 <= a.n <= 10_000:
        raise VAEError("--n must be in 1..10000")
    ck = load_checkpoint(a.checkpoint)
    label, model, g = _label(ck, a.label), ck.model, torch.Generator().manual_seed(a.seed)
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
    if a.out.lower().endswith(".npy"):
        _write_npy(a.out, imgs[:, 0].numpy().astype(np.float32))
    else:
        _write_png(a.out, compose_grid(imgs, nrow=nrow, pad=2).numpy(), a.scale)
    print(f"wrote {a.out}")
    return 0


def _label(ck: Checkpoint, text: str | None) -> int | None:
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
    ck = load_checkpoint(a.checkpoint)
    m = {k: v for k, v in ck.metrics.items() if k != "history"}
    info = {"checkpoint": str(ck.path), "model": ck.model_config.to_dict(),
            "train": ck.train_config.to_dict(), "metrics": m,
            "parameters": sum(p.numel() for p in ck.model.parameters())}
    print(json.dumps(info, indent=None if a.json else 2))
    return 0


def _write_npy(path: str, arr: np.ndarray) -> None:
    try:
        with open(path, "wb") as f:
            np.save(f, arr, allow_pickle=False)
    except OSError as e:
        raise VAEError(f"cannot write {path}: {e.strerror or e}") from e


def _write_png(path: str, arr: np.ndarray, scale: int) -> None:
    try:
        Path(path).write_bytes(to_png_bytes(arr, max(1, min(scale, 32))))
    except OSError as e:
        raise VAEError(f"cannot write {path}: {e.strerror or e}") from e


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "reconstruct": cmd_reconstruct,
            "sample": cmd_sample, "info": cmd_info,
            "train-classifier": cmd_train_classifier}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except VAEError as e:
        msg = " ".join(str(e).split())  # one line, whatever the message held
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `info | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted; the last complete epoch is saved", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
