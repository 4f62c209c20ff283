"""The studio as a person uses it: headless Chromium (Debian's) driven by Playwright.

Every test runs the real studio on the tiny model on 127.0.0.1; translation goes through the
stand-in Hugging Face server. Screenshots of both languages are written to docs/.
"""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from huatu.metadata import parse_parameters, read_parameters
from huatu.service import ImageService
from huatu.ui.studio import build_studio
from tests.helpers import serving
from tests.standin_hf import StandInHF

pytestmark = pytest.mark.browser
KEY = "hf_test_SECRET_browser_777"


@pytest.fixture
def studio(tiny_service, settings):
    """The studio on the tiny model with its own outputs folder and history; yields its URL."""
    service = ImageService.start(settings, model="tiny", backend="local")
    with serving(build_studio(service)) as url:
        yield url, service


def open_page(browser, url: str, locale: str) -> Page:
    page = browser.new_page(
        viewport={"width": 1200, "height": 1100}, locale=locale, accept_downloads=True
    )
    page.goto(url)
    page.locator("#status").get_by_text("tiny").wait_for()
    return page


def open_advanced(page: Page) -> None:
    page.locator("#advanced").get_by_role("button").first.click()
    page.locator("#steps input[type=number]").wait_for(state="visible")
    page.wait_for_timeout(400)  # the accordion animates open


