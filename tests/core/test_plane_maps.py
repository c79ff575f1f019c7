"""vae_core.plane_maps: the hole map, the round-trip field and the per-pixel cost, on
constructed mixtures and on the bundled 2-D models with real MNIST test digits."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_core import (HOLE_RATIO, PRIOR_RADIUS, decoded_cost, encode_dataset, grid_centres,
                      hole_gap, hole_map, hole_share, load_checkpoint, load_split,
                      log_aggregate_posterior, log_prior, pixel_cost, prior_holes, recon_nll,
                      round_trip, round_trip_field)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def brute_log_q(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The mixture's log density the slow way: [N, K, Z] differences, float64."""
    z, mu, var = z.double()[:, None], mu.double()[None], logvar.double().exp()[None]
    comp = -0.5 * (((z - mu) ** 2 / var) + var.log() + math.log(2 * math.pi)).sum(-1)
    return torch.logsumexp(comp, 1) - math.log(mu.shape[1])


def test_log_densities_match_the_direct_formula() -> None:
    g = torch.Generator().manual_seed(3)
    z = torch.randn(50, 3, generator=g) * 2
    mu, logvar = torch.randn(40, 3, generator=g), torch.randn(40, 3, generator=g) * 0.5 - 1
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(z.double()).sum(1)
    assert torch.allclose(log_prior(z), expected, atol=1e-12)
    got = log_aggregate_posterior(z, mu, logvar, chunk=7)  # chunks of 7 rows, last one short
    assert got.dtype == torch.float64
    assert torch.allclose(got, brute_log_q(z, mu, logvar), atol=1e-9)


def test_hole_map_is_zero_where_the_mixture_is_the_prior() -> None:
    # Every component is N(0, I) itself: the mixture is the prior, the log-ratio 0 everywhere.
    mu, logvar = torch.zeros(100, 2), torch.zeros(100, 2)
    h = hole_map(mu, logvar, n=12, extent=4.0)
    assert h.shape == (12, 12) and h.abs().max() < 1e-9
    # Components N(m_k, 0.5 I) with m_k on a fine symmetric quadrature of N(0, 0.5 I) mix
    # to N(0, I) (variances add): near the origin the ratio is ~1 too.
    t = torch.linspace(-4, 4, 81)
    w = torch.exp(-t ** 2)  # N(0, 0.5) density shape; repeat codes by weight
    reps = torch.round(w / w.sum() * 4000).long()
    m1 = torch.repeat_interleave(t, reps)
    mm = torch.cartesian_prod(m1[::4], m1[::4])
    h2 = hole_map(mm, torch.full_like(mm, math.log(0.5)), n=8, extent=1.0, codes=len(mm))
    assert h2.abs().max() < 0.1


def test_hole_map_finds_the_empty_side() -> None:
    # All codes near (2, 2): the prior is far denser at (-2, -2) than the mixture, less at (2, 2).
    mu = torch.tensor([[2.0, 2.0]]).repeat(50, 1) + 0.05 * torch.randn(50, 2)
    h = hole_map(mu, torch.full((50, 2), math.log(0.25)), n=4, extent=4.0)
    centres = grid_centres(4, 4.0)
    assert torch.allclose(centres, torch.tensor([-3.0, -1.0, 1.0, 3.0], dtype=torch.float64))
    # row 0 is the top (+y): (x=3, y=3) is row 0, col 3; (x=-3, y=-3) is row 3, col 0
    assert h[3, 0] > 20 and h[0, 3] < 0
    z = torch.tensor([[-3.0, -3.0], [3.0, 3.0]], dtype=torch.float64)
    assert torch.allclose(hole_gap(z, mu, torch.full((50, 2), math.log(0.25))),
                          torch.stack([h[3, 0], h[0, 3]]))


def test_hole_map_refuses_more_than_two_dims() -> None:
    with pytest.raises(ValueError, match="2-D latent plane"):
        hole_map(torch.zeros(5, 3), torch.zeros(5, 3))


def test_hole_map_radius_leaves_the_far_cells_out() -> None:
    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(60, 2, generator=g), torch.full((60, 2), -1.0)
    full = hole_map(mu, logvar, n=10, extent=4.0)
    cut = hole_map(mu, logvar, n=10, extent=4.0, radius=3.0)
    c = grid_centres(10, 4.0)
    far = torch.hypot(*torch.meshgrid(c.flip(0), c, indexing="ij")) > 3.0
    assert 0 < int(far.sum()) < 100
    assert torch.isneginf(cut[far]).all() and torch.equal(cut[~far], full[~far])


def test_hole_share_counts_what_was_looked_at() -> None:
    edge = math.log(HOLE_RATIO)
    assert hole_share(np.array([-np.inf, -np.inf, edge - 0.1, edge + 0.1])) == 0.5
    assert hole_share(torch.tensor([edge + 1, math.inf, 0.0, -5.0])) == 0.5  # +inf: a hole
    assert hole_share(np.full((3, 3), -np.inf)) == 0.0


def test_prior_holes_are_seeded_prior_samples() -> None:
    g = torch.Generator().manual_seed(2)
    mu, logvar = torch.randn(500, 3, generator=g), torch.zeros(500, 3)
    z, gap = prior_holes(mu, logvar, 400, codes=100, seed=5)
    z2, gap2 = prior_holes(mu, logvar, 400, codes=100, seed=5)
    assert z.shape == (400, 3) and z.dtype == torch.float64 and gap.shape == (400,)
    assert torch.equal(z, z2) and torch.equal(gap, gap2)
    assert abs(float(z.mean())) < 0.1 and abs(float(z.std()) - 1) < 0.1
    assert not torch.equal(prior_holes(mu, logvar, 400, codes=100, seed=6)[0], z)
    # with room for every code, the mixture is all of them: hole_gap's of the whole set
    z, gap = prior_holes(mu, logvar, 400, codes=500)
    assert torch.allclose(gap, hole_gap(z, mu, logvar), atol=1e-9)


