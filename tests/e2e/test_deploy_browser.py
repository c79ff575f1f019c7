"""The app served to a class (`python -m deploy --replicas 2`) in Chromium, through HAProxy:
pages load, a drag on the latent pad reaches Python, an upload is reconstructed, and the
affinity cookie keeps each browser on one replica (the media it was shown live only there).

The launcher runs once for this module, with its own user-models folder; every process it
started (HAProxy, both replicas) must be gone after it is stopped.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from e2e_helpers import assert_healthy, goto, nav_to, screenshot, wait_for_app
from page_helpers import digit_png, upload
from pad_helpers import plane_point, stats, wait_python_has

from deploy import Launched, alive, launched

pytestmark = pytest.mark.e2e

COOKIE = "LXREPLICA"  # deploy/haproxy.cfg.template's affinity cookie
RECON = '[data-testid="stMain"] [data-testid="stImage"]'


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    tmp = tmp_path_factory.mktemp("deploy")
    with launched(2, tmp / "run", env={"VAE_USER_MODELS_DIR": str(tmp / "models")},
                  proxy=False) as run:
        pids = run.pids()
        yield run
        pids += run.pids()
    assert run.proc.returncode == 0, run.output()
    assert not [p for p in pids if alive(p)], f"left running: {pids}\n{run.output()}"


@pytest.fixture(scope="module")
def base_url(deployed: Launched) -> str:
    """The proxy's address: conftest's `page` fixture opens its pages there."""
    return deployed.url


def replica_of(page) -> str:
    """The replica HAProxy's cookie ties this browser to."""
    found = [c["value"] for c in page.context.cookies() if c["name"] == COOKIE]
    assert len(found) == 1, page.context.cookies()
    return found[0]


def test_home_and_sliders_load_through_the_proxy(page) -> None:
    goto(page, "/")
    assert_healthy(page, "home through the proxy")
    first = replica_of(page)
    assert first in ("r1", "r2")
    nav_to(page, "sliders")
    assert_healthy(page, "sliders through the proxy")
    assert replica_of(page) == first
    screenshot(page, "deploy-sliders")


def test_drag_on_the_latent_pad_reaches_python(page) -> None:
    goto(page, "/sliders")
    page.wait_for_function("() => { const s = window.latentPadStats; return !!s && s.ready; }",
                           timeout=120_000)
    page.wait_for_timeout(500)
    before = stats(page)
    cx, cy = plane_point(page, 0.0, 0.0)
    page.mouse.move(cx, cy)
    page.mouse.down()
    for i in range(1, 30):
        page.mouse.move(cx + 4 * i, cy - 3 * i)
    page.mouse.up()
    wait_for_app(page, expect_rerun=True)
    after = stats(page)
    assert after["commits"] == before["commits"] + 1 and after["z"] != before["z"]
    wait_python_has(page, after["z"])  # the caption "z on the server" shows the new z
    assert_healthy(page, "sliders after a drag")


def media_status(port: int, src: str) -> int:
    """HTTP status of a media URL asked of one replica directly, not through the proxy."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{src}", timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_uploads_and_affinity_two_browsers(browser, deployed: Launched) -> None:
    """Two browsers (two learners) open at once go to different replicas (leastconn) and
    stay there: each upload's reconstruction is served by its own replica only."""
    ports = {r["name"]: r["port"] for r in deployed.state()["replicas"]}
    contexts = [browser.new_context(base_url=deployed.url, viewport={"width": 1400,
                                                                     "height": 1000})
                for _ in range(2)]
    try:
        pages = [c.new_page() for c in contexts]
        for p in pages:  # one after the other: the first's websocket is open when the second
            goto(p, "/reconstruct")  # comes, so the second goes to the idle replica
        names = [replica_of(p) for p in pages]
        assert sorted(names) == ["r1", "r2"], names
        for i, (p, name) in enumerate(zip(pages, names, strict=True)):
            upload(p, f"digit-{i}.png", digit_png(i))
            img = p.locator(RECON).filter(has_text="reconstruction").first.locator("img")
            img.wait_for(state="visible", timeout=60_000)
            p.wait_for_function("el => el.complete && el.naturalWidth > 0",
                                arg=img.element_handle(), timeout=60_000)
            assert_healthy(p, f"reconstruct after an upload on {name}")
            src = urlsplit(img.get_attribute("src") or "").path
            assert src.startswith("/media/"), src
            other = next(n for n in ports if n != name)
            assert (media_status(ports[name], src), media_status(ports[other], src)) == (200, 404)
            screenshot(p, f"deploy-reconstruct-{name}")
            nav_to(p, "sliders")  # the session goes on where it started
            assert replica_of(p) == name
            assert_healthy(p, f"sliders after the upload on {name}")
    finally:
        for c in contexts:
            c.close()

