"""The studio with a models folder, as a person uses it (headless Chromium): the model list
with family and size, switching with a message, the live token count, the LoRA picker, and a
picture made with the picked model and LoRA whose PNG says so (A1111's hashes).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import expect

from huatu.metadata import parse_parameters, read_parameters
from huatu.service import ImageService
from huatu.ui.studio import build_studio
from tests.helpers import serving, wait_until
from tests.single_file_support import save_kohya_lora, save_single_file

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    import torch
    from diffusers import StableDiffusionPipeline

    root = tmp_path_factory.mktemp("browser-models")
    pipe = StableDiffusionPipeline.from_pretrained(tiny_model)
    save_single_file(pipe, root / "Stable-diffusion" / "tiny.safetensors")
    with torch.no_grad():
        for parameter in pipe.unet.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    save_single_file(pipe, root / "Stable-diffusion" / "dreamy" / "tiny-b.safetensors")
    save_kohya_lora(pipe.unet, root / "Lora" / "watercolor.safetensors", seed=1)
    return root


def test_pick_a_model_and_a_lora_and_generate(
    browser, settings, models_dir: Path, screenshot_dir: Path
) -> None:
    language = "en"  # the other studio browser tests cover Chinese; one run keeps it quick
    studio_settings = replace(settings, models_dir=models_dir)
    service = ImageService.start(studio_settings, model="tiny.safetensors", backend="local")
    with serving(build_studio(service)) as url:
        page = browser.new_page(viewport={"width": 1200, "height": 1100}, locale=language)
        page.goto(url)
        choice = page.locator("#model-choice")
        expect(choice).to_be_visible()
        choice.locator("input").click()
        page.get_by_role("option", name="dreamy/tiny-b.safetensors · tiny · 4.3 MB").click()
        status = page.locator("#status")
        # "⏳ Loading …" while it loads (too quick to catch with the tiny model), then the
        # new status line
        wait_until(lambda: service.choice.model == "dreamy/tiny-b.safetensors", timeout_s=30)
        expect(status).to_contain_text("dreamy/tiny-b.safetensors")
        expect(status).not_to_contain_text("⏳")

        prompt = page.locator("#prompt textarea")
        prompt.fill("a (red:1.2) fox in snow")
        unit = "" if language == "en" else " 词元"
        expect(page.locator("#token-count")).to_contain_text(f"/75{unit}")
        page.locator("#lora-picker input").click()
        page.get_by_role("option", name="watercolor").click()
        expect(prompt).to_have_value("a (red:1.2) fox in snow <lora:watercolor:1>")

        # Fast (the tiny model's LCM-LoRA, 4 steps) with the picked LoRA: both adapters at once
        page.locator("#preset").get_by_text("Fast").click()
        page.locator("#generate").click()
        expect(page.locator("#gallery img")).to_have_count(1, timeout=60_000)
        suffix = "en" if language == "en" else "zh"
        page.screenshot(path=str(screenshot_dir / f"studio-models-{suffix}.png"), full_page=True)

        prompt.fill(", ".join(f"detail {n}" for n in range(30)))  # beyond 75 tokens
        chunks = "chunks of 75 tokens" if language == "en" else "段（每段 75）"
        expect(page.locator("#token-count")).to_contain_text(chunks)
        page.close()
    (png,) = sorted(studio_settings.outputs_dir.rglob("*.png"))
    fields = parse_parameters(read_parameters(png)).settings
    checkpoint = models_dir / "Stable-diffusion" / "dreamy" / "tiny-b.safetensors"
    assert fields["Model hash"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:10]
    assert fields["Lora hashes"].startswith("watercolor: ")
    assert fields["Steps"] == "4" and fields["Sampler"] == "LCM"
