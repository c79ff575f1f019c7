"""AppTest for the Train page's runs: a finished, unsaved run is never deleted by the next
run (of this or another session); only its own session can discard it; a new server lists
runs an earlier one left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import fill_form, wait_until_idle
from ui.training import TrainingManager, manager
from vae_core import CheckpointError, is_checkpoint

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def user_models(mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VAE_DATA_DIR", str(mnist_dir))
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(tmp_path / "user-models"))
    manager().jobs.clear()  # the server's manager outlives a test: start from no runs
    yield tmp_path / "user-models"
    for job in manager().jobs.values():  # never leave a thread running into the next test
        if job.running:
            job.stop()
            job.thread.join(60)
    manager().jobs.clear()


def train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def train_one_epoch(at: AppTest) -> None:
    fill_form(at, epochs=1, limit=200, hidden="16")
    at.button(key="tr_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    wait_until_idle(at)


def test_a_new_run_keeps_the_previous_unsaved_one(user_models: Path) -> None:
    at = train_page()
    train_one_epoch(at)
    (first,) = manager().jobs.values()
    assert is_checkpoint(first.run_dir)

    train_one_epoch(at)  # the same session starts another run without saving the first
    assert is_checkpoint(first.run_dir), "the first, unsaved run was deleted"
    assert len(manager().jobs) == 2
    keep = f"tr_keep_{first.id}"
    assert at.text_input(key=keep), "the earlier run is not offered for saving"

    other = train_page()  # another session: may save a copy, but never deletes the run
    train_one_epoch(other)
    assert is_checkpoint(first.run_dir)
    assert other.button(key=f"{keep}_discard").disabled
    with pytest.raises(CheckpointError, match="another session"):
        manager().discard(first, owner="someone-else")

    at.text_input(key=keep).set_value("kept-first")
    at.button(key=f"{keep}_save").click().run()
    assert not at.exception and is_checkpoint(user_models / "kept-first")
    at.button(key="tr_discard").click().run()  # the user says so: now it goes
    assert not at.exception
    assert len([j for j in manager().jobs.values() if j.owner == first.owner]) == 1


def test_runs_left_by_an_earlier_server_are_listed(user_models: Path) -> None:
    at = train_page()
    train_one_epoch(at)
    (job,) = manager().jobs.values()
    fresh = TrainingManager()  # what a restarted server builds
    (found,) = fresh.unsaved()
    assert found.id == job.id and found.owner == "" and found.saved_epochs() == 1
    fresh.discard(found, owner="a-new-session")  # anyone may decide about an orphan
    assert not job.run_dir.exists()


def test_every_config_field_is_in_the_cli_and_the_form() -> None:
    from ui.config_form import GROUPS, widget_key
    from vae_core import ModelConfig, TrainConfig, config_fields
    from vae_core.__main__ import build_parser

    train_cli = build_parser()._subparsers._group_actions[0].choices["train"]
    flags = {s for a in train_cli._actions for s in a.option_strings}
    in_groups = [n for names in GROUPS.values() for n in names]
    assert len(in_groups) == len(set(in_groups))
    at = train_page()
    keys = {w.key for kind in ("selectbox", "number_input", "text_input", "checkbox")
            for w in at.get(kind)}
    specs = config_fields(ModelConfig) + config_fields(TrainConfig)
    assert sorted(in_groups) == sorted(s.name for s in specs)
    for spec in specs:
        assert spec.flag in flags, spec.name
        assert widget_key(spec.name) in keys, spec.name
        assert spec.label and (spec.kind != "choice" or spec.default in spec.choices)


def test_form_keeps_its_values_across_pages(user_models: Path) -> None:
    at = train_page()
    at.selectbox(key="tr_arch").set_value("conv")
    at.number_input(key="tr_epochs").set_value(7)
    at.number_input(key="tr_lr").set_value(0.002)
    at.text_input(key="tr_channels").set_value("8, many")  # refused: nothing starts
    at.button(key="tr_start").click().run()
    assert any("not valid" in e.value for e in at.error)
    at.switch_page("pages/manifold.py").run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.selectbox(key="tr_arch").value == "conv"
    assert at.number_input(key="tr_epochs").value == 7
    assert at.number_input(key="tr_lr").value == 0.002
    assert at.text_input(key="tr_channels").value == "8, many"


def test_form_shows_the_running_runs_settings(user_models: Path) -> None:
    at = train_page()
    at.text_input(key="tr_hidden").set_value("24")
    at.number_input(key="tr_epochs").set_value(300)
    at.number_input(key="tr_limit").set_value(300)
    at.button(key="tr_start").click().run()
    assert not at.exception and [b for b in at.button if b.key == "tr_stop"]
    del at.session_state["tr_form_values"]  # only the run remembers its settings now
    at.switch_page("pages/sliders.py").run()
    at.switch_page("pages/train.py").run()
    assert at.text_input(key="tr_hidden").value == "24"
    assert at.number_input(key="tr_epochs").value == 300
    assert any("All settings of the running run" in e.label for e in at.expander)


def in_page_order(at: AppTest) -> list:
    """The main area's elements and blocks, depth first, in the order the page shows them."""
    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)
    return list(walk(at.main))


