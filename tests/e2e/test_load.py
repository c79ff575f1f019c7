"""Many users at once, shortened: 10 browser sessions x 20 s must see no error at all.

The full measurement (20 sessions x 60 s, numbers in bench/results/loadtest.json) is
`python -m bench.loadtest`; this test runs the same code on a smaller scale and writes
nothing into bench/results/.
"""

import pytest
from e2e_helpers import require_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_ten_sessions_without_errors():
    require_chromium()
    from bench import loadtest

    res = loadtest.run(sessions=10, duration=20, baseline_duration=10, timeout=60, warmup=5,
                       log=lambda m: print(f"[loadtest] {m}", flush=True))
    load, one = res["load"], res["baseline"]
    summary = {k: res[k] for k in ("actions", "errors", "p50_ms_1_user", "p95_ms_1_user",
                                   "p50_ms_10_users", "p95_ms_10_users", "ratio_p50")}
    print(summary)
    assert one["errors"] == 0, one["error_kinds"]
    assert load["errors"] == 0, load["error_kinds"]
    assert load["slider"]["n"] > 0 and load["upload"]["n"] > 0, summary
