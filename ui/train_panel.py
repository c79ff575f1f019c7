"""The Train page's run panel: the session's current run (live progress, charts, save or
discard), another session's run in progress, and the unsaved runs waiting for a decision."""

from __future__ import annotations

import hashlib
import time
import uuid

import streamlit as st

from ui.keys import DISCARD_ERROR, MODEL_KEY, OWNER_KEY, SAVED_KEY
from ui.replay_view import run_replay
from ui.state import user_dir
from ui.training_figures import recon_strip, training_figure
from ui.training import (
    DIVERGED,
    FAILED,
    FINISHED,
    RUNNING,
    STOPPED,
    TrainingJob,
    TrainingManager,
    save_run,
)
from vae_core import CheckpointError, VAEError, max_training_runs, slot_holders



def session_owner() -> str:
    """Who owns the runs this session starts: the browser (its XSRF cookie, which outlives a
    page reload), else this session alone. Only a hash of the cookie is kept."""
    if OWNER_KEY not in st.session_state:
        cookie = st.context.cookies.get("_streamlit_xsrf") if st.context.cookies else None
        st.session_state[OWNER_KEY] = hashlib.sha256(cookie.encode()).hexdigest()[:16] \
            if cookie else uuid.uuid4().hex
    return st.session_state[OWNER_KEY]


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


# Test -ELBO (nats, grey-level MNIST) of a good 2-D model: the defaults reach it in about 30 s
# on 2 cores (docs/models.md), so the page says when a 2-D MNIST run first gets there.
QUALITY_TARGET = 142.0


def fmt_seconds(seconds: float | None) -> str:
    """'27.4 s' under a minute (the time to quality is a matter of seconds), else m:ss."""
    if seconds is None or seconds >= 60:
        return fmt_time(seconds)
    return f"{seconds:.1f} s"


def quality_line(history: list[dict], target: float | None = QUALITY_TARGET) -> str | None:
    """The run's time to quality: its best test -ELBO so far and the wall time since Start at
    which it came, and when the test -ELBO first fell to `target` (None: no target). None
    before the first evaluated epoch."""
    scored = [h for h in history if h.get("test_loss") is not None]
    if not scored:
        return None
    best = min(scored, key=lambda h: h["test_loss"])
    text = (f"Best test -ELBO {best['test_loss']:.1f} after epoch {best['epoch']} "
            f"({fmt_seconds(best.get('wall_s'))} after Start)")
    if target is not None:
        hit = next((h for h in scored if h["test_loss"] <= target), None)
        text += (f" · first ≤ {target:g} after epoch {hit['epoch']}, "
                 f"{fmt_seconds(hit.get('wall_s'))} after Start" if hit else
                 f" · not yet ≤ {target:g}")
    return text


def run_summary(job: TrainingJob) -> str:
    """One line: architecture, objective, optimizer and data of a run."""
    m, t = job.model_cfg, job.train_cfg
    layers = m.hidden if m.arch == "mlp" else m.channels
    started = time.strftime("%H:%M:%S", time.localtime(job.progress.snapshot()["started"]))
    return (f"{m.arch.upper()} {layers} · z={m.latent_dim} · {m.likelihood} · β={t.beta} · "
            f"{t.optimizer} lr={t.lr:g} {t.lr_schedule} · batch {t.batch_size} · {t.precision} · "
            f"{t.epochs} epochs · "
            f"{job.n_images:,} {t.dataset} images · started {started}")


def _save(job: TrainingJob, key: str) -> None:
    """Save-as callback: runs before the script, so it may switch the picker's model."""
    try:
        dest = save_run(job, st.session_state.get(key, ""))
    except CheckpointError as e:
        st.session_state[f"{key}_error"] = str(e)
        return
    st.session_state.pop(f"{key}_error", None)
    st.session_state[MODEL_KEY] = str(dest)
    st.session_state[SAVED_KEY] = job.id


def saved_line(name: str) -> str:
    """The one-line confirmation of a save."""
    return (f"Saved as **{name}**: it is the active model now, listed as **{name} (yours)** "
            "in the sidebar's model picker.")


def _discard(mgr: TrainingManager, job: TrainingJob) -> None:
    try:
        mgr.discard(job, session_owner())
    except CheckpointError as e:
        st.session_state[DISCARD_ERROR] = str(e)


def keep_or_discard(mgr: TrainingManager, job: TrainingJob, key: str,
                    buttons: tuple[str, str] | None = None) -> None:
    """Save-as name (widget `key`), Save and Discard (keys `buttons`, by default `key`_save
    and `key`_discard) for a finished run with at least one epoch."""
    save_key, discard_key = buttons or (f"{key}_save", f"{key}_discard")
    t, m = job.train_cfg, job.model_cfg
    c1, c2, c3 = st.columns([4, 1, 1], vertical_alignment="bottom")
    c1.text_input("Save as", f"{t.dataset}-{m.arch}-z{m.latent_dim}-{job.id[-6:]}", key=key,
                  max_chars=64, help="letters, digits, '-', '_' or '.'; it becomes the active "
                                     "model")
    c2.button("Save", key=save_key, type="primary", on_click=_save, args=(job, key),
              width="stretch")
    mine = mgr.may_discard(job, session_owner())
    c3.button("Discard", key=discard_key, on_click=_discard, args=(mgr, job),
              width="stretch", disabled=not mine,
              help="delete this run's checkpoint for good" if mine else
                   "another session started this run: only it can discard the run")
    if st.session_state.get(f"{key}_error"):
        st.error(f"Not saved: {st.session_state[f'{key}_error']}")


