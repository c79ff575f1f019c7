"""The library takes what a user naturally has: uint8 images straight from a Split, [N,28,28]
or [N,784] arrays or tensors, numpy, one image; anything else gets a clear error naming the
shapes it wants. The latent helpers return the shapes their docstrings promise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vae_core import (ImageError, ModelConfig, as_images, build_model, decode_batch,
                      elbo_terms, encode_dataset, evaluate_elbo, importance_sampled_nll,
                      interpolate_codes, latent_stats, manifold, traversal_codes)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(ModelConfig(hidden=[16], latent_dim=2)).eval()


@pytest.fixture(scope="module")
def digits(mnist_test):
    """Eight real test digits: (uint8 [8,1,28,28] as a Split holds them, float32 in [0, 1])."""
    raw = mnist_test.images[:8]
    assert raw.dtype == torch.uint8
    return raw, raw.float() / 255


def test_encode_takes_a_splits_uint8_images(model, digits) -> None:
    raw, x = digits
    with torch.no_grad():
        mu, logvar = model.encode(raw)  # failed with a raw dtype error before
        want = model.encode(x)
    assert torch.equal(mu, want[0]) and torch.equal(logvar, want[1])
    assert mu.shape == (8, 2)


@pytest.mark.parametrize("form", ["[N,28,28]", "[N,784]", "numpy uint8", "numpy float64",
                                  "list"])
def test_every_natural_form_encodes_the_same(model, digits, form: str) -> None:
    raw, x = digits
    given = {"[N,28,28]": x[:, 0], "[N,784]": x.reshape(8, 784),
             "numpy uint8": raw.numpy(), "numpy float64": x.double().numpy(),
             "list": x.tolist()}[form]
    with torch.no_grad():
        assert torch.allclose(model.encode(given)[0], model.encode(x)[0], atol=1e-6)


def test_one_image_is_a_batch_of_one(model, digits) -> None:
    raw, x = digits
    with torch.no_grad():
        want = model.encode(x[:1])[0]
        for one in (x[0, 0], x[0, 0].numpy(), x[0].reshape(784), raw[0, 0].numpy()):
            assert torch.allclose(model.encode(one)[0], want, atol=1e-6)
        assert model.reconstruct(raw[0, 0]).shape == (1, 1, 28, 28)


def test_reconstruct_and_forward_take_uint8(model, digits) -> None:
    raw, x = digits
    with torch.no_grad():
        assert torch.equal(model.reconstruct(raw), model.reconstruct(x))
        torch.manual_seed(3)
        a = model(raw.numpy()).loss
        torch.manual_seed(3)
        b = model(x).loss
    assert torch.equal(a, b)


def test_elbo_entry_points_take_uint8(model, digits) -> None:
    """Scored against x/255, not against 0..255 targets."""
    raw, x = digits
    assert evaluate_elbo(model, raw) == evaluate_elbo(model, x)
    assert torch.equal(elbo_terms(model, raw)["neg_elbo"], elbo_terms(model, x)["neg_elbo"])
    assert importance_sampled_nll(model, raw, k=20, chunk=10) == \
        importance_sampled_nll(model, x, k=20, chunk=10)
    assert latent_stats(model, raw) == latent_stats(model, x)
    mu, _ = encode_dataset(model, raw, batch_size=3)
    assert torch.equal(mu, model.encode(x)[0])


def test_decode_takes_numpy_and_one_code(model) -> None:
    z = np.array([[0.5, -1.0], [0.0, 0.0]])  # float64, as numpy makes them
    with torch.no_grad():
        want = model.decode(torch.tensor(z, dtype=torch.float32))
        assert torch.equal(model.decode(z), want)
        assert torch.allclose(model.decode([0.5, -1.0]), want[:1], atol=1e-6)
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        model.decode(torch.zeros(3, 5))


@pytest.mark.parametrize(("bad", "needle"), [
    (torch.zeros(4, 3, 28, 28), "[4, 3, 28, 28]"),
    (torch.zeros(4, 27, 27), "[N,1,28,28], [N,28,28], [N,784]"),
    (np.zeros((2, 100)), "[2, 100]"),
    (torch.zeros(4, 1, 28, 28, dtype=torch.int64), "uint8"),
    (np.zeros((2, 28, 28), dtype=np.int32), "divide by 255"),
    ("digits.png", "tensor or array"),
])
def test_wrong_input_gets_a_clear_error(model, bad, needle: str) -> None:
    with pytest.raises(ImageError) as e:
        model.encode(bad)
    assert needle in str(e.value) and isinstance(e.value, ValueError)


def test_float32_batch_is_not_copied(digits) -> None:
    """The app's and the trainer's hot paths pass float32 [N,1,28,28]: used as it is."""
    _, x = digits
    assert as_images(x) is x
    assert as_images(x[:, 0]).data_ptr() == x.data_ptr()  # [N,28,28]: a view
    assert as_images(x.reshape(8, 784)).data_ptr() == x.data_ptr()


def test_latent_helpers_return_the_documented_shapes(model, digits) -> None:
    grid, values = manifold(model, n=5)
    assert grid.shape == (140, 140) and values.shape == (5,) and grid.device.type == "cpu"
    assert decode_batch(model, torch.zeros(3, 2)).shape == (3, 1, 28, 28)
    mu, logvar = encode_dataset(model, digits[1])
    assert mu.shape == logvar.shape == (8, 2)
    path = interpolate_codes(torch.zeros(2), torch.ones(2), steps=7)
    assert path.shape == (7, 2) and torch.equal(path[-1], torch.ones(2))
    codes = traversal_codes(3, steps=4, lim=2.0)
    assert codes.shape == (12, 3)
    assert torch.equal(codes[4:8, 1], torch.linspace(-2, 2, 4))  # rows 4..7 vary dimension 1


def test_classifier_reads_uint8_as_it_reads_floats(mnist_test) -> None:
    """classify() took uint8 as grey levels 0..255 (not divided), so a Split's images came back
    mostly misread without a word; now every form gives the same reading."""
    from vae_core import classify

    raw, labels = mnist_test.images[:200], mnist_test.labels[:200].numpy()
    pred_u8, p_u8 = classify(raw)
    pred_f, p_f = classify(raw.float() / 255)
    pred_np, _ = classify(raw[:, 0].numpy())
    assert (pred_u8 == labels).mean() > 0.97
    np.testing.assert_array_equal(pred_u8, pred_f)
    np.testing.assert_array_equal(pred_np, pred_f)
    np.testing.assert_allclose(p_u8, p_f, atol=1e-6)


def test_encode_dataset_takes_numpy(model, digits) -> None:
    """encode_dataset sliced its input and called .to() on it, so a numpy array failed."""
    raw, x = digits
    mu, logvar = encode_dataset(model, raw.numpy())
    mu_f, logvar_f = encode_dataset(model, x)
    assert mu.shape == (8, 2) and logvar.shape == (8, 2)
    torch.testing.assert_close(mu, mu_f)
    torch.testing.assert_close(logvar, logvar_f)
