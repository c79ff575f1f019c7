"""How much of the prior's mass lies in holes, for every bundled 2-D model: the share of the
hole map's cells within |z| <= 3.5 where the prior N(0, I) is over 10x denser than the
aggregate posterior of the 10,000 MNIST test codes (the app's hole-map layer, on the square
[-3.5, 3.5]^2 cut in 48 x 48 cells).

    python -m bench.holes                # writes bench/results/holes.json

A conditional model's codes are encoded under their own labels (style codes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ui.plane_layers import HOLE_CELLS
from vae_core import (HOLE_RATIO, PRIOR_RADIUS, encode_dataset, hole_map, hole_share,
                      load_checkpoint, load_split)

ROOT = Path(__file__).resolve().parents[1]


def plane_models() -> list[Path]:
    """The bundled MNIST checkpoints with a 2-D latent."""
    out = []
    for p in sorted((ROOT / "checkpoints").iterdir()):
        cfg = p / "config.json"
        if cfg.is_file():
            c = json.loads(cfg.read_text())
            if c.get("dataset") == "mnist" and c.get("model", {}).get("latent_dim") == 2:
                out.append(p)
    return out


def share(folder: Path, x: torch.Tensor, labels: torch.Tensor) -> float:
    """The model's hole share within |z| <= PRIOR_RADIUS (0..1)."""
    ck = load_checkpoint(folder)
    y = labels if ck.model_config.conditional else None
    with torch.no_grad():
        mu, logvar = encode_dataset(ck.model, x, y=y)
    return hole_share(hole_map(mu, logvar, HOLE_CELLS, PRIOR_RADIUS, radius=PRIOR_RADIUS))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "holes.json"))
    a = ap.parse_args(argv)
    test = load_split("mnist", train=False)
    x = test.floats()
    rows = {}
    for folder in plane_models():
        t = time.perf_counter()
        rows[folder.name] = round(share(folder, x, test.labels), 4)
        print(f"{folder.name}: {100 * rows[folder.name]:.1f}% of the plane within "
              f"|z| <= {PRIOR_RADIUS} is a hole ({time.perf_counter() - t:.1f} s)")
    result = {"hole_share": rows, "radius": PRIOR_RADIUS, "cells": HOLE_CELLS,
              "ratio": HOLE_RATIO, "test_images": len(x)}
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
