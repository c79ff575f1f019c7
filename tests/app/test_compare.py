"""AppTest for Compare: it needs two models; two models' scores, setups and KL per dimension;
the tables' polish (a missing IS-NLL, more indices than fit); a conditional model beside an
unconditional one, and no class picker among unconditional ones."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from apptest_helpers import BUNDLED, CONV16, CVAE_DIR, MLP50, MLP_DIR, open_whole_page, run_page

pytestmark = pytest.mark.usefixtures("empty_user_dir")  # the bundled models only


def test_compare_needs_two_models(empty_user_dir: Path, tmp_path_factory: pytest.TempPathFactory,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import ui.state

    only = tmp_path_factory.mktemp("bundled")  # a checkout with a single bundled model
    shutil.copytree(BUNDLED, only / "mnist-mlp-2d")
    monkeypatch.setattr(ui.state, "BUNDLED_DIR", only)
    at = run_page("pages/compare.py")
    assert not at.exception
    assert any("Only one model" in i.value for i in at.info)


def test_compare_two_models_and_kl_per_dim(with_user_models: Path) -> None:
    at = run_page("pages/compare.py", BUNDLED)
    assert not at.exception and not at.error
    # By default the active model is compared with others of its own dataset (MNIST here).
    assert len(at.multiselect(key="compare_models").value) >= 2
    at.multiselect(key="compare_models").set_value([BUNDLED, str(with_user_models / "conv16")])
    at.run()
    assert not at.exception and not at.error
    scores, setups = at.dataframe[0].value, at.dataframe[1].value
    assert set(scores.index) == set(setups.index) == {"mnist-mlp-2d", "conv16"}
    assert setups.loc["mnist-mlp-2d", "latent dim"] == 2
    assert setups.loc["conv16", "params"] > 0
    assert at.warning, "different binarizations should be flagged"
    at.button(key="compare_stats_button").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.loc["conv16", "active units"].endswith("/16")
    at.radio(key="compare_pick").set_value("indices").run()
    at.text_input(key="compare_indices").input("3, x").run()
    assert not at.exception
    assert at.error


def test_compare_table_polish() -> None:
    """Issue 18, polish: "None" for a missing IS-NLL, the β column cut off, more than 24
    indices cut without a word, "How many" enabled in indices mode."""
    at = run_page("pages/compare.py", MLP50)
    at.multiselect(key="compare_models").set_value([MLP50, CONV16]).run()
    assert not at.exception and not at.error
    scores = at.dataframe[0].value
    assert math.isnan(scores.loc["mnist-conv-16d", "IS-NLL"])
    is_nll = json.loads((Path(MLP50) / "metrics.json").read_text())["test_nll_is"]
    assert scores.loc["mnist-mlp-50d", "IS-NLL"] == pytest.approx(is_nll, abs=0.01)
    assert all(t.proto.placeholder == "–" for t in at.dataframe)  # not "None" for missing
    setups = at.dataframe[1].value
    assert setups.loc["mnist-conv-16d", "β"] == 1.0
    assert len(at.dataframe[0].value.columns) <= 6 and len(setups.columns) <= 8
    assert not at.number_input(key="compare_count").disabled
    at.radio(key="compare_pick").set_value("indices").run()
    assert at.number_input(key="compare_count").disabled
    at.text_input(key="compare_indices").input(", ".join(str(i) for i in range(30))).run()
    assert not at.exception
    assert any("30 indices" in i.value and "first 24" in i.value for i in at.info)


# --- a conditional model ---------------------------------------------------------------------
def test_compare_conditional_beside_unconditional() -> None:
    at = open_whole_page("compare", CVAE_DIR)
    at.multiselect(key="compare_models").set_value([CVAE_DIR, MLP_DIR]).run()
    assert not at.exception and not at.error
    assert any("true label" in c.value for c in at.caption)
    assert any("−log p(x | y)" in w.value for w in at.warning)
    setups = at.dataframe[1].value
    assert setups.loc["mnist-cvae-2d", "arch"] == "mlp (conditional)"
    assert setups.loc["mnist-mlp-2d", "arch"] == "mlp"
    at.selectbox(key="compare_class").set_value(4).run()
    assert not at.exception
    assert any("draw class 4" in c.value for c in at.caption)
    assert any("class 4" in c.value for c in at.caption if "grid" in c.value)
    at.button(key="compare_stats_button").click().run()
    assert not at.exception
    assert at.dataframe[0].value.loc["mnist-cvae-2d", "active units"].endswith("/2")


def test_compare_of_unconditional_models_has_no_class_picker() -> None:
    at = open_whole_page("compare", MLP_DIR)
    at.multiselect(key="compare_models").set_value([MLP_DIR, CONV16]).run()
    assert not at.exception and not at.error
    assert not at.main.selectbox
    assert not [w for w in at.warning if "conditional" in w.value]
    assert "(conditional)" not in " ".join(at.dataframe[1].value["arch"])
