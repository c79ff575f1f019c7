"""The Streamlit protocol client (bench/st_client.py) and its load run (bench/loadtest_ws.py)
against a real `streamlit run app.py`: one server for the module, always stopped.

The client must see what a user sees: a slider move gives a new decoded image (new media URL,
caption with the new z0), an upload gives a reconstruction, a non-image upload gives the app's
error alert (not an exception), and HTTP errors raise. Then 2 sessions x 8 s of the load run
must act on both pages without errors.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.loadtest import Server, digit_pngs, run_async
from bench.loadtest_ws import DECODED, PAD, RECON, run_phase
from bench.st_client import HttpError, StClient

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def test_client_sees_new_images_and_errors(server: Server) -> None:
    png = digit_pngs(1)[0]

    async def go() -> None:
        c = StClient(server.url, timeout=60)  # the first run loads the model and test set
        await c.connect()
        try:
            assert {"sliders", "reconstruct"} <= set(c.pages), c.pages
            await c.goto("sliders")  # the latent pad: the browser decodes, z comes back
            assert any("z on the server: (0.00, 0.00)" in t for t in c.captions()), c.captions()
            await c.set_component_state(PAD, {"release": {"z": [0.05, 0.0], "n": "1"}})
            assert c.last_status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY  # @st.fragment
            assert any("z on the server: (0.05, 0.00)" in t for t in c.captions()), c.captions()

            await c.goto("reconstruct")
            assert c.image(DECODED) is None and c.image(RECON) is None  # old page cleared
            await c.upload(png, "digit.png")
            rec = c.image(RECON)
            assert rec is not None and len(await c.fetch(rec.url)) > 100
            assert c.problems() == [] and c.take_errors() == []

            await c.upload(b"not an image", "x.png")
            assert c.image(RECON) is None
            problems = c.problems()
            assert any(p.startswith("error alert: Cannot use 'x.png'") for p in problems), problems
            assert not any(p.startswith("exception") for p in problems), problems
            with pytest.raises(HttpError, match="HTTP 403"):  # a PUT without the XSRF token
                await c.http("PUT", f"/_stcore/upload_file/{c.session_id}/x", b"x")
        finally:
            await c.close()

    run_async(go())


def test_two_sessions_act_on_both_pages(server: Server) -> None:
    assert server.proc is not None
    res = run_async(run_phase(server.url, 2, 8.0, 30.0, digit_pngs(4), server.proc.pid))
    assert res["errors"] == 0, res["error_samples"]
    assert res["slider"]["n"] >= 2 and res["upload"]["n"] >= 2, res
    assert res["navigation"]["n"] >= 2, res
    assert res["cpu"]["client_s"] < res["cpu"]["server_s"], res["cpu"]


def test_a_release_and_an_upload_rerun_only_what_depends_on_them(server: Server) -> None:
    """A pad release reruns the pad's fragment, not the controls above it; an upload reruns
    Reconstruct's image views, not the sidebar (what the server sends again is what ran)."""
    png = digit_pngs(1, start=300)[0]

    async def go() -> None:
        c = StClient(server.url, timeout=60)
        await c.connect()
        try:
            await c.goto("sliders")

            def button():
                return c.find("button", "Random draw")[0]

            def pad():
                return [n for n in c.find("bidi_component") if n.body.component_name == PAD][0]

            controls, drawn = button().run, pad().run
            await c.set_component_state(PAD, {"release": {"z": [0.1, 0.0], "n": "scope"}})
            assert c.last_status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
            assert any("z on the server: (0.10, 0.00)" in t for t in c.captions())
            assert pad().run != drawn and button().run == controls  # the controls: not rerun

            await c.goto("reconstruct")
            sidebar = {p: n.run for p, n in c.nodes.items() if p[0] == 1}
            assert sidebar
            await c.upload(png, "digit.png")
            assert c.last_status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
            assert c.image(RECON) is not None and c.problems() == []
            assert {p: n.run for p, n in c.nodes.items() if p[0] == 1} == sidebar
        finally:
            await c.close()

    run_async(go())
