"""bench.soak on small numbers: short sessions through HAProxy, then the replica's memory, its
sessions and its media store are read back (bench/soak.py; the full soak runs 1,000)."""

from __future__ import annotations

import shutil

import pytest

from bench import soak


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs HAProxy (apt-get install "
                    "haproxy), as python -m deploy does")
def test_a_short_soak_leaves_no_session_and_a_bounded_media_store() -> None:
    res = soak.run(replicas=1, sessions=12, duration=6, concurrency=4, warm=4, ttl=3,
                   log=lambda _m: None)
    assert res["soak"]["errors"] == 0, res["soak"]["error_samples"]
    assert res["warm_up_errors"] == 0 and res["restarts"] == 0
    (after,) = res["after_soak"]
    assert after["sessions"] == 0, "every closed session expired"
    assert after["rss_mb"] > 100 and "st_cache_data" in after["bytes"]
    (growth,) = res["growth"]
    media = growth["bytes"]["st_memory_media_file_storage"]
    assert media[1] <= media[0] + soak.MEDIA_SLACK, media
    assert growth["rss_growth_pct"] <= 10, growth
    assert res["passed"]
