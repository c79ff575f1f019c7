"""AppTest for the Train page: a one-epoch run saved under a name (bad names refused), a
second start refused while one runs, Stop keeping its epochs, missing data, invalid settings
and a diverged run as errors; the runs: a finished, unsaved run is never deleted by the next
run (of this or another session); only its own session can discard it; a new server lists
runs an earlier one left behind; the form and its messages; the training chart's scales."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import fill_form, open_page, wait_until_idle
from latent_pad_helpers import pad
from streamlit.testing.v1 import AppTest

from ui.keys import MODEL_KEY
from ui.training import TrainingManager, manager
from vae_core import CheckpointError, is_checkpoint, load_checkpoint

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


# --- a run from start to save, refusals and errors -------------------------------------------
@pytest.fixture
def train_env(mnist_dir: Path, user_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VAE_DATA_DIR", str(mnist_dir))
    yield user_models
    from ui.training import manager

    job = manager().job  # never leave a thread running into the next test
    if job is not None and job.thread is not None:
        job.stop()
        job.thread.join(60)


def test_train_one_epoch_then_save_as(train_env: Path) -> None:
    at = open_page("train")
    fill_form(at, epochs=1, limit=300)
    at.button(key="tr_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    wait_until_idle(at)
    assert any("Finished: 1 epoch" in s.value for s in at.success), [s.value for s in at.success]
    # the time to quality: 300 images for one epoch are far from a good 2-D model's 142
    assert any(c.value.startswith("Best test -ELBO") and "not yet ≤ 142" in c.value
               for c in at.caption), [c.value for c in at.caption]
    assert at.text_input(key="tr_save_name").value  # a suggested name

    for bad in ["../evil", "mnist-mlp-2d", "con"]:  # path trick, bundled name, reserved name
        at.text_input(key="tr_save_name").set_value(bad)
        at.button(key="tr_save").click().run()
        assert not at.exception
        assert any("Not saved" in e.value for e in at.error), bad
    assert not any(train_env.glob("*evil*"))

    at.text_input(key="tr_save_name").set_value("my-first-vae")
    at.button(key="tr_save").click().run()
    assert not at.exception and not at.error
    dest = train_env / "my-first-vae"
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "metrics.json",
                                                     "model.safetensors", "replay.safetensors"]
    assert at.session_state[MODEL_KEY] == str(dest)
    picker = at.sidebar.selectbox(key=MODEL_KEY)
    assert str(dest) in picker.options or "my-first-vae (yours)" in picker.options
    assert picker.value == str(dest)
    assert load_checkpoint(dest).metrics["epochs"] == 1
    at.switch_page("pages/sliders.py").run()  # the new model drives the other pages
    assert not at.exception and pad(at)


def test_second_start_is_refused_and_stop_keeps_epochs(train_env: Path) -> None:
    at = open_page("train")
    fill_form(at, epochs=200, limit=500, hidden="16")
    at.button(key="tr_start").click().run()
    assert not at.exception and [b for b in at.button if b.key == "tr_stop"]
    at.button(key="tr_start").click().run()
    assert any("already in progress" in w.value for w in at.warning)
    other = open_page("train")  # another session of the same server is refused too
    fill_form(other, epochs=1, limit=100)
    other.button(key="tr_start").click().run()
    assert any("already in progress" in w.value for w in other.warning)
    manifold = open_page("manifold")  # other pages stay usable meanwhile
    assert len(manifold.get("plotly_chart")) == 1

    from ui.training import manager

    end = time.time() + 60
    while not manager().job.progress.snapshot()["history"] and time.time() < end:
        time.sleep(0.2)  # let one epoch complete
    at.button(key="tr_stop").click().run()
    wait_until_idle(at)
    assert any("Stopped" in i.value and "kept" in i.value for i in at.info)
    assert at.text_input(key="tr_save_name")  # a stopped run with >= 1 epoch can be saved


def test_missing_training_data_is_an_error(user_models: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "nowhere"))
    at = open_page("train")
    fill_form(at, epochs=1, limit=100)
    at.button(key="tr_start").click().run()
    assert not at.exception
    assert any("VAE_DATA_DIR" in e.value for e in at.error)


def test_invalid_settings_are_an_error(user_models: Path) -> None:
    at = open_page("train")
    at.text_input(key="tr_hidden").set_value("512, many")
    at.button(key="tr_start").click().run()
    assert not at.exception
    assert any("not valid" in e.value for e in at.error)


def test_diverged_run_shows_its_error(train_env: Path) -> None:
    at = open_page("train")
    fill_form(at, epochs=2, limit=500, hidden="16")
    at.selectbox(key="tr_optimizer").set_value("sgd")
    at.number_input(key="tr_lr").set_value(10.0)
    at.button(key="tr_start").click().run()
    wait_until_idle(at)
    assert any("training stopped" in e.value for e in at.error), [e.value for e in at.error]
    assert not [w for w in at.text_input if w.key == "tr_save_name"]  # no epoch: nothing to save


# --- the training chart ----------------------------------------------------------------------
def fake_training_snapshot(epochs: int = 3, spe: int = 200) -> dict:
    """Steps whose first loss is ~4x the rest (as in every real run), per-epoch history."""
    rng = np.random.default_rng(0)
    steps = []
    for g in range(epochs * spe):
        loss = 150 + 450 * np.exp(-g / 10) + rng.normal(0, 3)
        kl = 5 + 10 * np.exp(-g / 5) + rng.normal(0, 0.2)
        steps.append({"global_step": g, "loss": loss, "recon": loss - kl, "kl": kl})
    hist = [{"epoch": e, "train_loss": 160.0 - e, "train_recon": 154.0 - e,
             "train_kl": 6.0 + e / 10, "test_loss": 158.0 - e, "test_recon": 152.0 - e,
             "test_kl": 6.1 + e / 10} for e in range(1, epochs + 1)]
    return {"steps": steps, "steps_per_epoch": spe, "history": hist}


def test_training_chart_is_readable_after_the_first_steps() -> None:
    """The per-step chart was scaled to the first-step spike and the KL axis had ticks such as
    7.92 and 6.14 (synced to the left axis's grid)."""
    from ui.training_figures import training_figure

    snap = fake_training_snapshot()
    fig = training_figure(snap)
    later = [s for s in snap["steps"] if s["global_step"] >= 40]
    lo, hi = fig.layout.yaxis.range  # per-step loss / recon axis
    assert hi < snap["steps"][0]["loss"] / 2  # the spike is off the scale...
    assert hi >= np.percentile([s["loss"] for s in later], 99)  # ...the rest is not
    assert lo <= np.percentile([s["recon"] for s in later], 1)
    klo, khi = fig.layout.yaxis2.range
    assert khi < snap["steps"][0]["kl"] and klo <= np.percentile([s["kl"] for s in later], 1)
    for axis in (fig.layout.yaxis2, fig.layout.yaxis4):  # the KL axes
        assert axis.tickmode == "auto" and axis.nticks
    # Too few steps to tell the spike from the rest: Plotly's own range.
    early = training_figure({**snap, "steps": snap["steps"][:3]})
    assert early.layout.yaxis.range is None
