"""The latent pad: a components-v2 element that decodes z in the browser while the user drags.

The browser runs the decoder exported by `vae_core.export_decoder`
(ui/frontend/latent_pad/decoder.js, plain Float32Array loops) once per animation frame, draws
to canvases at the device pixel ratio, and calls `setStateValue` only on release: z then lands
in session state through `on_release`. ui/frontend/latent_pad/pad.js is the host module (its
header names the others); ui.frontend_modules serves the folder, so they load as real ES
modules.
Python stays the source of truth: buttons that write z make the pad follow on the next run.

How the big payloads travel, and why. A v2 component's `data` is part of the element's delta,
so it is sent on every rerun (this app also disables Streamlit's message cache). The decoder's
weights (0.3-2.7 MB for the bundled models), the encoded test digits and their images (4 MB),
and the plane layers (hole map and round-trip field, 11 KB, see ui.plane_layers) therefore
never go in `data`. (The per-pixel cost's target, one test image of 784 numbers, does while
the cost is on: it changes with the picker, and a blob per image would buy nothing.) Each is
a blob registered with Streamlit's media file manager, the store behind `st.image` URLs: its
bytes are served over HTTP from memory, as
`application/octet-stream`, with no base64 and no JSON. `data` carries only each blob's
content hash, size and media URL; the page fetches a hash once and keeps it in module-level
maps, which outlive reruns, remounts and page switches. Each release also reports the hashes
the page holds; from then on this session's runs omit those URLs, so they skip even the media
store's hashing of the bytes (about 12 ms per run for 6 MB on this machine). A page that lacks
a blob and has no URL for it (an expired URL, say) asks for it with the "need" trigger, once.

Static serving (`server.enableStaticServing`) would need files written into the repository
per model and a config change; a "send the bytes in data only when asked" protocol would
cost an extra rerun per model and sends the bytes over the websocket anyway.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import streamlit as st
from streamlit import runtime

from ui.frontend_modules import component, hooks_wanted
from ui.derived import class_mean_codes
from ui.keys import ACK_KEY, HAVE_KEY
from ui.plane_layers import (FIELD_COLOUR, HOLE_CELLS, HOLE_FULL, HOLE_RATIO, PadLayers,
                             cost_target, pad_arrays)
from ui.state import browser_classifier, browser_decoder, pad_images, pad_points, test_set
from vae_core import CLASS_COLORS, Checkpoint, VAEError, payload_hash

NAME = "latent_explorer.latent_pad"
KEY = "latent_pad"
MAX_DIMS = 64
MAX_WEIGHT_BYTES = 64 * 2**20  # beyond this the download and the decode would both be slow
POINTS = 5000  # test digits on the 2-D plane; their images as uint8 are 3.9 MB
TILES = 15  # manifold tiles per side under the plane (tile centres span [-range, range])
MIME = "application/octet-stream"

# ui/frontend/latent_pad/pad.js and the modules it imports, served from ui/frontend
# (ui.frontend_modules)
_mount = component(NAME, js="latent_pad/pad.js", css="latent_pad/pad.css")


@dataclass(frozen=True)
class Blob:
    """Bytes served once per page, named by their content hash."""

    hash: str
    data: bytes

    @classmethod
    def of(cls, data: bytes) -> Blob:
        return cls(payload_hash(data), data)


def _decoder(ck: Checkpoint) -> tuple[list[dict[str, Any]], Blob] | str:
    """The exported decoder of one checkpoint, or why it cannot run in the browser."""
    got = browser_decoder(ck)
    if isinstance(got, str):
        return got
    spec, digest, data = got
    if len(data) > MAX_WEIGHT_BYTES:
        return f"its decoder has {len(data) / 2**20:.0f} MB of weights"
    return spec, Blob(digest, data)


def _reader(ck: Checkpoint) -> tuple[list[dict[str, Any]], Blob] | None:
    """The classifier that reads the decoded digit in the page: MNIST models only (it reads
    digits), None when it is missing or damaged (the page then shows no live reading)."""
    if ck.train_config.dataset != "mnist":
        return None
    try:
        spec, digest, data = browser_classifier()
    except (VAEError, OSError):
        return None
    return spec, Blob(digest, data)


def unavailable(ck: Checkpoint) -> str | None:
    """Why this model cannot be decoded in the browser (None when it can)."""
    zdim = ck.model_config.latent_dim
    if zdim > MAX_DIMS:
        return f"z has {zdim} dimensions (the pad takes up to {MAX_DIMS})"
    got = _decoder(ck)
    return got if isinstance(got, str) else None


def _ref(blob: Blob, what: str, kind: str, extra: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    """The JSON that names a blob; with a media URL unless the page already holds it."""
    url = None
    if blob.hash not in st.session_state.get(HAVE_KEY, set()):
        if runtime.exists():
            # One coordinate per kind: a new model's blob replaces the old one's registration.
            url = runtime.get_instance().media_file_mgr.add(blob.data, MIME, f"{KEY}.{kind}")
    return {"hash": blob.hash, "bytes": len(blob.data), "url": url, "what": what,
            **(extra or {})}


def _released(on_release: Callable[[list[float]], None], zdim: int) -> None:
    """State callback: the page let go of z. Takes only a well-formed code."""
    value = st.session_state[KEY]["release"] or {}
    st.session_state[HAVE_KEY] = {h for h in value.get("have") or [] if isinstance(h, str)}
    st.session_state[ACK_KEY] = str(value.get("n"))
    z = value.get("z")
    if (isinstance(z, list) and len(z) == zdim
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in z)):
        on_release([float(v) for v in z])


def _needed() -> None:
    """Trigger callback: the page lacks a blob; send every URL again on this run."""
    st.session_state[HAVE_KEY] = set()


def payload_sizes(ck: Checkpoint) -> dict[str, int]:
    """Bytes of each blob this model's pad fetches once (for the benchmark and the docs)."""
    _, blob = _decoder(ck)
    sizes = {"decoder": len(blob.data)}
    if ck.model_config.latent_dim == 2 and ck.model.has_encoder:
        sizes["points"] = len(pad_points(ck, POINTS)[1])
        sizes["images"] = len(pad_images(ck.train_config.dataset, POINTS)[1])
    reader = _reader(ck)
    if reader:
        sizes["reader"] = len(reader[1].data)
    return sizes


