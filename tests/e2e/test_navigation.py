"""Every page, reached through the sidebar navigation, renders without an exception."""

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
