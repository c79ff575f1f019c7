"""The latent pad in a Jupyter notebook: `vae_core.explore(model)` returns an anywidget.

The widget runs the app's own pad (ui/frontend/latent_pad/*.js, the ES modules Streamlit
serves): anywidget loads one module text, so its entry, widget.js, gets the folder's module
sources in a traitlet and links them into blob: URLs in the page (no bundler, no build step,
nothing fetched). The payloads are the app's, built by vae_core.pad_data: the decoder's layer
spec and float32 weights, and for a 2-D model the plane's encoded test digits and their
images, plus the digit classifier for MNIST models. They travel as binary traitlets
(bytes -> DataView in the page), once per widget. The browser decodes z at display rate and
sends it back on release only: `w.z` then changes, and `w.observe(fn, names="z")` hears it.

anywidget is an optional dependency (`pip install latent-explorer[notebook]`): it is imported
when a widget is first made, so vae_core imports without it.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import Checkpoint
from .errors import VAEError
from .export import spec_classes
from .model import VAE
from .pad_data import POINTS, pad_payload
from .resources import load, root

PAD_FOLDER = Path("ui") / "frontend" / "latent_pad"  # under vae_core.resources.root()
ENTRY = "widget.js"
# The pad's CSS reads Streamlit's theme variables; in Jupyter it takes the notebook's text
# colour and font (a dark theme stays legible; the canvases keep their white ground).
NOTEBOOK_CSS = """
.latent-pad-widget .lp { --st-text-color: var(--jp-content-font-color1, #31333f);
  --st-font: var(--jp-ui-font-family, sans-serif); position: relative; padding: 4px 0; }
"""


def pad_sources() -> dict[str, str]:
    """The pad's ES modules by file name (not the node tests), for widget.js to link."""
    folder = root() / PAD_FOLDER
    files = sorted(p for p in folder.glob("*.js")
                   if not p.name.endswith(".test.js") and p.name not in ("fixture.js", ENTRY))
    if not files:
        raise VAEError(f"the latent pad's modules are missing from {folder}")
    return {p.name: p.read_text(encoding="utf-8") for p in files}


def _as_model(model_or_path: Any) -> tuple[VAE, str, str]:
    """(model, its name, the data set its plane shows) of what explore() was given."""
    if isinstance(model_or_path, (str, Path)):
        model_or_path = load(model_or_path)  # CheckpointError with one line when it can't
    if isinstance(model_or_path, Checkpoint):
        ck = model_or_path
        return ck.model, ck.name, ck.train_config.dataset
    if isinstance(model_or_path, VAE):
        return model_or_path, type(model_or_path).__name__, "mnist"
    raise VAEError("explore takes a checkpoint folder or bundled model name, a Checkpoint or "
                   f"a VAE, not {type(model_or_path).__name__}")


def check_code(z: Any, zdim: int) -> list[float]:
    """z as a list of zdim finite floats, or ValueError with one line."""
    try:
        values = [float(v) for v in z]
    except (TypeError, ValueError):
        raise ValueError(f"z must be {zdim} numbers, got {z!r}") from None
    if len(values) != zdim or not all(math.isfinite(v) for v in values):
        raise ValueError(f"z must be {zdim} finite numbers, got {z!r}")
    return values


def check_label(label: Any, n_labels: int) -> int | None:
    """The class a conditional model decodes (None for an unconditional one), or ValueError."""
    if not n_labels:
        if label is not None:
            raise ValueError("this model is unconditional: it takes no class label")
        return None
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) \
            or not 0 <= label < n_labels:
        raise ValueError(f"this model is conditional: give a class label 0..{n_labels - 1}, "
                         f"got {label!r}")
    return int(label)


def fitting_range(z: list[float], r: float = 3.0) -> float:
    """The pad's range: r (under the prior almost all codes lie within ±3), widened to a
    whole number that holds z."""
    need = max((abs(v) for v in z), default=0.0)
    return float(r) if need <= r else float(math.ceil(need))