def latent_pad(ck: Checkpoint, z: list[float], r: float, dims: list[str],
               on_release: Callable[[list[float]], None], label: int | None = None,
               layers: PadLayers | None = None) -> None:
    """Draw the pad for model `ck` at code z (sliders over [-r, r], labelled `dims`).

    `on_release(z)` runs as a callback, before the script, when the user lets go. Call
    `unavailable(ck)` first: this assumes the decoder exports. A conditional model needs the
    class `label`: the browser decodes the digit and the plane's manifold with its one-hot
    (the plane's test digits are then their style codes, encoded under their own labels).
    `layers`: the hole map and round-trip field to draw on a 2-D plane, and the test digit
    whose per-pixel cost the page computes against the decoded digit. A 2-D unconditional
    model's plane also gets each class's mean code (`class_means`), for its digit keys.
    """
    n_labels = ck.model.n_labels
    if n_labels and (label is None or not 0 <= label < n_labels):
        raise ValueError(f"{ck.name} is conditional: give a class label 0..{n_labels - 1}, "
                         f"got {label}")
    if not n_labels and label is not None:
        raise ValueError(f"{ck.name} is unconditional: it takes no class label")
    spec, weights = _decoder(ck)
    data: dict[str, Any] = {
        "z": [float(v) for v in z], "ack": st.session_state.get(ACK_KEY), "range": float(r),
        "tiles": TILES, "dims": list(dims),
        "decoder": _ref(weights, "the decoder", "decoder", {"spec": spec}),
        "points": None, "images": None, "classes": [], "colors": CLASS_COLORS,
        "label": None if label is None else int(label), "reader": None,
        "layers": None, "cost": None, "class_means": None, "test_hooks": hooks_wanted(),
    }
    layers = layers or PadLayers()
    if layers.cost_index is not None:
        data["cost"] = cost_target(ck, layers.cost_index)
    reader = _reader(ck)
    if reader:
        data["reader"] = _ref(reader[1], "the digit classifier", "reader", {"spec": reader[0]})
    if len(z) == 2 and ck.model.has_encoder:  # the plane's dots are encoded test digits (a
        # model without an encoder gets the sliders, as a model of more dimensions does)
        dataset = ck.train_config.dataset
        _, labels, classes = test_set(dataset)
        points = Blob(*pad_points(ck, POINTS))
        data["points"] = _ref(points, "the test digits", "points", {"n": min(POINTS, len(labels))})
        data["images"] = _ref(Blob(*pad_images(dataset, POINTS)), "their images", "images")
        data["classes"] = list(classes)
        if not n_labels:  # the plane's digit keys jump to a class's mean code (a CVAE's
            # codes are style alone: its classes share one mean)
            data["class_means"] = [[round(float(v), 4) for v in m]
                                   for m in class_mean_codes(ck)]
        if layers.holes or layers.field:
            # hole map and field come cached (ui.plane_layers); joining them costs ~0.1 ms
            blob = Blob.of(pad_arrays(ck, float(r), TILES, data["label"]))
            data["layers"] = {
                "holes": layers.holes, "field": layers.field, "cells": HOLE_CELLS,
                "from": math.log(HOLE_RATIO), "to": math.log(HOLE_FULL), "colour": FIELD_COLOUR,
                "arrays": _ref(blob, "the hole map and round-trip field", "layers")}
    _mount(key=KEY, data=data, on_release_change=partial(_released, on_release, len(z)),
           on_need_change=_needed)
