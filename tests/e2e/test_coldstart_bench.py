"""bench.coldstart, once: a fresh server's first page is fully drawn in a fresh browser, and
the result file holds the split of the time in order. Not timed: the figure itself (p50/max
over 5 starts) comes from `python -m bench.coldstart`, see bench/README.md."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from e2e_helpers import require_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_one_cold_start_is_measured(tmp_path: Path) -> None:
    require_chromium()
    from bench import coldstart

    out = tmp_path / "coldstart.json"
    # In a thread of its own: the e2e fixtures' sync Playwright keeps an asyncio loop running
    # in this thread once any browser test has run, and the benchmark starts its own.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(coldstart.main, ["--runs", "1", "--out", str(out)]).result() == 0
    res = json.loads(out.read_text())
    run = res["runs"][0]
    assert 0 < run["health_s"] and 0 < run["websocket_s"] <= run["first_image_s"]
    assert run["first_image_s"] <= run["drawn_s"] == res["drawn_s"]["p50"]
    assert res["page"] == "How a VAE works (/)" and "fully drawn" in res["method"]
