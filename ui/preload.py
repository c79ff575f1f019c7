"""Warm the server before it answers its first health check.

Streamlit runs a page script only when a browser connects, so the first visitor used to wait
for `import torch` (~1.5 s on 2 cores), pandas, Plotly and the test set inside that first run.
app.py's lifespan hook calls `preload()` while the server starts: health answers only after
it, and every module is then already in `sys.modules` for the first page, and the default
model, its test set and the test set's codes are in Streamlit's shared resource cache.
"""

from __future__ import annotations

import importlib
import logging
import time

# What the pages import, heaviest first (the Styler pulls in jinja2 on first use).
MODULES = (
    "torch",
    "pandas",
    "pandas.io.formats.style",
    "plotly.graph_objects",
    "vae_core",
    "ui.state",
    "ui.derived",
    "ui.figures",
    "ui.latent_map",
    "ui.tour",
    "ui.latent_pad",
)


def preload() -> dict[str, float]:
    """Import MODULES, then fill the shared caches with the default model and its test set.

    Returns seconds spent per step (for logs and tests). A model or data that fails to load is
    left to the first page, which shows the error to the user."""
    spent = {}
    for name in MODULES:
        t0 = time.perf_counter()
        importlib.import_module(name)
        spent[name] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    _warm_default_model()
    spent["default model"] = round(time.perf_counter() - t0, 3)
    return spent


def _warm_default_model() -> None:
    # Deferred on purpose: preload() times these imports itself (torch, the ui layer), so
    # this module imports nothing heavy at its top.
    from ui.state import default_model, encoded, get_model, test_set
    from vae_core import VAEError

    # Outside a script run, Streamlit warns once per cached call that there is no session.
    quiet = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        ck = get_model(default_model())
        test_set(ck.train_config.dataset)
        encoded(ck)  # the tour's first step places the followed digit among the test codes
    except (VAEError, OSError):
        pass
    finally:
        quiet.setLevel(level)
