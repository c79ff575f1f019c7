"""Browser components served as real ES modules from one folder, ui/frontend/ (a subfolder
per component; the replay player imports the pad's canvas module from its sibling).

A components-v2 element takes its JavaScript either inline (one string, which the page turns
into a blob: URL, so `import "./x.js"` cannot resolve) or as a file of the component's
`asset_dir`, served under `/_stcore/bidi-components/<name>/` and imported by URL: then a
module's relative imports load its siblings from the same folder, as in node. Streamlit
grants an `asset_dir` only to components declared in an *installed* package's pyproject.toml
(`[tool.streamlit.component]`, found by streamlit.components.v2.manifest_scanner at server
start). This app also runs from a plain clone (`streamlit run app.py`, nothing installed), and
installed its files live in vae_core/share, whose distribution carries no pyproject.toml.

So `component()` declares the folder itself, the way the manifest scanner would: it hands the
running server's component manager a `ComponentManifest` naming the folder, through
`BidiComponentManager.register_from_manifest` (what discovery calls for each installed
package). That is not documented API: tests/app/test_pad_modules.py checks it on the installed
Streamlit (the element's js is a file path and the server serves every module), and the e2e
tests load the pages. AppTest and each server have their own manager, so the declaration is
made once per manager, on the first mount.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest
from streamlit.runtime import Runtime

UI = Path(__file__).resolve().parent
ASSET_DIR = "frontend"  # ui/frontend: JavaScript and CSS only, all the server serves
FOLDER = UI / ASSET_DIR
HOOKS_ENV = "VAE_TEST_HOOKS"  # "1": pages define their window.* test hooks


def hooks_wanted() -> bool:
    """Whether the browser components define their test hooks (window globals the e2e tests
    and benchmarks read): only when the server runs with VAE_TEST_HOOKS=1."""
    return os.environ.get(HOOKS_ENV) == "1"


def serve_folder(manager: Any, name: str, package: Path = UI) -> None:
    """Declare `package`/frontend (ui/frontend) as the asset_dir of component `name`
    ("owner.component") on one component manager, unless it knows it already."""
    if manager.get_component_asset_root(name) is not None:
        return
    owner, _, component = name.partition(".")
    manager.register_from_manifest(
        ComponentManifest(name=owner, version="0",
                          components=[ComponentConfig(name=component, asset_dir=ASSET_DIR)]),
        package)


def component(name: str, js: str, css: str) -> Callable[..., Any]:
    """A mount function for the component `name` whose modules live in ui/frontend: `js`
    (the entry module, with a default export) and `css` are paths there, e.g.
    "latent_pad/pad.js"."""
    declared: weakref.WeakSet[Any] = weakref.WeakSet()  # managers that know the folder
    mount: list[Callable[..., Any]] = []

    def mounted(**kwargs: Any) -> Any:
        manager = Runtime.instance().bidi_component_registry
        if manager not in declared:
            serve_folder(manager, name)
            mount[:] = [st.components.v2.component(name, js=js, css=css)]
            declared.add(manager)
        return mount[0](**kwargs)

    return mounted