def bundled_2d(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "checkpoints").iterdir()
                  if (p / "config.json").is_file() and
                  json.loads((p / "config.json").read_text())["model"]["latent_dim"] == 2)


@pytest.mark.parametrize("name", bundled_2d(Path(__file__).resolve().parents[2]))
def test_tour_and_layers_count_the_same_holes(repo_root, name: str) -> None:
    """The tour's hole share (prior samples in holes: `prior_holes`, as ui.prior_holes asks
    for 2,000) and the plane layers' hole map (`hole_map` within PRIOR_RADIUS, in the
    48 x 48 cells of the Sliders pad) measure the same holes: weighted by the prior,
    the map's share of cells in holes is the tour's share, up to the sampling error (~0.01)
    and the prior's 0.2% beyond the radius. The map's unweighted share (the layers' caption)
    is a share of the area instead, and larger where holes lie in the prior's thin rim."""
    ck = load_checkpoint(repo_root / "checkpoints" / name)
    test = load_split(ck.train_config.dataset, False)
    y = test.labels if ck.model_config.conditional else None
    mu, logvar = encode_dataset(ck.model, test.floats(), y=y)
    tour = hole_share(prior_holes(mu, logvar, 2000)[1])
    gap = hole_map(mu, logvar, 48, PRIOR_RADIUS, radius=PRIOR_RADIUS)
    c = grid_centres(48, PRIOR_RADIUS)
    yy, xx = torch.meshgrid(c.flip(0), c, indexing="ij")
    weight = log_prior(torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)).exp().reshape(48, 48)
    looked = ~torch.isneginf(gap)
    in_hole = (gap > math.log(HOLE_RATIO)) & looked
    weighted = float(weight[in_hole].sum() / weight[looked].sum())
    assert weighted == pytest.approx(tour, abs=0.03), (tour, weighted)
    assert hole_share(gap) == pytest.approx(float(in_hole.sum() / looked.sum()))


@pytest.fixture(scope="module")
def mlp2d(repo_root):
    return load_checkpoint(repo_root / "checkpoints" / "mnist-mlp-2d").model.eval()


def test_round_trip_of_test_codes_points_back_near_them(mlp2d, mnist_test) -> None:
    x = mnist_test.images[:200].float() / 255
    mu, _ = encode_dataset(mlp2d, x)
    back = round_trip(mlp2d, mu)
    # measured: median 0.049, longest 0.73 of these 200 arrows, while two test codes are a
    # median 2 apart: decoding a digit's code and encoding the image lands near where it began
    dist = (back - mu).norm(dim=1)
    apart = (mu[:100] - mu[100:]).norm(dim=1).median()
    assert dist.median() < 0.1 and dist.max() < 1.0 and apart > 10 * dist.median(), dist
    z, head = round_trip_field(mlp2d, n=15, lim=3.0)
    assert z.shape == head.shape == (225, 2)
    assert torch.equal(z[0], torch.tensor([-3.0, 3.0]))  # top left first, row-major
    assert torch.equal(z[-1], torch.tensor([3.0, -3.0]))
    # far out on the plane (a corner) the arrows are longer than at test codes
    corner = (head - z).norm(dim=1).reshape(15, 15)[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert corner.max() > dist.median() * 5


def test_decoded_cost_sums_to_recon_nll(mlp2d, mnist_test) -> None:
    x = mnist_test.images[:1].float() / 255
    mu, _ = encode_dataset(mlp2d, x)
    c = decoded_cost(mlp2d, mu[0], x[0])
    with torch.no_grad():
        logits = mlp2d.decode_logits(mu[:1])
        expected = recon_nll(logits, x, "bernoulli")
        post = mlp2d.encode(torch.sigmoid(logits))
    assert c["cost"].shape == (28, 28) and (c["cost"] >= 0).all()
    assert abs(float(c["cost"].sum()) - float(expected)) < 1e-3  # 92.82 nats for test #0
    assert 80 < float(expected) < 110
    kl = -0.5 * (1 + post[1] - post[0] ** 2 - post[1].exp())[0]
    assert torch.allclose(c["kl_dims"], kl)
    assert torch.allclose(c["decoded"], torch.sigmoid(logits).reshape(28, 28))


def test_gaussian_pixel_cost_sums_to_recon_nll() -> None:
    g = torch.Generator().manual_seed(0)
    logits, x = torch.randn(2, 1, 28, 28, generator=g), torch.rand(2, 1, 28, 28, generator=g)
    for var in (0.5, 0.1):
        per = pixel_cost(logits, x, "gaussian", var)
        assert torch.allclose(per.flatten(1).sum(1), recon_nll(logits, x, "gaussian", var),
                              atol=1e-3)


def test_conditional_round_trip_and_cost(repo_root, mnist_test) -> None:
    model = load_checkpoint(repo_root / "checkpoints" / "mnist-cvae-2d").model.eval()
    x, y = mnist_test.images[:100].float() / 255, mnist_test.labels[:100].long()
    mu, _ = encode_dataset(model, x, y=y)
    dist = (round_trip(model, mu, y) - mu).norm(dim=1)
    assert dist.median() < 0.2, dist
    c = decoded_cost(model, mu[0], x[0], int(y[0]))
    with torch.no_grad():
        expected = recon_nll(model.decode_logits(mu[:1], y[:1]), x[:1], "bernoulli")
    assert abs(float(c["cost"].sum()) - float(expected)) < 1e-3
