"""The four lessons and the studio, launched for real and called through gradio_client."""

from __future__ import annotations

import urllib.request
from dataclasses import replace

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from huatu.metadata import parse_parameters, read_parameters
from huatu.service import ImageService
from huatu.ui.lessons import build_lesson
from huatu.ui.studio import build_studio
from tests.conftest import serving

ADVANCED_ARGS = ("a mecha robot in a favela", "blurry", 3, 7, 128, 192)


def open_png(path: str) -> Image.Image:
    image = Image.open(path)
    assert image.format == "PNG"
    return image


def test_basic_lesson_generates_through_api(tiny_service):
    with serving(build_lesson("basic", tiny_service)) as url:
        client = Client(url, verbose=False)
        assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == [
            "/generate"
        ]
        image = open_png(client.predict("a dog in a park", api_name="/generate"))
        assert image.size == (512, 512)
        with pytest.raises(AppError, match="`prompt` must not be empty"):
            client.predict("", api_name="/generate")


@pytest.mark.parametrize("name", ["advanced", "blocks", "accordion"])
def test_advanced_lessons_validate_and_keep_serving(tiny_service, name):
    with serving(build_lesson(name, tiny_service)) as url:
        client = Client(url, verbose=False)
        endpoint = client.view_api(print_info=False, return_format="dict")["named_endpoints"][
            "/generate"
        ]
        assert [p["label"] for p in endpoint["parameters"]] == [
            "你的提示",
            "负面提示",
            "推理步长（Inference Steps）",
            "文字的引导程度",
            "宽",
            "高",
        ]
        image = open_png(client.predict(*ADVANCED_ARGS, api_name="/generate"))
        assert image.size == (128, 192)
        bad = ("a dog", "", 10.7, 7, 128, 128)
        with pytest.raises(AppError, match=r"`num_inference_steps` must be an integer .* 10\.7"):
            client.predict(*bad, api_name="/generate")
        # the server keeps serving after the error
        assert open_png(client.predict(*ADVANCED_ARGS, api_name="/generate")).size == (128, 192)


def test_studio_generates_with_metadata_and_reports_seed(tiny_service, settings):
    service = ImageService(settings, tiny_service.choice, tiny_service.backend)
    with serving(build_studio(service)) as url:
        client = Client(url, verbose=False)
        path, info = client.predict(
            prompt="a dog in a park",
            negative_prompt="rain",
            steps=4,
            guidance=6.5,
            width=192,
            height=128,
            seed=99,
            scheduler="euler_a",
            api_name="/generate",
        )
        image = open_png(path)
        assert image.size == (192, 128)
        assert "Seed: 99" in info
        fields = parse_parameters(read_parameters(path)).to_request_fields()
        assert fields == {
            "prompt": "a dog in a park",
            "negative_prompt": "rain",
            "num_inference_steps": 4,
            "guidance_scale": 6.5,
            "width": 192,
            "height": 128,
            "seed": 99,
            "scheduler": "euler_a",
        }
        with pytest.raises(AppError, match=r"`width` must be an integer .* multiple of 8.*100"):
            client.predict(prompt="a dog", width=100, api_name="/generate")
        with pytest.raises(AppError, match="`prompt` must be at most 1,000 characters"):
            client.predict(prompt="x" * 5000, api_name="/generate")
        # error texts are shown as HTML by Gradio: markup in a value arrives escaped
        with pytest.raises(AppError, match="but is '&lt;img src=x onerror=alert"):
            client.predict(prompt="<img src=x onerror=alert(1)>" * 50, api_name="/generate")
        path, info = client.predict(
            prompt="公园里的一只狗", steps=2, width=64, height=64, api_name="/generate"
        )
        assert open_png(path).size == (64, 64) and "English" in info


def test_page_config_never_contains_the_key(tiny_service, settings):
    secret = "hf_test_SECRET_page_9876"
    keyed = ImageService(
        replace(settings, hf_api_key=secret), tiny_service.choice, tiny_service.backend
    )
    for demo in (build_studio(keyed), build_lesson("accordion", keyed)):
        with serving(demo) as url:
            for page in ("", "config", "gradio_api/info"):
                with urllib.request.urlopen(f"{url}{page}") as response:
                    assert secret not in response.read().decode("utf-8", "replace")


def test_studio_without_model_starts_and_explains(base_settings):
    broken = ImageService.start(
        replace(base_settings, hf_api_key=None), model="nobody/no-such-model", backend="local"
    )
    with serving(build_studio(broken)) as url:
        with urllib.request.urlopen(f"{url}config") as response:
            assert "--model tiny" in response.read().decode()
        client = Client(url, verbose=False)
        with pytest.raises(AppError, match="nobody/no-such-model"):
            client.predict(prompt="a dog", api_name="/generate")


def test_cli_lesson_names_match_the_builders():
    from huatu.cli import LESSONS
    from huatu.ui.lessons import BUILDERS

    assert tuple(BUILDERS) == LESSONS
