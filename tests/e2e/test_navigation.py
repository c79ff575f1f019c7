"""Every page, reached through the sidebar navigation, renders without an exception; the page
icon is served by the app itself, and nothing a page loads comes from elsewhere."""

import pytest
from e2e_helpers import PAGES, assert_healthy, goto, nav_to, screenshot

pytestmark = pytest.mark.e2e


def test_home_loads(page):
    goto(page, "/")
    assert_healthy(page, "/")
    nav = page.locator('[data-testid="stSidebarNav"] a[data-testid="stSidebarNavLink"]')
    titles = [t.strip() for t in nav.all_inner_texts()]
    for title in PAGES.values():
        assert any(t.endswith(title) for t in titles), f"nav link {title!r} missing: {titles}"


@pytest.mark.parametrize("stem", list(PAGES))
def test_page_through_nav(page, stem):
    goto(page, "/")
    if stem != "home":
        nav_to(page, stem)
        assert page.url.rstrip("/").endswith(f"/{stem}"), page.url
    assert_healthy(page, stem)
    screenshot(page, stem)


def test_favicon_is_served_by_the_app_itself(page, base_url):
    """The page icon was a ':material/...' name, which the browser fetched from
    fonts.gstatic.com: no icon offline. Nothing a page loads may come from elsewhere."""
    outside: list[str] = []
    local = (base_url, "data:", "blob:")
    page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
    goto(page, "/manifold")
    icons = page.evaluate("() => Array.from(document.querySelectorAll('link[rel*=icon]'))"
                          ".map(l => l.href)")
    assert icons and all(h.startswith(base_url) for h in icons), icons
    assert not outside, outside
