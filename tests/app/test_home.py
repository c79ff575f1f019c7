"""AppTest for Home (How a VAE works): the ELBO's terms follow the test digit and the seed,
a Fashion-MNIST model's items are named as items, and the app's page icon is a file in the
repository. The guided tour on this page: tests/app/test_tour.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest_helpers import APP, FASHION, open_page
from PIL import Image
from streamlit.testing.v1 import AppTest


def test_home_renders_and_follows_the_digit(media: dict[str, bytes]) -> None:
    at = open_page("home")
    assert [m.label for m in at.main.metric] == ["reconstruction −log p(x|z)",
                                                 "KL(q(z|x) ‖ p(z))", "−ELBO"]
    recon, kl, total = (float(m.value) for m in at.main.metric)
    assert recon > 0 and kl > 0 and total == pytest.approx(recon + kl, abs=0.02)
    assert len(at.get("latex")) >= 3
    before = [i.value[0] for i in at.image]
    at.number_input(key="home_digit").set_value(7).run()
    assert not at.exception
    assert [i.value[0] for i in at.image] != before
    at.number_input(key="home_seed").set_value(5).run()  # a new eps: new reconstruction term
    assert not at.exception
    assert float(at.main.metric[0].value) != recon


def test_home_speaks_of_items_for_fashion_mnist() -> None:
    """'x: a Ankle boot' and 'Test digit #' on a Fashion-MNIST model (issue 18)."""
    at = open_page("home", FASHION)
    assert at.number_input(key="home_digit").label == "Test item #"
    captions = [c for img in at.image for c in img.captions]
    assert any(c.startswith("x: an ankle boot,") for c in captions), captions  # test #0
    text = " ".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                    + [h.value for h in at.header])
    assert "digit" not in text
    at.number_input(key="home_digit").set_value(1).run()  # a pullover
    assert any(c.startswith("x: a pullover,") for c in (c for i in at.image for c in i.captions))


def test_favicon_is_a_file_in_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ':material/...' page icon is fetched from fonts.gstatic.com and fails offline."""
    import streamlit as st

    seen: dict = {}
    real = st.set_page_config

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(st, "set_page_config", spy)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    icon = Path(str(seen["page_icon"]))
    assert icon.is_file() and icon.resolve().is_relative_to(Path(APP).resolve().parent)
    with Image.open(icon) as im:
        assert im.format == "PNG" and im.size[0] == im.size[1] >= 32