def explore(model_or_path: Any, z: Any = None, label: int | None = None,
            points: int = POINTS, dataset: str | None = None) -> Any:
    """The latent pad of a model as a notebook widget (an anywidget.AnyWidget).

    `model_or_path`: a checkpoint folder (ours or a foreign ONNX folder) or a bundled model's
    name (vae_core.load), a Checkpoint, or an in-memory VAE. `z`: the starting code (0);
    `label`: the class of a conditional model (0); `points`: how many test digits the plane
    of a 2-D model shows; `dataset`: the test set they come from (a checkpoint's own; MNIST
    for a bare VAE). The widget's `z` (list of floats) follows the pad on release and moves
    it when set from Python; `label` and `range` too. Raises VAEError with one line when the
    model cannot be shown (a layer the page cannot run, too many dimensions, a bad path)."""
    model, name, own = _as_model(model_or_path)
    zdim = int(model.cfg.latent_dim)
    try:
        code = check_code([0.0] * zdim if z is None else z, zdim)
        y = check_label(0 if label is None and model.n_labels else label, model.n_labels)
    except ValueError as e:
        raise VAEError(f"{name}: {e}") from None
    data, blobs = pad_payload(model, dataset or own, points)
    cls = widget_class()
    return cls(_data=data, _modules=pad_sources(), model_name=name, z=code, label=y,
               range=fitting_range(code), **{f"_{k}_bytes": v for k, v in blobs.items()})


@functools.cache
def widget_class() -> type:
    """The widget class, made on first use: anywidget is imported only here (an optional
    dependency), so vae_core imports without it."""
    try:
        import anywidget  # deferred: optional (pip install latent-explorer[notebook])
        import traitlets as t  # deferred with anywidget: ipywidgets brings it
    except ImportError:
        raise VAEError("the notebook widget needs anywidget: "
                       "pip install 'latent-explorer[notebook]'") from None
    folder = root() / PAD_FOLDER

    class LatentPad(anywidget.AnyWidget):
        """The latent pad: `z` (synced on release), `label` (conditional models), `range`."""

        _esm = (folder / ENTRY).read_text(encoding="utf-8")
        _css = (folder / "pad.css").read_text(encoding="utf-8") + NOTEBOOK_CSS
        z = t.List().tag(sync=True)  # floats: _valid_z checks and converts them
        label = t.Any(None).tag(sync=True)  # an int or None, checked by _valid_label
        label.allow_none = False  # (Any lets None skip the validator: a CVAE needs a class)
        range = t.Float(3.0).tag(sync=True)
        model_name = t.Unicode("").tag(sync=True)
        _data = t.Dict().tag(sync=True)
        _modules = t.Dict().tag(sync=True)
        _decoder_bytes = t.Bytes(None, allow_none=True).tag(sync=True)
        _points_bytes = t.Bytes(None, allow_none=True).tag(sync=True)
        _images_bytes = t.Bytes(None, allow_none=True).tag(sync=True)
        _reader_bytes = t.Bytes(None, allow_none=True).tag(sync=True)

        @t.validate("z")
        def _valid_z(self, proposal: Any) -> list[float]:
            try:
                return check_code(proposal["value"], len(self._data["dims"]))
            except ValueError as e:
                raise t.TraitError(str(e)) from None

        @t.validate("label")
        def _valid_label(self, proposal: Any) -> int | None:
            try:
                return check_label(proposal["value"], spec_classes(self._data["decoder"]["spec"]))
            except ValueError as e:
                raise t.TraitError(str(e)) from None

        @t.validate("range")
        def _valid_range(self, proposal: Any) -> float:
            r = float(proposal["value"])
            if not math.isfinite(r) or r <= 0:
                raise t.TraitError(f"range must be a positive number, got {r!r}")
            return r

        @t.observe("z")
        def _fit_range(self, change: Any) -> None:
            # a code set from Python beyond the sliders widens them, as the app's buttons do
            self.range = fitting_range(change["new"], self.range)

        @t.observe("range")
        def _keep_code(self, change: Any) -> None:
            # a narrower range clips z, as the app's range input does (the sliders could not
            # show it otherwise)
            r = change["new"]
            if any(abs(v) > r for v in self.z):
                self.z = [min(max(v, -r), r) for v in self.z]

    return LatentPad

