"""The whole server (studio + APIs + credentials + protective headers) in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from huatu.server import Access
from huatu.service import ImageService
from tests.helpers import serving_app

pytestmark = pytest.mark.browser
USER, PASSWORD = "ann", "browser-pass-42"


@pytest.fixture
def locked_app(settings):
    service = ImageService.start(settings, model="tiny", backend="local")
    access = Access(users=((USER, PASSWORD),), api_key="browser-key-unused")
    with serving_app(service, access=access) as url:
        yield url, service


def test_the_studio_works_behind_basic_auth_and_the_protective_headers(browser, locked_app):
    url, service = locked_app
    from playwright.sync_api import Error as BrowserError

    stranger = browser.new_context()
    with pytest.raises(BrowserError, match="AUTH"):  # asked for credentials, has none
        stranger.new_page().goto(url)
    stranger.close()

    context = browser.new_context(
        http_credentials={"username": USER, "password": PASSWORD},
        viewport={"width": 1200, "height": 1000},
        locale="en",
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    answer = page.goto(url)
    assert answer.status == 200
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"
    page.locator("#status").get_by_text("tiny").wait_for()
    page.locator("#prompt textarea").fill("a lighthouse at dusk")
    page.locator("#generate").click()
    expect(page.locator("#gallery img")).to_have_count(1, timeout=60_000)
    assert list(service.settings.outputs_dir.rglob("*.png"))  # made and saved
    # every request the page made carried the credentials and passed the origin checks
    assert not [text for text in errors if "401" in text or "403" in text], errors
    context.close()
