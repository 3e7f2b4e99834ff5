"""The web page in headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
upload the astronaut photo, see "happy"; capture a frame from Chromium's fake webcam.
And the OpenAPI docs at /docs render with every request beyond loopback aborted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ferlab.app.demo import ASTRONAUT
from ferlab.weights import DEFAULT_MODEL

pytest.importorskip("fastapi", reason='the REST service needs its extra: pip install -e ".[serve]"')
sync_api = pytest.importorskip("playwright.sync_api", reason='the page tests need playwright: pip install -e ".[test]"')

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium`", allow_module_level=True)

FAKE_WEBCAM = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
"""Chromium's built-in test camera (a moving pattern, no face), allowed without asking."""
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
"""Hosts the docs test lets Chromium contact; it aborts requests to any other."""


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    """Headless Chromium with its fake webcam, shared by this module's tests."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FAKE_WEBCAM)
        yield browser
        browser.close()


def watched_page(browser: sync_api.Browser) -> tuple[sync_api.Page, list[str]]:
    """A new page, and the list its browser errors (CSP violations included) are appended to."""
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return page, errors


@pytest.fixture(scope="module")
def page(browser: sync_api.Browser, live_server: str) -> Iterator[sync_api.Page]:
    """The live server's page in headless Chromium; browser errors fail the tests."""
    page, errors = watched_page(browser)
    page.goto(live_server)
    yield page
    page.close()
    assert not errors, errors


def test_upload_shows_happy_and_the_annotated_image(page: sync_api.Page) -> None:
    sync_api.expect(page.locator("#model-info")).to_contain_text(DEFAULT_MODEL)
    page.set_input_files("#file-input", str(ASTRONAUT))
    sync_api.expect(page.locator("#faces .label")).to_have_text(["happy"], timeout=60_000)
    sync_api.expect(page.locator("#status")).to_have_text("1 face found in the 512x512 image.")
    assert page.locator("#annotated").evaluate("image => image.complete && image.naturalWidth") == 512
    assert page.locator("#faces .row").count() == 8
    top = page.locator("#faces .row.top")
    sync_api.expect(top.locator(".name")).to_have_text("happy")
    assert page.get_by_text("happy").first.is_visible()


def test_webcam_frame_is_analysed(page: sync_api.Page) -> None:
    page.click("#webcam-start")
    sync_api.expect(page.locator("#webcam-capture")).to_be_enabled(timeout=20_000)
    sync_api.expect(page.locator("#webcam")).to_have_js_property("videoWidth", 640, timeout=20_000)
    page.click("#webcam-capture")
    sync_api.expect(page.locator("#status")).to_have_text("No face found in the 640x480 image.", timeout=60_000)


def test_docs_render_offline(browser: sync_api.Browser, live_server: str) -> None:
    page, errors = watched_page(browser)
    outside: list[str] = []

    def loopback_only(route: sync_api.Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", loopback_only)
    page.goto(f"{live_server}/docs")
    for path in ("/v1/analyze", "/v1/analyze/batch", "/v1/models", "/healthz"):
        sync_api.expect(page.get_by_text(path, exact=True)).to_be_visible()
    page.close()
    assert not outside and not errors, (outside, errors)
