"""An accessibility audit: axe-core (bundled by axe-playwright-python, nothing downloaded) on
every page with the default model and on the pages' main states: a conditional model, a 16-D
model, each step of the home page's tour and a Reconstruct upload result.

Each state must have no violation of impact "critical" or "serious". Every violation, whatever
its impact, is written to artifacts/e2e/axe/<state>.json, and `-s` prints a table of them
(state, rule, impact, nodes). One browser context per group of states. Left, minor: the file
uploader's dropzone, a role="presentation" section with an aria-label and tabindex="-1"
(presentation-role-conflict), in Streamlit's own DOM (streamlit/streamlit#15921, PR #15928).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from e2e_helpers import ARTIFACTS, MAIN, PAGES, assert_healthy, goto, nav_to, wait_for_app
from page_helpers import digit_png, upload

pytestmark = pytest.mark.e2e
AXE_DIR = ARTIFACTS / "axe"
BLOCKING = ("critical", "serious")
CVAE, CONV16 = "mnist-cvae-2d", "mnist-conv-16d"
TOUR_STEPS = 8


def audit(page, state: str) -> list[dict]:
    """axe on the whole document (axe injected into every frame first, so the components'
    iframes are audited too instead of timing out); the violations, saved and returned."""
    wait_for_app(page, timeout=180)
    assert_healthy(page, state)
    for frame in page.frames:
        if frame is not page.main_frame:
            try:
                frame.evaluate(AXE_SCRIPT)
            except Exception:  # noqa: BLE001 - a frame detached meanwhile has nothing to audit
                pass
    page.evaluate(AXE_SCRIPT)
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    violations = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                   "nodes": [{"target": n["target"], "html": n["html"][:300],
                              "summary": n.get("failureSummary", "")} for n in v["nodes"]]}
                  for v in result["violations"]]
    AXE_DIR.mkdir(parents=True, exist_ok=True)
    (AXE_DIR / f"{state}.json").write_text(json.dumps(violations, indent=1))
    for v in violations:
        print(f"{state:<28} {v['id']:<32} {v['impact']:<9} {len(v['nodes'])}")
    if not violations:
        print(f"{state:<28} {'-':<32} {'-':<9} 0")
    return violations


def blocking(violations: list[dict]) -> list[str]:
    """The critical and serious nodes, one line each."""
    return [f"{v['id']} ({v['impact']}) at {' '.join(map(str, n['target']))}: {n['html'][:160]}"
            for v in violations if v["impact"] in BLOCKING for n in v["nodes"]]


def check_states(page, states: list[tuple[str, Callable[[], None]]]) -> None:
    """Reach each state in turn in the one page, audit it; fail at the end with every one."""
    failures: dict[str, list[str]] = {}
    print(f"\n{'state':<28} {'rule':<32} {'impact':<9} nodes")
    for state, reach in states:
        reach()
        if bad := blocking(audit(page, state)):
            failures[state] = bad
    assert not failures, json.dumps(failures, indent=1)


def test_every_page_with_the_default_model(page) -> None:
    goto(page, "/", timeout=180)
    states = [("page-home", lambda: None)]
    states += [(f"page-{stem}", lambda s=stem: nav_to(page, s, timeout=180))
               for stem in PAGES if stem != "home"]
    check_states(page, states)


def test_conditional_and_16d_models(page) -> None:
    def at(path: str) -> Callable[[], None]:
        return lambda: goto(page, path, timeout=180)

    check_states(page, [
        (f"{CVAE}-sliders", at(f"/sliders?model={CVAE}")),
        (f"{CVAE}-manifold", at(f"/manifold?model={CVAE}")),
        (f"{CVAE}-generate", at(f"/generate?model={CVAE}")),
        (f"{CONV16}-sliders", at(f"/sliders?model={CONV16}")),
        (f"{CONV16}-scatter", at(f"/scatter?model={CONV16}")),
    ])


def _next_step(page) -> None:
    """The tour's Next button, as tests/e2e/test_tour.py walks it."""
    box = page.locator('[data-testid="stVerticalBlock"]').filter(has_text="Guided tour · step")
    before = box.last.inner_text().split("\n", 1)[0]
    page.get_by_role("button", name="Next").click()
    page.wait_for_function("b => !document.body.innerText.includes(b)", arg=before,
                           timeout=120_000)


def test_every_step_of_the_tour(page) -> None:
    goto(page, "/", timeout=180)
    check_states(page, [(f"tour-step{i}", (lambda: None) if i == 1 else (lambda: _next_step(page)))
                        for i in range(1, TOUR_STEPS + 1)])


def test_a_reconstruct_upload_result(page) -> None:
    def reach() -> None:
        goto(page, "/reconstruct", timeout=180)
        upload(page, "seven.png", digit_png(0))
        page.locator('[data-testid="stMain"] [data-testid="stImage"]').filter(
            has_text="reconstruction").first.wait_for(state="visible", timeout=60_000)

    check_states(page, [("reconstruct-upload", reach)])
    # the images say what they show, the decoded ones with the classifier's reading
    alts = page.locator(f'{MAIN} [data-testid="stImage"] img').evaluate_all(
        "imgs => imgs.map(i => i.alt)")
    assert all(alts) and any(a.startswith("your digit reconstructed by") and "read as 7" in a
                             for a in alts), alts
