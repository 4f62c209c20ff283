"""The studio in a real headless Chromium (Debian's package), driven by Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from huatu.service import ImageService
from huatu.ui.studio import build_studio
from tests.conftest import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parent.parent / "docs"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_type_prompt_open_accordion_change_steps_and_see_the_image(browser, tiny_service, settings):
    service = ImageService(settings, tiny_service.choice, tiny_service.backend)
    with serving(build_studio(service)) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 1000}, locale="zh-CN")
        page.goto(url)
        page.locator("#prompt textarea").fill("a dog in a park")
        page.get_by_text("高级选项").click()
        steps = page.locator("#steps input[type=number]")
        steps.wait_for(state="visible")
        page.wait_for_timeout(500)  # let the accordion finish opening before typing
        steps.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("4")
        page.keyboard.press("Tab")
        expect(page.locator("#steps input[type=range]")).to_have_value("4")
        page.locator("#submit").click()
        image = page.locator("#result img")
        image.wait_for(state="visible", timeout=60_000)
        page.locator("#info").get_by_text("种子").wait_for(timeout=10_000)
        saved = sorted(settings.outputs_dir.rglob("*.png"))
        assert len(saved) == 1
        from huatu.metadata import parse_parameters, read_parameters

        fields = parse_parameters(read_parameters(saved[0])).to_request_fields()
        assert fields["prompt"] == "a dog in a park" and fields["num_inference_steps"] == 4
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / "studio.png"), full_page=True)
        page.close()
