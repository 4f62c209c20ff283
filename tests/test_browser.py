"""The studio's basic flow in a real headless Chromium (Debian's package), via Playwright:
type a prompt, open the accordion, change steps, generate, see the image."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from huatu.metadata import parse_parameters, read_parameters
from huatu.service import ImageService
from huatu.ui.studio import build_studio
from tests.helpers import serving

pytestmark = pytest.mark.browser


def test_type_prompt_open_accordion_change_steps_and_see_the_image(
    browser, tiny_service, settings, screenshot_dir
):
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
        page.locator("#generate").click()
        expect(page.locator("#gallery img")).to_have_count(1, timeout=60_000)
        saved = sorted(settings.outputs_dir.rglob("*.png"))
        assert len(saved) == 1
        fields = parse_parameters(read_parameters(saved[0])).to_request_fields()
        assert fields["prompt"] == "a dog in a park" and fields["num_inference_steps"] == 4
        page.screenshot(path=str(screenshot_dir / "studio.png"), full_page=True)
        page.close()
