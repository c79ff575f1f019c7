"""The training replay view: the browser player (ui.replay_player) over a `vae_core.Replay`,
which plays the posterior clouds, the loss curves' cursor and the KL per dimension at display
rate with no rerun, and a "Copy link" to the snapshot it last paused at.

Used by pages/replay.py for a saved model and by the Train page for this session's run (live
while it trains: the newest snapshot as Plotly figures, refreshed with the progress).
"""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from ui.derived import replay_frames
from ui.replay_figures import (COLLAPSED_NATS, cloud_extent, kl_dims_bars, posterior_clouds,
                               project_frame, replay_curves, replay_plane)
from ui.replay_player import replay_player
from ui.share import copy_link, query
from ui.state import replay
from vae_core import (REPLAY, Checkpoint, Replay, ReplayRecorder, VAEError, class_names,
                      has_replay)


def model_replay(ck: Checkpoint) -> Replay:
    """The replay saved with a model, or stop the page with a message saying why there is
    none (or why it cannot be read; the model itself stays usable)."""
    file = Path(ck.path) / REPLAY
    if not has_replay(ck.path):
        st.info(f"**{ck.name}** has no training replay. Models trained with this version of "
                "the app or the command line record one (the bundled mnist-mlp-2d has one); "
                "pick such a model in the sidebar, or train one on the Train page.",
                icon=":material/history:")
        st.stop()
    try:
        return replay(str(ck.path), file.stat().st_mtime, ck.model_config.latent_dim)
    except VAEError as e:
        st.error(f"The training replay of **{ck.name}** cannot be shown: {e}. The model "
                 "itself is fine; the other pages use it as usual.")
        st.stop()


def replay_classes(dataset: str, labels: np.ndarray) -> list[str]:
    """Class names for the legend: the dataset's, else 'class k'."""
    if dataset in ("mnist", "fashion-mnist"):
        return class_names(dataset)
    return [f"class {k}" for k in range(int(labels.max()) + 1)]


def frame_caption(replay: Replay, i: int) -> str:
    """One line on snapshot i: where in training, and its losses."""
    text = f"step {int(replay.step[i]):,} · epoch {replay.epoch[i]:.2f}"
    if replay.epoch_end[i]:
        text += " (end of the epoch)"
    if np.isfinite(replay.loss[i]):
        text += (f" · training −ELBO {replay.loss[i]:.1f} = reconstruction "
                 f"{replay.recon[i]:.1f} + KL {replay.kl[i]:.2f} nats")
    else:
        text += " · before the first step"
    collapsed = int((replay.kl_dims[i] < COLLAPSED_NATS).sum())
    return text + f" · {collapsed} of {replay.latent_dim} dimensions unused"


def draw_frame(replay: Replay, i: int, classes: list[str], key: str,
               curves: bool = True) -> None:
    """The clouds and the KL bars of snapshot i (and the curves with their cursor)."""
    mean, dirs, titles = replay_plane(replay)
    xy, covs = project_frame(replay, i, mean, dirs)
    plane = "latent plane" if replay.latent_dim <= 2 else "plane of the final PCA"
    fig = posterior_clouds(xy, covs, replay.labels, classes, cloud_extent(replay, mean, dirs),
                           titles, title=f"q(z|x) of {len(replay.index)} test images, "
                                         f"{plane}: means and 1σ ellipses")
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(fig, key=f"{key}_clouds", config={"displayModeBar": False})
    with c2:
        if curves:
            st.plotly_chart(replay_curves(replay, i), key=f"{key}_curves",
                            config={"displayModeBar": False})
        st.plotly_chart(kl_dims_bars(replay.kl_dims[i], float(replay.kl_dims.max())),
                        key=f"{key}_kl", config={"displayModeBar": False})
        st.caption(f"KL per latent dimension, mean over the followed images. Grey bars "
                   f"(under {COLLAPSED_NATS} nats) are dimensions the encoder ignores: "
                   "their posterior is the prior (posterior collapse).")


def _frames(replay: Replay, source: str | None) -> tuple[list[dict[str, Any]], str, bytes]:
    """The player's blob, cached per model folder (its replay file's mtime) or, for this
    session's run, per snapshot count, last step and a digest of the last snapshot."""
    if source is not None:
        return replay_frames(source, str((Path(source) / REPLAY).stat().st_mtime), replay)
    last = hashlib.blake2b(np.ascontiguousarray(replay.mu[-1]).tobytes(), digest_size=8)
    stamp = f"{len(replay)}:{int(replay.step[-1])}:{last.hexdigest()}"
    return replay_frames("run", stamp, replay)


def _hold(key: str, frame: int) -> None:
    st.session_state[f"{key}_frame"] = frame  # the player paused here


def replay_view(replay: Replay, classes: list[str], key: str, link: str | None = None,
                source: str | None = None, autoplay: bool = False) -> None:
    """The browser player over `replay`, at the snapshot `<key>_frame` in session state
    holds (the last one at first; a shared link's step sets it). With `link` (a saved model's
    name), a "Copy link" to the snapshot the player last paused at. `source`: the model
    folder the replay was read from (None: this session's run). `autoplay`: play the run
    once when this session first opens it here (not after a link or a pause)."""
    n, frames = len(replay), _frames(replay, source)
    frame_key, seen_key = f"{key}_frame", f"{key}_seen"
    autoplay = autoplay and frame_key not in st.session_state
    seen = st.session_state.get(seen_key)  # (blob hash, snapshot) drawn last
    frame = st.session_state.get(frame_key, -1)
    # Open at the trained model: at first, and for a new replay (another model, a new run)
    # unless something else (a link's step=) has moved the frame since the last one drew.
    if not 0 <= frame <= n - 1 or (seen and seen[0] != frames[1] and seen[1] == frame):
        st.session_state[frame_key] = n - 1
    i = int(st.session_state[frame_key])
    st.session_state[seen_key] = (frames[1], i)
    if link is not None:  # a link to this moment of this model's training
        _, share = st.columns([5, 1], vertical_alignment="center")
        with share:
            copy_link("replay", query(link, step=int(replay.step[i])), key=f"{key}_link")
    replay_player(replay, classes, i, key=f"{key}_player", frames=frames,
                  on_pause=partial(_hold, key), autoplay=autoplay)


def run_replay(recorder: ReplayRecorder | None, dataset: str, live: bool) -> None:
    """The Train page's replay of this session's run: while it trains, the newest snapshot
    (it refreshes with the progress); once it is over, the scrubber over the whole run."""
    replay = recorder.snapshot() if recorder is not None else None
    if replay is None:
        return
    classes = replay_classes(dataset, replay.labels)
    if live:
        st.caption(f"Training replay, live: the posteriors of {len(replay.index)} test images "
                   f"now ({frame_caption(replay, len(replay) - 1)}).")
        draw_frame(replay, len(replay) - 1, classes, "tr_live", curves=False)
    elif len(replay) > 1:
        with st.expander("Training replay of this run", expanded=True,
                         icon=":material/history:"):
            replay_view(replay, classes, key="tr_replay")
