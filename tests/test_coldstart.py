"""The first page's critical path (see bench/coldstart.py for the timed figure): a fresh process
that renders the first page imports neither torchvision (1.3-2.7 s, it pulls in torch._dynamo)
nor scipy (0.5 s): the page needs neither."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120).run()
print(json.dumps({"exceptions": [e.value for e in at.exception],
                  "title": [t.value for t in at.title], "images": len(at.get("image")),
                  "heavy": [m for m in ("torchvision", "scipy") if m in sys.modules]}))
"""


def test_first_page_renders_without_torchvision_or_scipy(tmp_path: Path) -> None:
    env = dict(os.environ, VAE_USER_MODELS_DIR=str(tmp_path / "models"))
    out = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=REPO_ROOT, env=env, check=False,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["exceptions"] == [] and res["title"] == ["How a VAE works"]
    assert res["images"] >= 1, res  # the digit and its decodings were drawn
    assert res["heavy"] == [], res
