"""The first page's critical path (see bench/coldstart.py for the timed figure): a fresh process
that renders the first page imports neither torchvision (1.3-2.7 s, it pulls in torch._dynamo)
nor scipy (0.5 s): the page needs neither."""

from __future__ import annotations

from pathlib import Path

from apptest_helpers import run_fresh

_SCRIPT = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120).run()
print(json.dumps({"exceptions": [e.value for e in at.exception],
                  "title": [t.value for t in at.title], "images": len(at.get("image")),
                  "heavy": [m for m in ("torchvision", "scipy") if m in sys.modules]}))
"""


def test_first_page_renders_without_torchvision_or_scipy(tmp_path: Path) -> None:
    res = run_fresh(_SCRIPT, tmp_path / "models")
    assert res["exceptions"] == [] and res["title"] == ["How a VAE works"]
    assert res["images"] >= 1, res  # the digit and its decodings were drawn
    assert res["heavy"] == [], res
