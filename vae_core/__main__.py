"""Command line for latent-explorer's VAE core (`latent-explorer ...` once installed).

Examples (MNIST is bundled; --data-dir or VAE_DATA_DIR points elsewhere; a --checkpoint is a
folder, a bundled model's name or the name of one of your models):
    python -m vae_core train --arch mlp --hidden 512 256 --latent-dim 2 --epochs 30 \\
        --out my-model
    python -m vae_core train --resume my-model --epochs 40
    python -m vae_core train --config my-model/config.json --latent-dim 8 --out my-model-8d
    python -m vae_core train --dataset fashion-mnist --download --out fashion
    python -m vae_core evaluate --checkpoint mnist-mlp-2d --json
    python -m vae_core evaluate --checkpoint mnist-mlp-2d --limit 500 --is-samples 100
    python -m vae_core reconstruct --checkpoint mnist-mlp-2d --image photo.jpg --out rec.png
    python -m vae_core sample --checkpoint mnist-mlp-2d --n 64 --out samples.jpg
    python -m vae_core sample --checkpoint mnist-cvae-2d --label 3 --n 200 --out threes.npy
    python -m vae_core info --checkpoint mnist-mlp-2d
    python -m vae_core export --checkpoint mnist-mlp-2d --onnx mnist-mlp-2d-onnx
    python -m vae_core train-classifier --epochs 1 --limit 5000
    python -m vae_core app --server.port 8502

Nothing is overwritten without --force. Every user error (missing data, bad path or flag,
unreadable image, bad checkpoint, a file in the way) exits with code 2 and one line on stderr.
See docs/cli.md.
"""

from __future__ import annotations

import argparse
import sys

from .cli_args import CLIParser, HelpFormatter, float_in, given, int_in, prog_name, sub_parser
from .cli_commands import (MAX_IS_SAMPLES, MAX_SAMPLES, MAX_SCALE, cmd_app, cmd_evaluate,
                           cmd_export, cmd_info, cmd_reconstruct, cmd_sample,
                           cmd_train_classifier)
from .cli_train import add_train_args, cmd_train
from .config import BINARIZE, ModelConfig, TrainConfig
from .errors import VAEError
from .provenance import package_version
from .schema import add_config_args

CHECKPOINT_HELP = "a checkpoint folder, a bundled model's name (e.g. mnist-mlp-2d) or the " \
    "name of one of your models"
