"""AppTest helpers for the latent pad (ui/latent_pad): read what the page sent it, and act as
its JavaScript would (a release sends z, the "need" trigger asks for the blobs again).

AppTest cannot run the component's JavaScript and has no API for a v2 component's state, so
`release` and `need` build the widget-state message the browser would send and run the
script with it (AppTest's own `_run`, which every widget's `.run()` ends in).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.testing.v1 import AppTest

_SEQ = itertools.count()


def pad(at: AppTest) -> Any | None:
    """The latent pad element of the last run, or None."""
    found = [e for e in at.get("bidi_component")
             if e.proto.component_name == "latent_explorer.latent_pad"]
    assert len(found) <= 1, f"{len(found)} latent pads on one page"
    return found[0] if found else None


def pad_data(at: AppTest) -> dict[str, Any]:
    """The JSON `data` the page gave the pad on its last run."""
    el = pad(at)
    assert el is not None, "no latent pad on the page"
    return json.loads(el.proto.json)


def _send(at: AppTest, fill) -> AppTest:
    el = pad(at)
    assert el is not None, "no latent pad on the page"
    states: WidgetStates = at._tree.get_widget_states()
    fill(states.widgets.add(), el.proto.id)
    return at._run(states)


def release(at: AppTest, z: list[float], have: list[str] | tuple[str, ...] = ()) -> AppTest:
    """What the page does when the user lets go of the pad or a slider at z."""
    value = {"release": {"z": list(z), "n": f"test-{next(_SEQ)}", "have": list(have)}}

    def fill(w, pad_id: str) -> None:
        w.id = pad_id
        w.json_value = json.dumps(value)

    return _send(at, fill)


def need(at: AppTest, blob_hash: str) -> AppTest:
    """What the page does when it lacks a blob and has no URL for it."""

    def fill(w, pad_id: str) -> None:
        w.id = _make_trigger_id(pad_id, "events")  # all of a component's triggers
        w.json_trigger_value = json.dumps([{"event": "need", "value": blob_hash}])

    return _send(at, fill)
