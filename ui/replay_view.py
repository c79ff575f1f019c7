"""The training replay view: a timeline scrubber and a play button over a `vae_core.Replay`,
drawing the posterior clouds, the loss curves with a cursor and the KL per dimension.

Used by pages/replay.py for a saved model and by the Train page for this session's run.
Play advances the scrubber from a fragment that reruns itself every PLAY_SECONDS; only the
fragment reruns, so the rest of the page stays as it is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from ui.replay_figures import (COLLAPSED_NATS, cloud_extent, kl_dims_bars, posterior_clouds,
                               project_frame, replay_curves, replay_plane)
from ui.share import copy_link, query
from vae_core import (REPLAY, Checkpoint, Replay, ReplayRecorder, VAEError, class_names,
                      has_replay, load_replay)

PLAY_SECONDS = 0.5
PLAY_FRAMES = 40  # a play goes through the whole run in about this many frames


@st.cache_resource(show_spinner="Loading the training replay...", max_entries=8)
def _load(path: str, mtime: float, latent_dim: int) -> Replay:
    return load_replay(path, latent_dim)  # shared read-only by every session


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
        return _load(str(ck.path), file.stat().st_mtime, ck.model_config.latent_dim)
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


def _toggle_play(key: str, n: int) -> None:
    playing = not st.session_state.get(f"{key}_playing", False)
    st.session_state[f"{key}_playing"] = playing
    if playing and st.session_state.get(f"{key}_frame", 0) >= n - 1:
        st.session_state[f"{key}_frame"] = 0  # play from the start once at the end


def _timeline(replay: Replay, classes: list[str], key: str, playing: bool,
              link: str | None) -> None:
    n = len(replay)
    frame_key = f"{key}_frame"
    if playing and st.session_state.get(f"{key}_playing"):  # a tick: the next frame
        nxt = min(n - 1, st.session_state.get(frame_key, 0) + max(1, n // PLAY_FRAMES))
        st.session_state[frame_key] = nxt
        if nxt == n - 1:
            st.session_state[f"{key}_playing"] = False
    c1, c2 = st.columns([1, 7], vertical_alignment="bottom")
    now_playing = st.session_state.get(f"{key}_playing", False)
    c1.button("Pause" if now_playing else "Play", key=f"{key}_play",
              icon=":material/pause:" if now_playing else ":material/play_arrow:",
              on_click=_toggle_play, args=(key, n), width="stretch")
    i = c2.slider("Training timeline (snapshot)", 0, n - 1, key=frame_key,
                  help="drag to scrub through training; each snapshot is one point in time")
    cap, share = st.columns([5, 1], vertical_alignment="center")
    cap.caption(frame_caption(replay, i))
    if link is not None:  # a link to this moment of this model's training
        with share:
            copy_link("replay", query(link, step=int(replay.step[i])), key=f"{key}_link")
    draw_frame(replay, i, classes, key)
    if now_playing != playing:  # started or stopped: the timer must start or stop too
        st.rerun()


def replay_view(replay: Replay, classes: list[str], key: str, link: str | None = None) -> None:
    """Scrubber, play button and the frame's figures; widget keys start with `key`. With
    `link` (a saved model's name), a "Copy link" to the snapshot shown."""
    n = len(replay)
    frame_key = f"{key}_frame"
    if st.session_state.get(frame_key, n - 1) > n - 1 or frame_key not in st.session_state:
        st.session_state[frame_key] = n - 1  # open at the trained model
    playing = bool(st.session_state.get(f"{key}_playing", False))
    st.fragment(run_every=PLAY_SECONDS if playing else None)(_timeline)(
        replay, classes, key, playing, link)


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
