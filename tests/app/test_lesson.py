"""Lesson views (ui/lesson.py): the flags read from a URL or the server, kept in the address
on every page, enforced for a server lesson; the teacher's Lesson link panel; and the link
corrections and defaults of ui/share.py (AppTest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.lesson import (ENV_LESSON, HIDE_FLAGS, PANEL_KEY, Lesson, lan_address, lesson_url,
                       locked_path, parse_lesson, parse_lesson_text)
from ui.keys import MODEL_KEY
from ui.state import ENV_USER_DIR

APP = str(Path(__file__).resolve().parents[2] / "app.py")
REPO = Path(APP).parent


# --- pure: parse, query, union -----------------------------------------------------------------
def test_parse_lesson_reads_hide_and_lock_and_names_the_rest() -> None:
    lesson, problems = parse_lesson({"hide": "Train,upload", "lock": "model",
                                     "model": "mnist-conv-2d", "z": "1,2"})
    assert lesson == Lesson(frozenset({"train", "upload"}), frozenset({"model"}),
                            "mnist-conv-2d") and not problems
    assert lesson.query() == {"hide": "train,upload", "lock": "model", "model": "mnist-conv-2d"}
    assert parse_lesson(lesson.query())[0] == lesson
    loose, problems = parse_lesson({"hide": "home,train", "lock": "everything",
                                    "model": "mnist-conv-2d"})
    assert loose == Lesson(frozenset({"train"}))  # a model without lock is no lesson's
    assert problems == ["hide=home is not a flag here (known: compare, generate, manifold, "
                        "reconstruct, replay, scatter, sliders, train, upload)",
                        "lock=everything is not a flag here (known: model)"]
    assert "home" not in HIDE_FLAGS


def test_a_server_lesson_is_a_query_string_and_every_mistake_is_named() -> None:
    assert parse_lesson_text("?hide=train,upload&lock=model")[0] == Lesson(
        frozenset({"train", "upload"}), frozenset({"model"}))
    _, problems = parse_lesson_text("hide=train&model=mnist-mlp-2d&z=1")
    assert problems == ["z is not a lesson parameter (hide, lock, model)",
                        "model needs lock=model"]


def test_lessons_add_up_and_a_kept_model_hides_the_upload() -> None:
    server = Lesson(frozenset({"train"}), frozenset({"model"}), "mnist-conv-2d")
    link = Lesson(frozenset({"compare"}), frozenset(), None)
    both = server | link
    assert both.hide == {"train", "compare"} and both.locked and both.model == "mnist-conv-2d"
    assert (Lesson(lock=frozenset({"model"}), model="a") | Lesson(model="b")).model == "a"
    assert both.hides("upload") and not Lesson(frozenset({"train"})).hides("upload")
    assert not Lesson() and Lesson(lock=frozenset({"model"}))


def test_lesson_url_can_hand_out_the_lan_address() -> None:
    lesson = Lesson(frozenset({"upload", "train"}), frozenset({"model"}), "mnist-mlp-2d")
    assert (lesson_url("http://localhost:8501/sliders?z=1", "", lesson, "192.168.1.20")
            == "http://192.168.1.20:8501/?hide=train,upload&lock=model&model=mnist-mlp-2d")
    assert lesson_url("https://class.example.org/", "manifold", Lesson()) == (
        "https://class.example.org/manifold")
    ip = lan_address()
    assert ip is None or (ip.count(".") == 3 and not ip.startswith("127."))


def test_locked_path_prefers_the_bundled_model_else_keeps_the_current() -> None:
    models = {"m (yours)": "/u/m", "m (bundled)": "/c/m", "n (uploaded)": "/t/n"}
    keep = Lesson(lock=frozenset({"model"}), model="m")
    assert locked_path(keep, models, "/c/x") == "/c/m"
    assert locked_path(Lesson(lock=frozenset({"model"}), model="zz"), models, "/c/x") == "/c/x"
    assert locked_path(Lesson(lock=frozenset({"model"})), models, "/t/n") == "/t/n"


@pytest.mark.parametrize("text,reason", [
    ("hide=train,homework", "hide=homework is not a flag here"),
    ("lock=model&model=mnist-mlp-2d&seed=1", "seed is not a lesson parameter"),
    ("", "it leaves nothing out"),
])
def test_deploy_refuses_a_lesson_it_cannot_read_in_one_line(text: str, reason: str) -> None:
    res = subprocess.run([sys.executable, "-m", "deploy", "--replicas", "1", "--lesson", text],
                         cwd=REPO, text=True, capture_output=True, timeout=120)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"deploy: --lesson {text!r}: ")
    assert reason in res.stderr, res.stderr


# --- the app (AppTest) -------------------------------------------------------------------------
@pytest.fixture
def no_user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))
    monkeypatch.delenv(ENV_LESSON, raising=False)


def open_link(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(params)
    if page != "home":
        at.switch_page(f"pages/{page}.py")
    return at.run()


def copied_link(at: AppTest) -> str:
    return next(c.value for c in at.main.get("code"))


def sidebar_text(at: AppTest) -> str:
    return " ".join(str(getattr(e, "label", "") or getattr(e, "value", ""))
                    for kind in ("expander", "selectbox", "caption", "markdown")
                    for e in at.sidebar.get(kind))


LESSON = {"model": "mnist-conv-2d", "hide": "train,upload", "lock": "model"}


def test_a_lesson_link_keeps_its_model_and_stays_in_the_address(no_user_models) -> None:
    at = open_link("sliders", z="1,-1", **LESSON)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning, [w.value for w in at.warning]
    assert Path(at.session_state[MODEL_KEY]).name == "mnist-conv-2d"
    assert not at.sidebar.selectbox  # no model picker
    assert "Upload a model" not in sidebar_text(at) and "Lesson link" not in sidebar_text(at)
    assert "This lesson keeps its model." in sidebar_text(at)
    url = copied_link(at)  # Copy link carries the lesson
    assert url == "/sliders?model=mnist-conv-2d&z=1.00,-1.00&hide=train,upload&lock=model", url
    at.query_params.clear()  # a menu click: the new page's address has no query
    at.switch_page("pages/manifold.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params == LESSON  # written back: a reload keeps it
    assert Path(at.session_state[MODEL_KEY]).name == "mnist-conv-2d" and not at.sidebar.selectbox
    assert "hide=train,upload&lock=model" in copied_link(at)


def test_a_lesson_link_keeps_its_own_spelling(no_user_models) -> None:
    """Rewritten, the address would look like a new link to follow (e2e: the user's change
    survives)."""
    at = open_link("sliders", model="mnist-mlp-2d", z="1,1", hide="upload,train,compare")
    assert at.query_params["hide"] == "upload,train,compare"  # the same flags: left alone


def test_a_page_a_lesson_hides_shows_the_note(no_user_models) -> None:
    at = open_link("train", hide="train")
    assert not at.exception, [e.value for e in at.exception]
    assert "**Train** is not part of this lesson" in at.info[0].value
    assert not at.get("form")  # not the Train page's form


def test_a_server_lesson_holds_whatever_the_url_says(no_user_models,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_LESSON, "hide=train,compare&lock=model&model=mnist-conv-2d")
    at = open_link("train", model="mnist-mlp-2d", hide="sliders")
    assert not at.exception, [e.value for e in at.exception]
    assert "**Train** is not part of this lesson" in at.info[0].value
    assert "model='mnist-mlp-2d' is not this lesson's: it keeps mnist-conv-2d" in (
        at.warning[0].value)
    sliders = open_link("sliders", z="0.5,0.5")
    assert not sliders.exception and not sliders.sidebar.selectbox
    assert Path(sliders.session_state[MODEL_KEY]).name == "mnist-conv-2d"
    assert "Upload a model" not in sidebar_text(sliders)
    assert copied_link(sliders) == "/sliders?model=mnist-conv-2d&z=0.50,0.50"  # the server's
    assert open_link("compare").info[0].value.startswith("**Compare** is not part")


def test_the_lesson_panel_builds_the_link(no_user_models) -> None:
    at = open_link("sliders")
    assert not at.exception
    assert "Lesson link" in [e.label for e in at.sidebar.expander]
    assert not at.sidebar.checkbox, "closed, the panel builds none of its widgets"
    at.session_state[PANEL_KEY] = True  # the teacher opens it (it reruns on open)
    at.run()
    at.sidebar.checkbox(key="lesson_hide_train").check()
    at.sidebar.checkbox(key="lesson_hide_compare").check()
    at.sidebar.checkbox(key="lesson_lock").check().run()
    at.sidebar.selectbox(key="lesson_start").set_value("sliders").run()
    code = [c.value for c in at.sidebar.get("code")]
    assert code[0].endswith("/sliders?hide=compare,train&lock=model&model=mnist-mlp-2d"), code
    at.sidebar.checkbox(key="lesson_lock").uncheck().run()  # the link still opens this model
    code = [c.value for c in at.sidebar.get("code")]
    assert code[0].endswith("/sliders?hide=compare,train&model=mnist-mlp-2d"), code
    at.session_state[PANEL_KEY] = False  # closed and opened again: the choices are kept
    at.run()
    assert not at.sidebar.checkbox
    at.session_state[PANEL_KEY] = True
    at.run()
    assert at.sidebar.checkbox(key="lesson_hide_train").value
    assert at.sidebar.selectbox(key="lesson_start").value == "sliders"


# --- corrections are named; no default values in a copied link ---------------------------------
def test_a_z_beyond_the_sliders_is_moved_and_named(no_user_models) -> None:
    at = open_link("sliders", model="mnist-mlp-2d", z="50,-50")
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["sl_code"] == [10.0, -10.0]
    assert len(at.warning) == 1
    assert "z=50,-50 is beyond the sliders' range ±10: (10, -10) is shown" in at.warning[0].value


def test_a_step_past_the_end_is_moved_and_named(no_user_models) -> None:
    at = open_link("replay", model="mnist-mlp-2d", step="99999999")
    assert not at.exception, [e.value for e in at.exception]
    assert "step=99999999 is past the end of training" in at.warning[0].value
    assert "the last snapshot is shown" in at.warning[0].value


def test_copied_links_hold_no_default_values(no_user_models) -> None:
    assert copied_link(open_link("sliders")) == "/sliders?model=mnist-mlp-2d"
    assert copied_link(open_link("sliders", z="0,0.001")) == "/sliders?model=mnist-mlp-2d"
    home = open_link("home", model="mnist-mlp-2d", seed="1234", digit="0")
    assert copied_link(home) == "/?model=mnist-mlp-2d"
    assert copied_link(open_link("home", seed="9")) == "/?model=mnist-mlp-2d&seed=9"
