"""The replay player: a components-v2 element that plays a training replay in the browser.

Every snapshot of the replay travels to the page once, as one binary blob (float16 plane
coordinates and covariances of the followed images, the loss series, KL per dimension: 0.1-2
MB for the bundled models) served by Streamlit's media file store, like the latent pad's
weights (see ui/latent_pad for why not in `data`). `data` carries only the blob's content hash,
size, URL and layout, plus the axes and labels; the page keeps blobs by hash in a module-level
map, so reruns, remounts and page switches never fetch one twice.

The browser draws the clouds (means and 1-sigma ellipses by class), the loss curves with their
cursor and the KL bars on canvases once per animation frame while playing or scrubbing, with
no rerun: between two snapshots it blends them linearly. Python hears the position only when
the user pauses or lets go of the scrubber (`on_pause(frame)`, a state callback), which keeps
Copy link's step= right; Python's frame (from a link) moves the player on the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import streamlit as st
from streamlit import runtime

from ui.figures import CURVE_COLORS, CURVE_NAMES
from ui.frontend_modules import FOLDER, component
from ui.replay_figures import COLLAPSED_NATS, cloud_extent, player_ranges, replay_plane
from vae_core import CLASS_COLORS, Replay

FRONTEND = FOLDER / "replay_player"
NAME = "latent_explorer.replay_player"
MIME = "application/octet-stream"
EPOCHS_PER_SECOND = 3.0  # 1x speed: a 40-epoch run plays in about 13 s
PLAY_SECONDS = (6.0, 20.0)  # ... and any run in 6 to 20 s at 1x
# ui/frontend/replay_player/player.js and the modules it imports, served from ui/frontend
# (ui.frontend_modules)
_mount = component(NAME, js="replay_player/player.js", css="replay_player/player.css")


def play_seconds(replay: Replay) -> float:
    """How long the whole run plays at 1x."""
    epochs = float(replay.epoch[-1] - replay.epoch[0]) if len(replay) else 0.0
    return min(PLAY_SECONDS[1], max(PLAY_SECONDS[0], epochs / EPOCHS_PER_SECOND))


def _url(data: bytes, key: str) -> str | None:
    """The blob's media URL (None outside a server, e.g. in AppTest)."""
    if not runtime.exists():
        return None
    return runtime.get_instance().media_file_mgr.add(data, MIME, f"{NAME}.{key}")


def _paused(key: str, n: int, on_pause: Callable[[int], None]) -> None:
    """State callback: the page paused or the scrubber was let go. Takes only a snapshot
    index of this replay."""
    value = (st.session_state[key] or {}).get("position") or {}
    frame = value.get("frame")
    if isinstance(frame, int) and not isinstance(frame, bool) and 0 <= frame < n:
        on_pause(frame)


def replay_player(replay: Replay, classes: list[str], frame: int, key: str,
                  frames: tuple[list[dict[str, Any]], str, bytes],
                  on_pause: Callable[[int], None], autoplay: bool = False) -> None:
    """Draw the player over `replay` at snapshot `frame`.

    `frames`: ui.derived.replay_frames of this replay (layout, hash, bytes). `on_pause(i)` runs
    as a callback, before the script, when the user pauses, reaches the end or lets go of
    the scrubber at snapshot i. With `autoplay` the page plays the run once from the start
    when it first shows this replay (never when the browser asks for reduced motion).
    """
    layout, digest, data = frames
    mean, dirs, titles = replay_plane(replay)
    plane = "latent plane" if replay.latent_dim <= 2 else "plane of the final PCA"
    ranges = player_ranges(replay)
    payload = {
        "frame": int(frame), "autoplay": bool(autoplay),
        "replay": {"hash": digest, "bytes": len(data), "url": _url(data, key),
                   "layout": layout, "what": "the training replay"},
        "snapshots": len(replay), "points": len(replay.index), "dims": replay.latent_dim,
        "classes": list(classes), "colors": CLASS_COLORS,
        "curves": {"colors": CURVE_COLORS, "names": CURVE_NAMES},
        "extent": cloud_extent(replay, mean, dirs), "axes": titles,
        "title": f"q(z|x) of {len(replay.index)} test images, {plane}: means and 1σ ellipses",
        "collapsed": COLLAPSED_NATS, "left": ranges["left"], "right": ranges["right"],
        "bars": ranges["bars"], "seconds": round(play_seconds(replay), 2),
    }
    _mount(key=key, data=payload, on_position_change=partial(_paused, key, len(replay),
                                                             on_pause))
