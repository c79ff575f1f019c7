"""The 2-D view of a model's latent space that the pages draw codes on: the latent axes for
a 1- or 2-D latent, else the plane of the test codes' first two principal directions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ui import derived, figures
from ui.state import encoded
from vae_core import Checkpoint


@dataclass(frozen=True)
class Plane:
    """Where test codes [N, 2] lie on the view, its axis titles, and the PCA (mean, dirs)
    when the latent has more than two dimensions (None otherwise)."""

    xy: np.ndarray
    axes: tuple[str, str]
    mean: np.ndarray | None = None
    dirs: np.ndarray | None = None

    @property
    def projected(self) -> bool:
        return self.dirs is not None

    def place(self, codes: np.ndarray) -> np.ndarray:
        """Codes [N, Z] on this view -> [N, 2]."""
        if self.dirs is None:
            return figures.pad_2d(codes)
        return derived.project(codes, self.mean, self.dirs)

    def cov(self, logvar: np.ndarray) -> np.ndarray:
        """A diagonal posterior covariance diag(exp(logvar)) [Z] as seen on this view [2, 2]."""
        if self.dirs is not None:
            return derived.project_cov(logvar, self.dirs)
        var = np.exp(np.asarray(logvar, dtype=np.float64))
        return np.diag(np.concatenate([var, np.zeros(2 - len(var))])[:2])


def test_code_plane(ck: Checkpoint) -> Plane:
    """The view of `ck`'s encoded test set (cached arrays, see ui.derived)."""
    mu, _ = encoded(ck)
    if mu.shape[1] > 2:
        mean, dirs, proj = derived.pca_of_test_codes(ck)
        return Plane(proj, ("PC 1", "PC 2"), mean, dirs)
    return Plane(figures.pad_2d(mu), ("z₀", "z₁" if mu.shape[1] == 2 else "(1-D latent)"))
