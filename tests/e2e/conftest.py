import os
import shutil
from pathlib import Path

import pytest

from visitor import CHROMIUM, CHROMIUM_ARGS


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
def lab_app(tmp_path_factory):
    """The app with --preload (as on a Space), in this process: (its ui.Page, its url)."""
    from app_server import launch_app

    page, demo, url = launch_app(str(tmp_path_factory.mktemp("outputs")), preload=True)
    yield page, url
    demo.close()


@pytest.fixture(scope="module")
def app_url(lab_app):
    return lab_app[1]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> Path:
    """Where browser tests save screenshots: ``SVD_LAB_ARTIFACTS`` (CI keeps it), else a temporary folder."""
    folder = Path(os.environ.get("SVD_LAB_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class ServerErrors(list):
    """The page's HTTP responses with a 5xx status, as (status, url)."""


def _open(browser, **options):
    context = browser.new_context(**options)
    page = context.new_page()
    page.server_errors = ServerErrors()
    page.on("response", lambda r: page.server_errors.append((r.status, r.url)) if r.status >= 500 else None)
    return context, page


@pytest.fixture
def page(browser):
    context, page = _open(browser, viewport={"width": 1400, "height": 1100},
                          permissions=["clipboard-read", "clipboard-write"])
    yield page
    context.close()


@pytest.fixture
def small_page(browser):
    """A phone-sized page."""
    context, page = _open(browser, viewport={"width": 400, "height": 850}, is_mobile=True)
    yield page
    context.close()


@pytest.fixture
def second_page(browser):
    """Another visitor's page (its own context: its own session)."""
    context, page = _open(browser, viewport={"width": 1400, "height": 1100})
    yield page
    context.close()
