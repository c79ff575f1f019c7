"""Latent paths: spherical interpolation keeps every code's norm between the ends' norms."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vae_core import interpolate_codes

# Posterior means of MNIST test digits #3 and #2 under checkpoints/mnist-mlp-2d: 174 degrees
# apart. Slerp of the raw codes sent this path out to (-5.9, 4.9), norm 7.7 (issue 18, bug 4).
Z_TEST3 = torch.tensor([0.9019495844841003, -1.4517323970794678])
Z_TEST2 = torch.tensor([-1.5103950500488281, 1.9446580410003662])


def angle(a: torch.Tensor, b: torch.Tensor) -> float:
    """Degrees between two codes (float64)."""
    a, b = a.double(), b.double()
    return math.degrees(math.atan2(float(torch.linalg.norm(a * b.norm() - b * a.norm())),
                                   float(torch.linalg.norm(a * b.norm() + b * a.norm()))) * 2)


def check_slerp(z0: torch.Tensor, z1: torch.Tensor, steps: int, tol: float = 1e-4) -> torch.Tensor:
    """The properties every slerp path has; returns the path."""
    path = interpolate_codes(z0, z1, steps, "slerp")
    assert path.shape == (steps, z0.numel()) and path.dtype == z0.dtype
    assert torch.isfinite(path).all()
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)  # exact end points
    norms = path.double().norm(dim=1)
    n0, n1 = float(z0.double().norm()), float(z1.double().norm())
    scale = max(n0, n1, 1.0)
    assert (norms >= min(n0, n1) - tol * scale).all(), (norms, n0, n1)
    assert (norms <= max(n0, n1) + tol * scale).all(), (norms, n0, n1)
    # ... and more: the norm goes linearly from one end's to the other's.
    t = torch.linspace(0, 1, steps, dtype=torch.float64)
    assert torch.allclose(norms, (1 - t) * n0 + t * n1, atol=tol * scale)
    return path


def test_nearly_opposite_codes_stay_in_the_shell() -> None:
    """Issue 18 bug 4: test #3 -> test #2 on mnist-mlp-2d."""
    assert angle(Z_TEST3, Z_TEST2) == pytest.approx(174.0, abs=0.1)
    path = check_slerp(Z_TEST3, Z_TEST2, 10)
    assert float(path.norm(dim=1).max()) <= 2.47  # was 7.73
    assert float(path.abs().max()) <= 2.47  # was (-5.95, 4.95)
    # The direction turns through the whole 174 degrees, in equal steps.
    steps = [angle(path[i], path[i + 1]) for i in range(9)]
    assert steps == pytest.approx([174.0 / 9] * 9, abs=0.01)


@pytest.mark.parametrize("dim", [2, 3, 16])
@pytest.mark.parametrize("scale", [1.0, -0.5, -3.0])
def test_exactly_opposite_codes(dim: int, scale: float) -> None:
    z0 = torch.linspace(-1, 2, dim)
    z1 = scale * z0
    path = check_slerp(z0, z1, 9)
    if scale < 0:  # a half great circle: the middle code is perpendicular to both ends
        assert angle(path[4], z0) == pytest.approx(90.0, abs=1e-3)
        assert angle(path[2], z0) == pytest.approx(45.0, abs=1e-3)
    else:  # the same direction: a straight line along it
        assert all(angle(p, z0) < 1e-2 for p in path)
    assert torch.equal(path, interpolate_codes(z0, z1, 9, "slerp"))  # deterministic


@pytest.mark.parametrize("eps", [1e-7, 1e-5, 1e-3])
def test_nearly_opposite_codes_within_rounding(eps: float) -> None:
    z0 = torch.tensor([1.0, 2.0, -0.5])
    z1 = -2 * z0 + torch.tensor([0.0, eps, 0.0])
    check_slerp(z0, z1, 11)


@pytest.mark.parametrize(("z0", "z1"), [
    ([0.0, 0.0], [1.0, -2.0]),
    ([1.0, -2.0], [0.0, 0.0]),
    ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
    ([1e-12, 0.0], [-3.0, 1.0]),
])
def test_zero_codes(z0: list[float], z1: list[float]) -> None:
    a, b = torch.tensor(z0), torch.tensor(z1)
    path = check_slerp(a, b, 7)
    assert torch.allclose(path, interpolate_codes(a, b, 7, "linear"), atol=1e-6)


def test_short_paths_and_dtypes() -> None:
    z0, z1 = Z_TEST3, Z_TEST2
    assert torch.equal(interpolate_codes(z0, z1, 1, "slerp"), z0[None])
    assert interpolate_codes(z0, z1, 0, "slerp").shape == (0, 2)
    p64 = interpolate_codes(z0.double(), z1.double(), 5, "slerp")
    assert p64.dtype == torch.float64
    assert torch.allclose(p64.float(), interpolate_codes(z0, z1, 5, "slerp"), atol=1e-6)


codes = st.integers(2, 16).flatmap(lambda d: st.tuples(
    *[st.lists(st.floats(-10, 10, width=32), min_size=d, max_size=d) for _ in range(2)]))


@settings(max_examples=300, deadline=None)
@given(codes, st.integers(2, 25), st.sampled_from(["free", "opposite", "zero", "same"]))
def test_slerp_norms_lie_between_the_ends(pair: tuple[list[float], list[float]], steps: int,
                                          kind: str) -> None:
    """Property (issue 18): every point's norm lies between the two ends' norms, the end
    points are exact, and nothing is NaN, including opposite, parallel and zero codes."""
    z0, z1 = torch.tensor(pair[0]), torch.tensor(pair[1])
    if kind == "opposite":
        z1 = -z1.norm() * z0 / z0.norm().clamp_min(1e-30)
    elif kind == "zero":
        z0 = torch.zeros_like(z0)
    elif kind == "same":
        z1 = 0.3 * z0
    check_slerp(z0, z1, steps)
