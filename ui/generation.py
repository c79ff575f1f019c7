"""What the Generate page decodes: prior samples (one row per class for a conditional model),
interpolation paths between two codes, and traversals, each under the labels a conditional
model needs (None for an unconditional one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from ui import figures, inference, readings
from ui.latent_view import test_code_plane
from vae_core import Checkpoint, ImageError, interpolate_codes, preprocess_image, traversal_codes

METHODS = ("linear", "slerp")


def prior_by_class(ck: Checkpoint, n: int, seed: int) -> np.ndarray:
    """n prior samples of every class [K * n, 28, 28], class by class. One seed draws the
    codes, so column j holds the same style z in every row."""
    return np.concatenate([inference.prior_samples(ck, n, seed, y=k)
                           for k in range(ck.model_config.n_classes)])


def path_labels(ck: Checkpoint, steps: int, chosen: int | None,
                ends: Sequence[int]) -> torch.Tensor | int | None:
    """Labels to decode an interpolation under: None (unconditional), the chosen class, or,
    with no class chosen, one-hot rows blended from the first end's class to the second's."""
    if not ck.model_config.conditional:
        return None
    if chosen is not None:
        return chosen
    eye = torch.eye(ck.model_config.n_classes)
    t = torch.linspace(0, 1, steps)[:, None]
    return (1 - t) * eye[ends[0]] + t * eye[ends[1]]


def interpolation(ck: Checkpoint, z0: np.ndarray, z1: np.ndarray, steps: int,
                  y: torch.Tensor | int | None = None
                  ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(codes [steps, Z], decoded frames [steps, 28, 28]) per method, linear and slerp."""
    a, b = torch.as_tensor(z0), torch.as_tensor(z1)
    paths = {m: interpolate_codes(a, b, steps, m).numpy() for m in METHODS}
    return paths, {m: inference.decode(ck, p, y=y) for m, p in paths.items()}


def traversal(ck: Checkpoint, steps: int, lim: float, base: np.ndarray | None,
              dims: Sequence[int], dim_names: Sequence[str], y: int | None = None
              ) -> tuple[np.ndarray, list[str], list[str]]:
    """(images [len(dims) * steps, 28, 28], row labels, column labels): row d moves z_d from
    -lim to +lim around `base` (zero when None; else the labels say Δ), every other
    dimension held."""
    z_dim = ck.model_config.latent_dim
    codes = traversal_codes(z_dim, steps, lim, None if base is None else torch.from_numpy(base))
    codes = codes.view(z_dim, steps, z_dim)[list(dims)].reshape(-1, z_dim)
    prefix = "" if base is None else "Δ"
    # Short row labels ("z7 · inactive"): the grid leaves ~110 px for them.
    return (inference.decode(ck, codes, y=y), [dim_names[d].split(" (")[0] for d in dims],
            [f"{prefix}{v:+.1f}" for v in np.linspace(-lim, lim, steps)])


def uploaded_ends(ck: Checkpoint, files: Sequence[Any], chosen: int | None
                  ) -> tuple[list[np.ndarray], list[str], list[int | None], list[str]]:
    """(codes [Z], names, labels, refusals) of the uploaded end points that preprocess. A
    conditional model encodes each under the class the digit classifier reads there (MNIST),
    else under the chosen class (or the first)."""
    codes, names, ys, errors = [], [], [], []
    for f in files:
        if f is None:
            continue
        try:
            img = preprocess_image(f.getvalue())
        except ImageError as e:
            errors.append(f"Cannot use {f.name!r}: {e}")
            continue
        y = None
        if ck.model_config.conditional:
            read = readings.reading(img) if readings.digit_model(ck) else None
            y = read[0] if read is not None else (chosen or 0)
        codes.append(inference.encode(ck, img[None], y=y)[0][0])
        names.append(f.name)
        ys.append(y)
    return codes, names, ys, errors


def path_figure(ck: Checkpoint, labels: np.ndarray, names: Sequence[str],
                paths: dict[str, np.ndarray]) -> tuple[go.Figure, bool]:
    """The test codes with both interpolation paths drawn over them, and whether the view
    is a PCA projection (latent of more than two dimensions)."""
    plane = test_code_plane(ck)
    fig = figures.latent_scatter(plane.xy, labels, np.arange(len(plane.xy)), names, plane.axes,
                                 opacity=0.3, marker_size=3, height=520)
    figures.add_path(fig, plane.place(paths["linear"]), "linear path", "black")
    figures.add_path(fig, plane.place(paths["slerp"]), "slerp path", "crimson", "dash")
    return fig, plane.projected
