"""ui.derived (codes, pictures) and the data it shares: projections, the per-image −ELBO against
metrics.json, one read-only copy of the test set and its codes, and one seeded −ELBO estimate
(vae_core.metrics.elbo_terms) that Home and Reconstruct both show."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import APP, BUNDLED, CONV16, digit_png, run_page
from streamlit.testing.v1 import AppTest

import vae_core.classifier as clf
from ui import derived, inference
from ui.state import browser_classifier, classifier, get_model
from ui.state import test_set as load_test_set
from vae_core import VAEError


def test_projection_helpers() -> None:
    dirs = np.array([[1.0, 0, 0], [0, 1.0, 0]], dtype=np.float32)
    assert derived.project(np.array([[2.0, 3.0, 4.0]]), np.ones(3), dirs).tolist() == [[1, 2]]
    cov = derived.project_cov(np.log(np.array([4.0, 9.0, 1.0])), dirs)
    assert np.allclose(cov, np.diag([4.0, 9.0]))
    a = derived.subsample(100, 10, 0)
    assert len(a) == 10 and (np.diff(a) > 0).all() and (a == derived.subsample(100, 10, 0)).all()
    assert len(derived.subsample(5, 10)) == 5


def test_per_image_neg_elbo_matches_metrics_json() -> None:
    ck = get_model(BUNDLED)
    per_image = derived.test_neg_elbo(ck)
    assert len(per_image["neg_elbo"]) == 10_000
    assert per_image["neg_elbo"].mean() == pytest.approx(ck.metrics["test_neg_elbo"], rel=1e-4)
    x, _, _ = load_test_set("mnist")
    s = inference.score_image(ck, x[0])
    assert s["neg_elbo"] == pytest.approx(s["recon"] + s["kl"], rel=1e-5)
    assert s["mu"].shape == (2,)
    assert not ck.model.training and not any(p.requires_grad for p in ck.model.parameters())


def test_test_set_and_codes_are_one_shared_read_only_copy() -> None:
    """Every session gets the same arrays (no 31 MB copy per rerun), and none can change them."""
    from ui.state import encoded

    x, labels, _ = load_test_set("mnist")
    x2, labels2, _ = load_test_set("mnist")
    assert x is x2 and labels is labels2
    ck = get_model(BUNDLED)
    mu, logvar = encoded(ck)
    assert encoded(ck)[0] is mu
    for a in (x, labels, mu, logvar, x[3], mu[:10]):
        assert not a.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        x[0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        mu[0] += 1.0


def test_home_and_reconstruct_report_the_same_neg_elbo(empty_user_dir: Path) -> None:
    """Issue 18, 12: the same test digit got -ELBO 100.55 on Home and 98.1 on Reconstruct (two
    one-sample estimates with different draws). One seeded estimator everywhere now."""
    from ui.derived import anatomy
    from vae_core import preprocess_image

    i = 3
    x, _, _ = load_test_set("mnist")
    for path in (BUNDLED, CONV16):  # grey levels, and a binarized model
        ck = get_model(path)
        a = anatomy(ck, x[i], inference.ELBO_SEED, None)  # what the home page shows
        s = inference.score_image(ck, x[i])
        assert a["neg_elbo"] == s["neg_elbo"] and a["recon"] == s["recon"]
        assert np.array_equal(a["z"], s["z"])
    # The pages, on the bundled model, with their default seeds.
    home = AppTest.from_file(APP, default_timeout=60)
    home.switch_page("pages/home.py").run()
    home.number_input(key="home_digit").set_value(i).run()
    assert not home.exception
    home_value = {m.label: m.value for m in home.metric}["−ELBO"]
    rec = run_page("pages/reconstruct.py")
    png = digit_png(i)
    assert np.array_equal(preprocess_image(png), x[i]), "digit 3 survives preprocessing as is"
    rec.file_uploader(key="reconstruct_upload").set_value(("d.png", png, "image/png")).run()
    assert not rec.exception
    rec_value = {m.label: m.value for m in rec.metric}["−ELBO (nats)"]
    want = inference.score_image(get_model(BUNDLED), x[i])["neg_elbo"]
    assert home_value == rec_value == f"{want:.2f}"
    assert any(f"seed {inference.ELBO_SEED}" in m.value for m in rec.markdown)
    assert any(f"seed {inference.ELBO_SEED}" in c.value for c in home.caption)


def test_elbo_terms_is_the_one_seeded_estimator() -> None:
    """vae_core.metrics.elbo_terms: an int seed gives one image the same estimate every time;
    evaluate_elbo is its batch mean over one seeded stream."""
    from vae_core.metrics import EVAL_SEED, elbo_terms, evaluate_elbo

    model = get_model(BUNDLED).model
    x = torch.from_numpy(load_test_set("mnist")[0][:64].copy())[:, None]
    one = elbo_terms(model, x[:1], 7)["neg_elbo"]
    assert torch.equal(one, elbo_terms(model, x[:1], 7)["neg_elbo"])
    assert not torch.equal(one, elbo_terms(model, x[:1], 8)["neg_elbo"])
    t = elbo_terms(model, x, EVAL_SEED)
    assert torch.allclose(t["neg_elbo"], t["recon"] + t["kl"])
    assert torch.allclose(t["z"], t["mu"] + (0.5 * t["logvar"]).exp() * t["eps"])
    ev = evaluate_elbo(model, x)
    assert ev["test_neg_elbo"] == pytest.approx(t["neg_elbo"].mean().item(), rel=1e-6)


def test_the_classifier_is_loaded_once_per_version_of_its_files(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """ui.state.classifier(): one shared object while its files stay the same, a new one when
    they change, and VAEError (not a stale object) when they are gone."""
    folder = tmp_path / "clf"
    shutil.copytree(clf.DEFAULT_DIR, folder)
    monkeypatch.setattr(clf, "DEFAULT_DIR", folder)
    first = classifier()
    assert classifier() is first and browser_classifier()[1] == browser_classifier()[1]
    weights = folder / clf.WEIGHTS
    os.utime(weights, ns=(1, 1))  # the same bytes, another mtime: a new version
    assert classifier() is not first
    shutil.rmtree(folder)
    with pytest.raises(VAEError):
        classifier()
