"""The studio on the hosted backend as a person uses it: headless Chromium (Debian's).

The Hub and the router are the stand-in (:mod:`tests.standin_hf`): the configured model is
served by no provider, so the page says so and offers the served models; choosing one switches
the studio to it, and a picture comes back from the provider that serves it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from playwright.sync_api import expect

from huatu.metadata import parse_parameters, read_parameters
from huatu.service import ImageService
from huatu.ui.studio import build_studio
from tests.helpers import serving
from tests.standin_catalogue import FLUX_DEV, SD15
from tests.standin_hf import StandInHF

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("hub_reaches_stand_in")]
KEY = "hf_test_SECRET_hosted_browser_5"


def test_a_model_nobody_serves_is_said_and_a_served_one_is_chosen(
    browser, settings, screenshot_dir
):
    with StandInHF(expected_key=KEY) as hub:
        hosted = replace(
            settings,
            hf_api_key=KEY,
            hf_endpoint=hub.url,
            hf_router=hub.url,
            model=SD15,
            hosted_model=SD15,
            hosted_timeout_s=20,
        )
        service = ImageService.start(hosted, backend="hosted")
        with serving(build_studio(service)) as url:
            page = browser.new_page(viewport={"width": 1200, "height": 1000}, locale="zh-CN")
            page.goto(url)
            status = page.locator("#status")
            expect(status).to_contain_text("目前没有任何推理服务商")
            expect(status).to_contain_text(FLUX_DEV)
            choice = page.locator("#model-choice")
            expect(choice).to_be_visible()
            choice.locator("input").click()
            page.get_by_role("option", name=FLUX_DEV).click()
            expect(status).to_contain_text("经由 fal-ai", timeout=20_000)
            assert service.choice.model == FLUX_DEV and service.backend is not None

            page.locator("#prompt textarea").fill("a lighthouse at dusk")
            page.locator("#generate").click()
            expect(page.locator("#gallery img")).to_have_count(1, timeout=60_000)
            page.screenshot(path=str(screenshot_dir / "studio-hosted-zh.png"), full_page=True)
            page.close()
        (sent,) = hub.requests
        assert sent.path == "/fal-ai/fal-ai/flux/dev" and sent.prompt == "a lighthouse at dusk"
        (png,) = sorted(hosted.outputs_dir.rglob("*.png"))
        fields = parse_parameters(read_parameters(png))
        assert fields.settings["Model"] == FLUX_DEV
        assert fields.settings["Hosted provider"] == "fal-ai"
        assert KEY.encode() not in png.read_bytes()