def live(job: TrainingJob, was_running: bool) -> None:
    """Progress, charts and reconstructions; reruns every second while the job runs."""
    snap = job.progress.snapshot()
    if was_running and snap["status"] != RUNNING:
        st.rerun()  # the whole page: the Save-as form appears, polling stops
    e, spe = max(snap["epoch"], snap["start_epoch"] + 1), snap["steps_per_epoch"]
    text = (f"epoch {min(e, snap['epochs'])}/{snap['epochs']} · step {snap['step']}/{spe or '?'}"
            f" · elapsed {fmt_time(snap['elapsed'])} · ETA {fmt_time(snap['eta'])}")
    c1, c2 = st.columns([6, 1], vertical_alignment="bottom")
    c1.progress(snap["fraction"], text=text)
    if snap["status"] == RUNNING:
        c2.button("■ Stop", key="tr_stop", on_click=job.stop, width="stretch",
                  help="stop after the current step; the last complete epoch is kept")
    m = job.model_cfg
    target = QUALITY_TARGET if m.latent_dim == 2 and job.train_cfg.dataset == "mnist" else None
    quality = quality_line(snap["history"], target)
    if quality:
        st.caption(quality)
    st.plotly_chart(training_figure(snap), key="tr_chart", config={"displayModeBar": False})
    if snap["status"] == RUNNING:
        run_replay(job.replay, job.train_cfg.dataset, live=True)
    if snap["originals"] is not None:
        done = len(snap["history"])
        st.image(recon_strip(snap["originals"], snap["recon"]),
                 caption="Top: 16 fixed test digits. Bottom: their reconstructions after epoch "
                         f"{done}." if done else "Top: 16 fixed test digits. Their "
                         "reconstructions appear after the first epoch.", output_format="PNG",
                 alt="16 test images in a row, their reconstructions in the row under them")


def current_run(mgr: TrainingManager, job: TrainingJob) -> None:
    """This session's newest run: live while it trains, then its outcome and Save/Discard."""
    snap = job.progress.snapshot()
    st.header(f"Run {job.id}")
    st.caption(run_summary(job))
    running = snap["status"] == RUNNING
    st.fragment(run_every=1.0 if running else None)(live)(job, running)
    n_saved = job.saved_epochs()
    if snap["status"] == FINISHED:
        st.success(f"Finished: {n_saved} epoch(s) trained and checkpointed.")
    elif snap["status"] == STOPPED:
        st.info(f"Stopped. {n_saved} complete epoch(s) kept." if n_saved else
                "Stopped before the first epoch ended: nothing was saved.")
    elif snap["status"] in (DIVERGED, FAILED):
        st.error(snap["error"] + (f" ({n_saved} epoch(s) kept.)" if n_saved and
                                  snap["status"] == FAILED else ""))
    if running or not n_saved:
        return
    run_replay(job.replay, job.train_cfg.dataset, live=False)
    if job.saved_as:
        st.success(saved_line(job.saved_as), icon=":material/check_circle:")
    else:
        st.markdown("**Keep this model?** It stays here, unsaved, until you save or discard it.")
        keep_or_discard(mgr, job, "tr_save_name", ("tr_save", "tr_discard"))


def busy_elsewhere(mgr: TrainingManager) -> str | None:
    """Who holds the machine's training slots when this server runs nothing (another replica,
    say), or None: Start would be refused."""
    try:
        holders = [] if mgr.busy else slot_holders(user_dir())
        if len(holders) < max_training_runs():
            return None
    except VAEError:  # a bad $VAE_MAX_TRAINING: Start says so
        return None
    return "; ".join(h.describe() for h in holders)


def run_panel(mgr: TrainingManager, refused: str | None = None) -> None:
    """Everything above the form: why Start is (or was just) refused, the current run, another
    session's run, the run a Save just kept, unsaved runs."""
    owner = session_owner()
    mine = mgr.latest(owner)
    other = mgr.running_job()
    elsewhere = None if refused or other is not None else busy_elsewhere(mgr)
    if refused:
        st.warning(refused, icon=":material/hourglass_top:")
    elif elsewhere:
        st.warning(f"The machine's training slot is taken ({elsewhere}): **Start training** is "
                   "refused until that run ends.", icon=":material/hourglass_top:")
    if mine is not None and mine.id in mgr.jobs:
        current_run(mgr, mine)
    if other is not None and other.owner != owner:
        snap = other.progress.snapshot()
        st.info(f"Another session is training on this server (epoch "
                f"{max(snap['epoch'], 1)}/{snap['epochs']}): {run_summary(other)}. One run at "
                "a time per server: Start is refused until it ends.")
    saved = mgr.jobs.get(st.session_state.pop(SAVED_KEY, ""))
    if saved is not None and saved is not mine and saved.saved_as:  # mine says it itself
        st.success(saved_line(saved.saved_as), icon=":material/check_circle:")
    waiting = [j for j in mgr.unsaved() if j is not mine]
    if waiting:
        with st.expander(f"Unsaved runs ({len(waiting)})", expanded=mine is None):
            st.caption("Finished runs that nobody saved yet, yours or other sessions' (or left "
                       "by an earlier server). They stay until saved or discarded; only the "
                       "session that started a run can discard it.")
            for j in waiting:
                st.markdown(f"**{j.id}** · {j.saved_epochs()} epoch(s) · {run_summary(j)}")
                keep_or_discard(mgr, j, f"tr_keep_{j.id}")
    if st.session_state.get(DISCARD_ERROR):
        st.error(f"Not discarded: {st.session_state.pop(DISCARD_ERROR)}")
    if mine is None and other is None and not waiting and not refused and not elsewhere:
        st.info("No training run in this session yet. Choose the settings below and press "
                "**Start training**.")
