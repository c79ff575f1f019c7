"""Real handwriting in, the same digit out (issue 16), on the seeded synthetic "real-world"
corpus of tests/realworld.py: MNIST test digits photographed on paper of many kinds.

* After preprocessing, the reference classifier reads at least 97% as many of them right as
  it does of the same clean digits.
* The bundled upload model gives back the digit (class_consistency) for at least 90% of the
  preprocessed renders, and for at least 98% of the MNIST test set.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from realworld import corpus, render
from vae_core import ImageError, load_checkpoint, load_split, preprocess_image
from vae_core.classifier import accuracy, class_consistency

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N = 500  # renders: ~20 s to render and ~20 s to preprocess on a busy 2-core machine
UPLOAD = "checkpoints/mnist-conv-upload"


@pytest.fixture(scope="module")
def rendered(mnist_test):
    """(renders, preprocessed digits [N, 28, 28], labels [N]); a refused render is a blank."""
    images = mnist_test.images[:N, 0].numpy()
    renders = corpus(images, seed=0)
    out = []
    for r in renders:
        try:
            out.append(preprocess_image(r.data))
        except ImageError:
            out.append(np.zeros((28, 28), np.float32))
    return renders, np.stack(out), mnist_test.labels[:N].numpy()


def test_classifier_reads_preprocessed_renders_almost_as_well_as_clean_digits(
        rendered, mnist_test) -> None:
    renders, digits, labels = rendered
    clean = accuracy(mnist_test.floats()[:N], labels)
    real = accuracy(digits, labels)
    assert real >= 0.97 * clean, (real, clean)
    refused = sum(not d.any() for d in digits)
    assert refused <= N // 100, f"{refused} renders refused"


def test_upload_model_gives_the_digit_back(rendered, repo_root) -> None:
    _, digits, labels = rendered
    model = load_checkpoint(repo_root / UPLOAD).model
    assert class_consistency(model, digits, labels) >= 0.90


def test_upload_model_class_consistency_on_mnist_test_sample(repo_root, mnist_test) -> None:
    model = load_checkpoint(repo_root / UPLOAD).model
    assert class_consistency(model, mnist_test.floats(), mnist_test.labels) >= 0.98


@pytest.mark.slow
def test_upload_model_class_consistency_on_mnist_test(repo_root, mnist_dir) -> None:
    test = load_split("mnist", False, mnist_dir)
    model = load_checkpoint(repo_root / UPLOAD).model
    assert len(test) == 10_000
    assert class_consistency(model, test.floats(), test.labels) >= 0.98


def test_upload_model_was_trained_with_augmentation(repo_root) -> None:
    ck = load_checkpoint(repo_root / UPLOAD)
    assert ck.train_config.augment > 0
    assert 16 <= ck.model_config.latent_dim <= 32 and ck.model_config.arch == "conv"
    size = sum(p.stat().st_size for p in ck.path.iterdir())
    assert size < 10 * 2**20


# --- the generator itself -------------------------------------------------------------------
def test_renders_are_seeded(mnist_test) -> None:
    d = mnist_test.images[0, 0].numpy()
    assert render(d, 7).data == render(d, 7).data
    assert render(d, 7).data != render(d, 8).data
    assert [r.data for r in corpus(mnist_test.images[:3, 0].numpy(), 5)] == \
        [r.data for r in corpus(mnist_test.images[:2, 0].numpy(), 5)] + \
        [corpus(mnist_test.images[:3, 0].numpy(), 5)[2].data]


def test_corpus_covers_what_real_photos_do(rendered) -> None:
    """Every condition the issue lists turns up in the corpus the tests score."""
    params = [r.params for r in rendered[0]]

    def share(pred) -> float:
        return sum(map(pred, params)) / len(params)

    for kind in ("none", "ruled", "squared", "margin"):
        assert share(lambda p, k=kind: p["lines"] == k) > 0.05
    for style in ("thin pen", "pen", "marker"):
        assert share(lambda p, s=style: p["style"] == s) > 0.2
    assert share(lambda p: "shadow" in p) > 0.25
    assert share(lambda p: "jpeg" in p) > 0.6 and share(lambda p: "jpeg" not in p) > 0.1
    assert share(lambda p: p["paper"] in ("blackboard", "dark grey", "navy")) > 0.05
    assert share(lambda p: p["paper"] not in ("white", "light grey", "mid grey")) > 0.5
    assert share(lambda p: p["ink"] not in ("black", "pencil")) > 0.5
    assert share(lambda p: abs(p["angle"]) > 10) > 0.2
    assert all(abs(p["angle"]) <= 15 for p in params)
    assert share(lambda p: p["scale"] > 6) > 0.2 and share(lambda p: p["blur"] > 1) > 0.2
    img = Image.open(io.BytesIO(rendered[0][0].data))
    assert img.mode == "RGB" and max(img.size) > 28