def test_every_save_is_confirmed_and_never_overwrites(user_models: Path) -> None:
    """Saving a run from the unsaved list said nothing (the run just left the list); a save
    names the model and where to find it, once. A taken name is refused, the model kept."""
    at = train_page()
    train_one_epoch(at)
    train_one_epoch(at)
    first, second = manager().jobs.values()
    keep = f"tr_keep_{first.id}"
    at.text_input(key=keep).set_value("kept")
    at.button(key=f"{keep}_save").click().run()
    assert not at.exception and is_checkpoint(user_models / "kept")
    said = [s.value for s in at.success if "kept" in s.value]
    assert len(said) == 1 and "kept (yours)" in said[0] and "picker" in said[0], said

    before = {p.name: p.read_bytes() for p in (user_models / "kept").iterdir()}
    at.text_input(key="tr_save_name").set_value("kept")
    at.button(key="tr_save").click().run()
    assert any("already exists" in e.value for e in at.error), [e.value for e in at.error]
    assert {p.name: p.read_bytes() for p in (user_models / "kept").iterdir()} == before
    assert not second.saved_as and [s for s in at.success if "kept" in s.value] == []

    at.text_input(key="tr_save_name").set_value("kept-too")
    at.button(key="tr_save").click().run()
    said = [s.value for s in at.success if "kept-too" in s.value]
    assert len(said) == 1 and "picker" in said[0], said  # the run's own line, not two


def test_a_taken_training_slot_is_said_at_the_top(user_models: Path) -> None:
    """Another replica holds the machine's one training slot: the top of the page said 'No
    training run in this session yet' and the refusal appeared under the long form."""
    from vae_core import acquire_training_slot

    slot = acquire_training_slot(user_models, "20260101-000000-other", server="replica 2")
    try:
        at = train_page()
        assert not [i for i in at.info if "No training run" in i.value]
        (busy,) = [w for w in at.warning if "replica 2" in w.value]
        assert "refused" in busy.value

        fill_form(at, epochs=1, limit=200, hidden="16")
        at.button(key="tr_start").click().run()
        assert not at.exception and not manager().jobs
        assert not [i for i in at.info if "No training run" in i.value]
        (refused,) = [w for w in at.warning if "replica 2" in w.value]
        assert refused.value.startswith("Not started")
        assert [t for t in at.toast if "top of the page" in t.value]  # seen from the form
        order = in_page_order(at)
        form = next(i for i, n in enumerate(order) if getattr(n, "type", "") == "form")
        assert order.index(refused) < form, "the refusal is under the form"
    finally:
        slot.release()
