"""The server warms itself before answering health (ui/preload.py via app.py's st.App
lifespan), so the first visitor does not wait for `import torch` and the default model."""

from __future__ import annotations

from pathlib import Path

from apptest_helpers import run_fresh
from streamlit.web.server.app_discovery import discover_asgi_app

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_streamlit_run_finds_the_asgi_app_with_the_lifespan() -> None:
    found = discover_asgi_app(REPO_ROOT / "app.py")
    assert found.is_asgi_app and found.import_string == "app:app"


_SCRIPT = """
import json, sys
import ui.state as state
from ui.preload import preload
spent = preload()

def refuse(path):
    raise AssertionError("loaded again: preload did not fill the cache")

state.load_checkpoint = refuse
ck = state.get_model(str(state.BUNDLED_DIR / state.DEFAULT_MODEL))
images, labels, classes = state.test_set(ck.train_config.dataset)
state.encode_dataset = refuse  # the codes come from the cache too
mu, logvar = state.encoded(ck)
print(json.dumps({"spent": spent, "n": len(images), "codes": len(mu),
                  "torch": "torch" in sys.modules}))
"""


def test_preload_imports_torch_and_caches_the_default_model(tmp_path: Path) -> None:
    res = run_fresh(_SCRIPT, tmp_path / "models")
    assert res["torch"] and res["n"] == res["codes"] == 10_000
    assert {"torch", "vae_core", "default model"} <= set(res["spent"])
