"""A deep link opened first on a fresh server gets the app's navigation and layout."""

import pytest
from e2e_helpers import PAGES, assert_healthy, running_server, wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture
def fresh_server(user_models_dir):
    with running_server(user_models_dir) as srv:
        yield srv


def test_deep_link_first_on_a_fresh_server(browser, fresh_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{fresh_server.url}/sliders", wait_until="domcontentloaded")
        wait_for_app(page)
        assert_healthy(page, "/sliders opened first")
        assert page.url.rstrip("/").endswith("/sliders"), page.url
        assert page.locator("h1").first.inner_text().strip() == "Latent sliders"
        nav = page.locator('[data-testid="stSidebarNav"] a[data-testid="stSidebarNavLink"]')
        titles = [t.strip() for t in nav.all_inner_texts()]
        # app.py's titles, not the file names that the pages/-folder mode would show
        assert any(t.endswith(PAGES["home"]) for t in titles), titles
        assert not any(t in ("home", "sliders") for t in titles), titles
        page.get_by_test_id("latent-pad-slider-1").wait_for(state="attached")  # z0 and z1
    finally:
        context.close()
