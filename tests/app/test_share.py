"""Shareable state (ui/share.py): query parameters in and out, and the Sliders page restored
from a URL (AppTest)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from ui.keys import MODEL_KEY
from ui import keys
from ui.share import find_model, link, parse, query
from ui.state import BUNDLED_DIR, DEFAULT_MODEL, ENV_USER_DIR, encoded, get_model
from ui.view_links import VIEWS
from vae_core import load_replay

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_parse_reads_every_parameter() -> None:
    s = parse({"model": "mnist-mlp-2d", "z": "1.23,-0.77", "digit": "7", "seed": "42",
               "label": "3", "hide": "train,Upload"})
    assert (s.model, s.z, s.digit, s.seed, s.label) == ("mnist-mlp-2d", [1.23, -0.77], 7, 42,
                                                          "3")
    assert s.hide == {"train", "upload"} and not s.problems


@pytest.mark.parametrize("params,needle", [
    ({"z": "1,abc"}, "not a list of numbers"), ({"z": "nan,1"}, "finite"),
    ({"z": ",".join(["0"] * 513)}, "1 to 512"), ({"digit": "-1"}, "out of range"),
    ({"seed": "x"}, "not a whole number"), ({"hide": "train,everything"}, "everything"),
])
def test_parse_explains_what_it_cannot_read(params: dict, needle: str) -> None:
    s = parse(params)
    assert any(needle in p for p in s.problems), s.problems
    assert s.z is None and s.digit is None and s.seed is None


def test_query_round_trips_through_parse() -> None:
    q = query("mnist-cvae-2d", [1.234, -0.0001, 3], digit=5, seed=9, label="7",
              hide=["upload", "train"])
    assert q == {"model": "mnist-cvae-2d", "z": "1.23,0.00,3.00", "digit": "5", "seed": "9",
                 "label": "7", "hide": "train,upload"}
    s = parse(q)
    assert s.z == [1.23, 0.0, 3.0] and s.hide == {"train", "upload"} and s.label == "7"


def test_link_is_plain_and_readable() -> None:
    url = link("http://127.0.0.1:8501/sliders?old=1", "sliders",
               query("mnist-mlp-2d", [1.23, -0.77]))
    assert url == "http://127.0.0.1:8501/sliders?model=mnist-mlp-2d&z=1.23,-0.77"
    assert link("http://h:1/", "/replay", {}) == "http://h:1/replay"


def test_find_model_prefers_the_bundled_one() -> None:
    models = {"a (yours)": "/u/a", "a (bundled)": "/c/a", "b (uploaded)": "/t/b"}
    assert find_model("a", models) == "/c/a"
    assert find_model("b", models) == "/t/b"
    assert find_model("c", models) is None
    assert Path(find_model("a", {"a (yours)": "/u/a"})).name == "a"


# --- the app, opened from a link ---------------------------------------------------------------
@pytest.fixture
def no_user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))


def open_link(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(params)
    if page != "home":
        at.switch_page(f"pages/{page}.py")
    return at.run()


def test_lesson_flags_hide_the_upload(no_user_models) -> None:
    at = open_link("home", hide="upload,train")
    assert not at.exception
    assert not [e for e in at.sidebar.expander if e.label == "Upload a model"]
    plain = open_link("home")
    assert [e for e in plain.sidebar.expander if e.label == "Upload a model"]


def server_z(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("z on the server"))


def test_sliders_link_restores_model_and_z(no_user_models) -> None:
    at = open_link("sliders", model="mnist-conv-2d", z="1.23,-0.77")
    assert not at.exception, [e.value for e in at.exception]
    assert Path(at.session_state[MODEL_KEY]).name == "mnist-conv-2d"
    assert at.session_state["sl_code"] == [1.23, -0.77]
    assert "(1.23, -0.77)" in server_z(at) and not at.warning
    assert not open_link("home", model="mnist-conv-2d").warning
    assert "z is not used" in open_link("home", z="1,2").warning[0].value
    at.run()  # applied once: the controls are the user's afterwards
    at.session_state["sl_code"] = [0.5, -0.77]  # as the pad's release sets it
    at.run()
    assert "(0.50, -0.77)" in server_z(at)


def test_sliders_link_without_model_uses_the_default_and_a_digit(no_user_models) -> None:
    at = open_link("sliders", digit="3")
    assert not at.exception
    assert Path(at.session_state[MODEL_KEY]).name == DEFAULT_MODEL
    mu, _ = encoded(get_model(str(BUNDLED_DIR / DEFAULT_MODEL)))
    assert at.session_state["sl_code"][0] == round(float(mu[3, 0]), 2)


def test_sliders_link_sets_the_class_of_a_conditional_model(no_user_models) -> None:
    at = open_link("sliders", model="mnist-cvae-2d", z="0.5,0.5", label="3")
    assert not at.exception and at.session_state["sl_class"] == 3 and not at.warning


@pytest.mark.parametrize("params,needle", [
    ({"model": "no-such-model"}, "no model called 'no-such-model'"),
    ({"z": "1,2,3"}, "z='1,2,3' has 3 numbers, mnist-mlp-2d needs 2"),
    ({"z": "1,x"}, "not a list of numbers"),
    ({"label": "3"}, "takes no class label"),
    ({"model": "mnist-cvae-2d", "label": "eleven"}, "not a class"),
    ({"digit": "99999"}, "no test image #99999"),
    ({"seed": "4", "foo": "1"}, "foo, seed are not used by this page"),
])
def test_bad_links_open_the_page_with_a_warning(no_user_models, params: dict,
                                                needle: str) -> None:
    at = open_link("sliders", **params)
    assert not at.exception, [e.value for e in at.exception]
    assert any(needle in w.value for w in at.warning), [w.value for w in at.warning]


def copied_link(at: AppTest) -> str:
    return next(c.value for c in at.get("code"))


def test_replay_link_opens_at_a_step_and_copies_the_step_shown(no_user_models) -> None:
    at = open_link("replay", model="mnist-mlp-2d", step="560")
    assert not at.exception and not at.warning
    steps = load_replay(BUNDLED_DIR / "mnist-mlp-2d").step
    assert steps[at.session_state["rp_frame"]] == 550  # the nearest snapshot
    assert copied_link(at).endswith("/replay?model=mnist-mlp-2d&step=550")
    at.session_state["rp_frame"] = 0  # as the replay player's pause sets it
    at.run()
    assert copied_link(at).endswith("/replay?model=mnist-mlp-2d&step=0")


def test_home_link_sets_digit_and_seed(no_user_models) -> None:
    at = open_link("home", model="mnist-conv-16d", digit="5", seed="7")
    assert not at.exception and not at.warning
    assert at.number_input(key="home_digit").value == 5
    assert at.number_input(key="home_seed").value == 7
    assert "test digit #5" in " ".join(m.value for m in at.markdown)  # the tour follows it
    assert copied_link(at).endswith("/?model=mnist-conv-16d&digit=5&seed=7")
    bad = open_link("home", digit="10000")
    assert "no test image #10000 (of 10,000)" in bad.warning[0].value


def test_sliders_copy_link_holds_model_z_and_class(no_user_models) -> None:
    at = open_link("sliders", model="mnist-cvae-2d", z="0.5,-1.25", label="3")
    assert copied_link(at).endswith("/sliders?model=mnist-cvae-2d&z=0.50,-1.25&label=3")


# --- Manifold, Latent scatter, Generate and the Sliders pad's layers (ui/view_links.py) ------
@pytest.mark.parametrize("page,params,want", [
    ("manifold", {"model": "mnist-conv-16d", "grid": "12", "range": "2.5",
                  "spacing": "quantile", "dim_x": "2", "dim_y": "5", "classmap": "on"},
     {"mf_n": 12, "mf_lim": 2.5, "mf_spacing": "quantile", "mf_dx": 2, "mf_dy": 5,
      "mf_class_map": True}),
    ("manifold", {"model": "mnist-conv-16d", "plane": "pca", "grid": "8"},
     {"mf_plane": "pca", "mf_n": 8}),
    ("manifold", {"model": "mnist-cvae-2d", "label": "7", "grid": "10"},
     {"mf_class": 7, "mf_n": 10}),
    ("manifold", {"model": "mnist-cvae-2d", "view": "style", "rows": "4", "styles": "random",
                  "seed": "11"}, {"mf_view": "style", "mf_rows": 4, "mf_style": "random",
                                  "mf_seed": 11}),
    ("scatter", {"model": "mnist-mlp-2d", "holes": "on", "field": "on", "opacity": "0.3"},
     {"scatter_holes": True, "scatter_field": True, "scatter_opacity": 0.3}),
    ("scatter", {"model": "mnist-cvae-2d", "field": "on", "field_class": "3"},
     {"scatter_field": True, "scatter_field_class": 3}),
    ("scatter", {"model": "mnist-mlp-50d", "projection": "pca", "opacity": "1",
                 "points": "3000"},
     {"scatter_projection": "PCA", "scatter_opacity": 1.0, "scatter_n": 3000}),
    ("generate", {"model": "mnist-cvae-2d", "tab": "posterior", "digit": "7", "n": "10",
                  "seed": "3", "label": "4"},
     {"gen_tab": "Posterior predictive", "gen_post_index": 7, "gen_post_n": 10,
      "gen_post_seed": 3, "gen_class": 4}),
    ("generate", {"model": "mnist-mlp-2d", "n": "16", "seed": "5", "per_row": "8"},
     {"gen_tab": "Prior samples", "gen_prior_n": 16, "gen_prior_seed": 5,
      "gen_prior_ncol": 8}),
    ("generate", {"model": "mnist-mlp-2d", "tab": "traversal", "digit": "4"},
     {"gen_trav_around": "a test digit's mean", "gen_trav_index": 4}),
    ("generate", {"model": "mnist-mlp-2d", "tab": "interpolation", "from": "3", "to": "9",
                  "steps": "7"},
     {"gen_tab": "Interpolation", "gen_interp_a": 3, "gen_interp_b": 9,
      "gen_interp_steps": 7}),
    ("generate", {"model": "mnist-conv-16d", "tab": "traversal", "around": "digit",
                  "digit": "12", "steps": "5", "range": "2"},
     {"gen_tab": "Traversal", "gen_trav_around": "a test digit's mean", "gen_trav_index": 12,
      "gen_trav_steps": 5, "gen_trav_lim": 2.0}),
    ("sliders", {"model": "mnist-mlp-2d", "z": "0.5,0.25", "holes": "on", "field": "on",
                 "cost": "on", "cost_digit": "42"},
     {"sl_holes": True, "sl_field": True, "sl_cost": True, "sl_cost_digit": 42}),
])
def test_a_view_link_sets_the_widgets_and_copy_link_gives_it_back(
        no_user_models, page: str, params: dict, want: dict) -> None:
    at = open_link(page, **params)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning, [w.value for w in at.warning]
    assert {k: at.session_state[k] for k in want} == want
    drawn = {getattr(w, "key", None): w.value for kind in ("slider", "number_input", "radio",
                                                           "selectbox", "toggle", "checkbox")
             for w in at.get(kind)}
    shown = [k for k in want if k in drawn]
    assert shown and {k: drawn[k] for k in shown} == {k: want[k] for k in shown}
    url = copied_link(at)
    assert url.startswith(f"/{page}?model={params['model']}&"), url
    again = open_link(page, **dict(parse_qsl(urlsplit(url).query)))
    assert not again.warning and {k: again.session_state[k] for k in want} == want
    assert copied_link(again) == url


@pytest.mark.parametrize("page", ["manifold", "scatter", "generate"])
def test_a_view_without_link_shows_the_defaults_and_links_only_the_model(
        no_user_models, page: str) -> None:
    at = open_link(page)
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert copied_link(at) == f"/{page}?model={DEFAULT_MODEL}"
    ck = get_model(str(BUNDLED_DIR / DEFAULT_MODEL))
    defaults = {p.key: p.start(ck) for p in VIEWS[page] if p.key in at.session_state}
    assert {k: at.session_state[k] for k in defaults} == defaults


def test_a_view_link_follows_the_users_changes(no_user_models) -> None:
    at = open_link("manifold", model="mnist-mlp-2d", grid="12")
    at.slider(key="mf_n").set_value(25).run()
    at.toggle(key="mf_class_map").set_value(True).run()
    assert copied_link(at) == "/manifold?model=mnist-mlp-2d&classmap=on&grid=25"


@pytest.mark.parametrize("page,params,needles", [
    ("manifold", {"grid": "99", "spacing": "log"}, ["grid='99' is not in 5..40",
                                                    "spacing='log' is not one of"]),
    ("manifold", {"plane": "pca", "view": "style"}, ["plane is not used here "
                                                     "(mnist-mlp-2d has no other plane)",
                                                     "view is not used here"]),
    ("manifold", {"model": "mnist-conv-16d", "dim_x": "16"}, ["dim_x='16' is not in 0..15"]),
    ("manifold", {"model": "mnist-cvae-2d", "view": "style", "grid": "9"},
     ["grid is not used by this view"]),
    ("scatter", {"projection": "umap", "holes": "maybe"}, ["projection is not used here",
                                                         "holes='maybe' is not one of"]),
    ("scatter", {"points": "100"}, ["points='100' is not in 500..10000"]),
    ("scatter", {"model": "mnist-conv-16d", "holes": "on", "z": "1,2"},
     ["holes is not used here (mnist-conv-16d is not 2-D)", "z is not used by this page"]),
    ("generate", {"tab": "bogus", "n": "x", "foo": "1"},
     ["tab='bogus' is not one of prior", "n='x' is not a whole number",
      "foo is not used by this page"]),
    ("generate", {"tab": "posterior", "digit": "10000", "label": "3"},
     ["digit='10000' is not in 0..9999", "label is not used here"]),
    ("generate", {"per_row": "8", "tab": "traversal"}, ["per_row is not used by this view"]),
    ("sliders", {"cost_digit": "-1", "holes": "on", "model": "mnist-conv-16d"},
     ["cost_digit='-1' is not in 0..9999", "holes is not used here"]),
])
def test_bad_view_links_open_the_page_with_one_warning(no_user_models, page: str,
                                                       params: dict, needles: list) -> None:
    at = open_link(page, **params)
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.warning) == 1, [w.value for w in at.warning]
    for needle in needles:
        assert needle in at.warning[0].value, at.warning[0].value


def test_every_linked_key_is_a_widget_key_of_its_page() -> None:
    root = Path(APP).parent
    sources = {"manifold": ["pages/manifold.py", "ui/class_maps.py"],
               "scatter": ["pages/scatter.py", "ui/plane_layers.py"],
               "generate": ["pages/generate.py", "ui/classes.py", "ui/generation.py"],
               "sliders": ["ui/plane_layers.py", "pages/sliders.py"],
               "compare": ["pages/compare.py"], "home": ["pages/home.py"],
               "replay": ["pages/replay.py"]}
    const = {v: k for k, v in vars(keys).items() if k.isupper() and isinstance(v, str)}
    for page, params in VIEWS.items():
        text = "".join((root / f).read_text() for f in sources[page])
        for p in (p for p in params if p.write is None):  # a writer sets its keys itself
            # the page names the key by its ui.keys constant, or a literal
            assert const[p.key] in text or f'"{p.key}"' in text, (page, p.key)