def set_number(page: Page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Tab")
    expect(box).to_have_value(value)


def gallery_images(page: Page):
    return page.locator("#gallery img")


def generate(page: Page, prompt: str | None = None) -> None:
    if prompt is not None:
        page.locator("#prompt textarea").fill(prompt)
    page.locator("#generate").click()


def saved_pngs(service: ImageService) -> list[Path]:
    return sorted(service.settings.outputs_dir.rglob("*.png"))


@pytest.mark.parametrize(
    ("locale", "button", "tab", "shot"),
    [
        ("en", "Generate", "Image info", "studio-en.png"),
        ("zh-CN", "生成", "图片信息", "studio-zh.png"),
    ],
)
def test_generate_two_images_in_each_language(
    browser, studio, screenshot_dir, locale, button, tab, shot
):
    url, service = studio
    page = open_page(browser, url, locale)
    expect(page.locator("#generate")).to_have_text(button)
    expect(page.get_by_role("tab", name=tab)).to_be_visible()
    page.locator("#prompt textarea").fill("a dog in a park, watercolor")
    set_number(page, "num-images", "2")
    open_advanced(page)
    set_number(page, "steps", "6")
    set_number(page, "seed", "1234")
    generate(page)
    expect(gallery_images(page)).to_have_count(2, timeout=60_000)
    seed_word = "Seed" if locale == "en" else "种子"
    expect(page.locator("#info")).to_contain_text(f"{seed_word}")
    expect(page.locator("#info")).to_contain_text("1234")
    expect(page.locator("#info")).to_contain_text("1235")
    seeds = sorted(
        parse_parameters(read_parameters(p)).settings["Seed"] for p in saved_pngs(service)
    )
    assert seeds == ["1234", "1235"]
    page.screenshot(path=str(screenshot_dir / shot), full_page=True)
    page.close()


def test_a_preset_sets_steps_and_is_recorded(browser, studio):
    url, service = studio
    page = open_page(browser, url, "en")
    page.locator("#preset").get_by_text("Fast").click()
    open_advanced(page)
    # the tiny model carries its own LCM-LoRA, so Fast is 4 LCM steps without guidance
    expect(page.locator("#steps input[type=number]")).to_have_value("4")
    expect(page.locator("#guidance input[type=number]")).to_have_value("1")
    page.locator("#aspect input").click()
    page.get_by_role("option", name=re.compile("10:7")).click()
    expect(page.locator("#width input[type=number]")).to_have_value("640")
    expect(page.locator("#height input[type=number]")).to_have_value("448")
    generate(page, "a lighthouse")
    expect(gallery_images(page)).to_have_count(1, timeout=60_000)
    (png,) = saved_pngs(service)
    parsed = parse_parameters(read_parameters(png))
    assert parsed.settings["Preset"] == "Fast" and parsed.settings["Steps"] == "4"
    assert parsed.settings["Sampler"] == "LCM" and parsed.settings["VAE"] == "TAESD"
    assert parsed.settings["Size"] == "640x448"
    page.close()


def test_dice_and_recycle_seeds(browser, studio):
    url, _ = studio
    page = open_page(browser, url, "en")
    open_advanced(page)
    set_number(page, "steps", "2")
    generate(page, "a cat")
    expect(gallery_images(page)).to_have_count(1, timeout=60_000)
    used = re.search(r"Seed: (\d+)", page.locator("#info").inner_text()).group(1)
    page.locator("#recycle").click()
    expect(page.locator("#seed input")).to_have_value(used)
    page.locator("#dice").click()
    expect(page.locator("#seed input")).to_have_value("-1")
    page.close()


class HeldUNet:
    """The pipeline UNet's ``forward``, held at one call until released, so the page can be
    looked at in the middle of a run whatever the machine's speed."""

    def __init__(self, unet, hold_at: int) -> None:
        self.unet, self.original, self.hold_at = unet, unet.forward, hold_at
        self.calls = 0
        self.reached, self.released = threading.Event(), threading.Event()
        unet.forward = self

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.hold_at:
            self.reached.set()
            self.released.wait(timeout=120)
        return self.original(*args, **kwargs)

    def restore(self) -> None:
        self.released.set()
        self.unet.forward = self.original


def test_progress_and_preview_arrive_before_the_image(browser, studio):
    url, service = studio
    held = HeldUNet(service.backend.pipe.unet, hold_at=6)  # after 5 of 10 steps
    try:
        page = open_page(browser, url, "en")
        open_advanced(page)
        set_number(page, "steps", "10")
        generate(page, "a mountain lake")
        assert held.reached.wait(timeout=60)
        progress = page.locator("#progress")
        expect(progress).to_contain_text(re.compile(r"Step \d+/10"), timeout=30_000)
        expect(page.locator("#preview img")).to_have_count(1, timeout=30_000)
        assert gallery_images(page).count() == 0  # the run is held: no image yet
        held.released.set()
        expect(gallery_images(page)).to_have_count(1, timeout=60_000)
    finally:
        held.restore()
    page.close()


def test_stop_mid_run_then_a_successful_run(browser, studio):
    url, service = studio
    page = open_page(browser, url, "en")
    open_advanced(page)
    set_number(page, "steps", "100")
    generate(page, "a long run")
    expect(page.locator("#progress")).to_contain_text("Step", timeout=30_000)
    page.locator("#stop").click()
    expect(page.locator("#progress")).to_contain_text("Stopped", timeout=10_000)
    assert saved_pngs(service) == []
    expect(page.locator(".toast-body.error")).to_have_count(0)
    set_number(page, "steps", "3")
    generate(page)
    expect(gallery_images(page)).to_have_count(1, timeout=60_000)
    assert len(saved_pngs(service)) == 1
    page.close()


def test_image_info_round_trip_from_a_downloaded_png(browser, studio, tmp_path: Path):
    url, _ = studio
    page = open_page(browser, url, "en")
    open_advanced(page)
    page.locator("#negative-prompt textarea").fill("fog, rain")
    set_number(page, "steps", "3")
    set_number(page, "seed", "4242")
    page.locator("#step-cache input").check()  # the run's options, restored with the rest
    page.locator("#fast-decode input").check()
    generate(page, "a red bird on the space needle")
    expect(gallery_images(page)).to_have_count(1, timeout=60_000)
    gallery_images(page).first.click()
    with page.expect_download() as download_info:
        page.locator("#gallery").get_by_role("button", name=re.compile("Download", re.I)).click()
    downloaded = tmp_path / "downloaded.png"
    download_info.value.save_as(downloaded)
    assert "Seed: 4242" in read_parameters(downloaded)
    assert "Cache: DeepCache interval 3" in read_parameters(downloaded)
    assert "VAE: TAESD" in read_parameters(downloaded)

    page.reload()
    page.locator("#status").get_by_text("tiny").wait_for()
    page.get_by_role("tab", name="Image info").click()
    page.locator("#info-file input[type=file]").set_input_files(str(downloaded))
    expect(page.locator("#info-parameters textarea")).to_have_value(
        re.compile("Seed: 4242"), timeout=20_000
    )
    page.locator("#send-to-generate").click()
    expect(page.locator("#prompt textarea")).to_have_value("a red bird on the space needle")
    open_advanced(page)
    expect(page.locator("#negative-prompt textarea")).to_have_value("fog, rain")
    expect(page.locator("#steps input[type=number]")).to_have_value("3")
    expect(page.locator("#seed input")).to_have_value("4242")
    expect(page.locator("#step-cache input")).to_be_checked()
    expect(page.locator("#fast-decode input")).to_be_checked()
    page.close()


def test_history_survives_a_restart_and_restores(browser, tiny_service, settings):
    first = ImageService.start(settings, model="tiny", backend="local")
    with serving(build_studio(first)) as url:
        page = open_page(browser, url, "en")
        open_advanced(page)
        set_number(page, "steps", "2")
        set_number(page, "seed", "31")
        generate(page, "an old lighthouse")
        expect(gallery_images(page)).to_have_count(1, timeout=60_000)
        page.close()
    second = ImageService.start(settings, model="tiny", backend="local")
    with serving(build_studio(second)) as url:
        page = open_page(browser, url, "en")
        page.get_by_role("tab", name="History").click()
        expect(page.locator("#history-gallery img")).to_have_count(1, timeout=20_000)
        page.locator("#history-search").get_by_role("textbox").fill("nothing like this")
        page.locator("#history-search").get_by_role("textbox").press("Enter")
        expect(page.locator("#history-gallery img")).to_have_count(0, timeout=20_000)
        page.locator("#history-search").get_by_role("textbox").fill("lighthouse")
        page.locator("#history-search").get_by_role("textbox").press("Enter")
        expect(page.locator("#history-gallery img")).to_have_count(1, timeout=20_000)
        page.locator("#history-gallery img").first.click()
        expect(page.locator("#history-details textarea")).to_have_value(re.compile("Seed: 31"))
        page.locator("#history-restore").click()
        expect(page.locator("#prompt textarea")).to_have_value("an old lighthouse")
        page.close()


@pytest.mark.usefixtures("hub_reaches_stand_in")
def test_chinese_prompt_is_translated_edited_and_original_kept(browser, tiny_service, settings):
    with StandInHF(expected_key=KEY) as hf:
        keyed = replace(settings, hf_api_key=KEY, hf_router=hf.url)
        service = ImageService.start(keyed, model="tiny", backend="local")
        with serving(build_studio(service)) as url:
            page = open_page(browser, url, "zh-CN")
            page.locator("#prompt textarea").fill("赛博朋克城市里的一只狗")
            expect(page.locator("#english-prompt")).to_be_visible()
            page.locator("#translate").click()
            english = page.locator("#english-prompt textarea")
            expect(english).to_have_value(re.compile("cyberpunk.*dog|dog.*cyberpunk"))
            english.fill("a dog in a cyberpunk city at night, neon")
            open_advanced(page)
            set_number(page, "steps", "2")
            generate(page)
            expect(gallery_images(page)).to_have_count(1, timeout=60_000)
            (png,) = saved_pngs(service)
            parsed = parse_parameters(read_parameters(png))
            assert parsed.prompt == "a dog in a cyberpunk city at night, neon"
            assert parsed.settings["Original prompt"] == "赛博朋克城市里的一只狗"
            assert any("opus-mt-zh-en" in r.path for r in hf.requests)
            page.close()
