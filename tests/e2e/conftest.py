import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]


def _browser_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("SVD_LAB_REQUIRE_BROWSER"))


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM) and not shutil.which("chromium"):
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if _browser_required():
            pytest.fail(message)  # CI must run the browser tests, never skip them
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    from app_server import launch_app

    _, demo, url = launch_app(str(tmp_path_factory.mktemp("outputs")), preload=True)
    yield url
    demo.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1100},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def small_page(browser):
    """A phone-sized page."""
    context = browser.new_context(viewport={"width": 400, "height": 850}, is_mobile=True)
    page = context.new_page()
    yield page
    context.close()