FORCE_HELP = "replace --out if it exists"
SEED_MAX = 2**63 - 1


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (errors: one line, exit 2)."""
    p = CLIParser(prog=prog_name(), formatter_class=HelpFormatter,
                  description="Train, evaluate and use VAEs on digits. Nothing is overwritten "
                  "without --force; user errors exit with code 2 and one line.")
    p.add_argument("--version", action="version", version=f"latent-explorer {package_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=CLIParser,
                           metavar="COMMAND")

    tr = sub_parser(sub, "train", "train a model and write a checkpoint folder", tracked=True)
    tr.add_argument("--data-dir", metavar="DIR",
                    help="dataset folder (IDX .gz files or torchvision root; an image folder "
                    "for --dataset folder); default: $VAE_DATA_DIR, else the bundled MNIST "
                    "($VAE_FASHION_DIR, else Debian's dataset-fashion-mnist, for Fashion-MNIST; "
                    "$VAE_FOLDER_DIR for folder)")
    tr.add_argument("--download", action="store_true",
                    help="download MNIST or Fashion-MNIST with torchvision if missing (into "
                    "--data-dir, else the cache folder); fails in seconds when offline")
    add_config_args(tr, ModelConfig)
    add_config_args(tr, TrainConfig)
    add_train_args(tr)

    ev = sub_parser(sub, "evaluate", "test -ELBO (and IS-NLL) of a checkpoint")
    ev.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    ev.add_argument("--data-dir", metavar="DIR",
                    help="default: the dataset's setting ($VAE_DATA_DIR for MNIST), else its "
                    "default folder (the bundled test set for MNIST)")
    ev.add_argument("--is-samples", type=int_in(0, MAX_IS_SAMPLES), default=0, metavar="K",
                    help=f"importance samples per image for the NLL estimate, 0..{MAX_IS_SAMPLES:_}"
                    " (0 = skip; 5000 is the published protocol)")
    ev.add_argument("--limit", type=int_in(0, 10_000_000), default=0, metavar="N",
                    help="first N test images (0 = all; at most the test set's size)")
    ev.add_argument("--binarization", choices=BINARIZE,
                    help="score the test set grey ('none') or as one fixed Bernoulli draw "
                    "('static'/'dynamic'); default: as the model was trained")
    ev.add_argument("--class-consistency", action="store_true",
                    help="also report class_consistency: the share of test reconstructions the "
                    "bundled digit classifier reads as the input's label (MNIST models)")
    ev.add_argument("--json", action="store_true",
                    help="print one JSON object and nothing else (no progress)")
    ev.add_argument("--save", action="store_true",
                    help="also store the IS-NLL, KL per dimension and active units in the "
                    "checkpoint's metrics.json (needs --is-samples, the full test set and the "
                    "model's own binarization)")

    rc = sub_parser(sub, "reconstruct", "preprocess an image like MNIST and reconstruct it")
    rc.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    rc.add_argument("--image", required=True, help="a photo, scan or drawing of one digit")
    rc.add_argument("--out", required=True, help="image file (.png, .jpg, .jpeg, .webp): the "
                    "input (left) beside its reconstruction")
    rc.add_argument("--scale", type=int_in(1, MAX_SCALE), default=8,
                    help=f"enlarge the image by this factor, 1..{MAX_SCALE}")
    rc.add_argument("--label", help="the image's class (index or name); needed by, and only "
                    "accepted by, a conditional model")
    rc.add_argument("--force", action="store_true", help=FORCE_HELP)

    sa = sub_parser(sub, "sample", "decode samples from the prior")
    sa.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    sa.add_argument("--n", type=int_in(1, MAX_SAMPLES), default=64,
                    help=f"how many samples, 1..{MAX_SAMPLES:_}")
    sa.add_argument("--seed", type=int_in(0, SEED_MAX), default=0, help="random seed, >= 0")
    sa.add_argument("--out", required=True,
                    help="FILE.npy: the images as a float32 array [N, 28, 28] in [0, 1]; "
                    "FILE.png, .jpg, .jpeg or .webp: a grid of them")
    sa.add_argument("--scale", type=int_in(1, MAX_SCALE), default=2,
                    help=f"enlarge the grid by this factor, 1..{MAX_SCALE}")
    sa.add_argument("--label", help="conditional models: the class to draw (index or name); "
                    "without it each row is one style z drawn as every class in turn")
    sa.add_argument("--force", action="store_true", help=FORCE_HELP)

    tc = sub_parser(sub, "train-classifier", "train the reference digit classifier (MNIST)")
    tc.add_argument("--out", metavar="DIR", help="folder to write; default: a new folder "
                    "digit-classifier-DATE-TIME under your models folder (the bundled "
                    "classifier is never replaced)")
    tc.add_argument("--force", action="store_true", help="write into --out even if it holds "
                    "files")
    tc.add_argument("--data-dir", metavar="DIR",
                    help="MNIST folder; default: $VAE_DATA_DIR, else the bundled MNIST")
    tc.add_argument("--epochs", type=int_in(1, 1000), default=8, help="1..1000")
    tc.add_argument("--batch-size", type=int_in(1, 65_536), default=128, help="1..65_536")
    tc.add_argument("--lr", type=float_in(0, 1, lo_open=True), default=2e-3,
                    help="peak of the one-cycle schedule, (0, 1]")
    tc.add_argument("--augment", type=float_in(0, 2), default=1.0,
                    help="augmentation strength, 0..2 (0 = off; see vae_core.augment)")
    tc.add_argument("--seed", type=int_in(0, SEED_MAX), default=0, help=">= 0")
    tc.add_argument("--limit", type=int_in(0, 10_000_000), default=0, metavar="N",
                    help="first N training images (0 = all)")

    inf = sub_parser(sub, "info", "print a checkpoint's config and metrics")
    inf.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    inf.add_argument("--json", action="store_true", help="one line of JSON")

    ex = sub_parser(sub, "export", "export a checkpoint to ONNX (encoder.onnx, decoder.onnx)")
    ex.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    ex.add_argument("--onnx", required=True, metavar="DIR",
                    help="folder to write: new or empty, or any with --force")
    ex.add_argument("--force", action="store_true", help="write into --onnx even if it holds "
                    "files")

    sub_parser(sub, "app", "start the Streamlit app on the bundled models; any further "
               "arguments go to Streamlit (e.g. --server.port 8502)")
    return p


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "reconstruct": cmd_reconstruct,
            "sample": cmd_sample, "info": cmd_info, "train-classifier": cmd_train_classifier,
            "export": cmd_export, "app": cmd_app}


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (2 and one line on stderr for a user error)."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "app":  # only `app` passes arguments on (to Streamlit)
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "app":
            return cmd_app(args, rest)
        if args.command == "train":
            return cmd_train(args, given(args))
        return COMMANDS[args.command](args)
    except VAEError as e:
        msg = " ".join(str(e).split())  # one line, whatever the message held
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `info | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        kept = "; the last complete epoch is saved" if args.command == "train" else ""
        print(f"interrupted{kept}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
