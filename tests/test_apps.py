"""The four lessons and the studio, launched for real and called through gradio_client."""

from __future__ import annotations

import time
import urllib.request
from dataclasses import replace

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, ValidationError
from PIL import Image

from huatu.metadata import parse_parameters, read_parameters
from huatu.service import ImageService
from huatu.ui.lessons import build_lesson
from huatu.ui.studio import build_studio
from tests.helpers import serving, wait_until

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
        with pytest.raises(AppError, match="`prompt` must not be empty"):
            client.predict("", api_name="/generate")
        # the lesson's one field: 512x512 at 20 steps (seconds even on the tiny model), once,
        # after the error (so it also shows the server kept serving)
        image = open_png(client.predict("a dog in a park", api_name="/generate"))
        assert image.size == (512, 512)


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


def studio_images(result) -> list[str]:
    """The PNG paths in the studio's gallery output (gradio_client's form)."""
    progress, preview, gallery, info, english = result
    return [item["image"] for item in gallery]


def test_studio_generates_with_metadata_and_reports_seed(tiny_service, settings):
    service = ImageService(settings, tiny_service.choice, tiny_service.backend)
    with serving(build_studio(service)) as url:
        client = Client(url, verbose=False)
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert set(endpoints) == {"/generate", "/stop", "/translate", "/image_info"}
        result = client.predict(
            prompt="a dog in a park",
            negative_prompt="rain",
            steps=4,
            guidance=6.5,
            width=192,
            height=128,
            seed=99,
            num_images=2,
            scheduler="euler_a",
            api_name="/generate",
        )
        paths = studio_images(result)
        assert [open_png(path).size for path in paths] == [(192, 128), (192, 128)]
        assert "Seed: 99, 100" in result[3] and result[0].startswith("Done: 2 image(s)")
        fields = parse_parameters(read_parameters(paths[1])).to_request_fields()
        assert fields == {
            "prompt": "a dog in a park",
            "negative_prompt": "rain",
            "num_inference_steps": 4,
            "guidance_scale": 6.5,
            "width": 192,
            "height": 128,
            "seed": 100,
            "scheduler": "euler_a",
        }
        # bad fields are refused before queueing, each shown on its own input
        with pytest.raises(
            ValidationError, match=r"- width: `width` must be an integer .* multiple of 8.*100"
        ):
            client.predict(prompt="a dog", width=100, api_name="/generate")
        with pytest.raises(ValidationError, match="- steps: `num_inference_steps` must be"):
            client.predict(prompt="a dog", steps=10.5, api_name="/generate")
        with pytest.raises(ValidationError, match="`prompt` must be at most 1,000 characters"):
            client.predict(prompt="x" * 5000, api_name="/generate")
        # the English translation is what is drawn: a bad one is shown on its own box
        with pytest.raises(
            ValidationError, match=r"- english_prompt: `prompt` must be at most 1,000"
        ):
            client.predict(prompt="公园里的一只狗", english_prompt="x" * 5000, api_name="/generate")
        # no key, no local translator: a Chinese prompt is explained, not drawn as noise
        with pytest.raises(AppError, match="Translation is not available"):
            client.predict(prompt="公园里的一只狗", steps=2, api_name="/generate")
        # with the English given, it is drawn and the original is kept in the metadata
        result = client.predict(
            prompt="公园里的一只狗",
            english_prompt="a dog in a park",
            steps=2,
            width=64,
            height=64,
            api_name="/generate",
        )
        (path,) = studio_images(result)
        parsed = parse_parameters(read_parameters(path))
        assert parsed.prompt == "a dog in a park"
        assert parsed.settings["Original prompt"] == "公园里的一只狗"


def test_parameters_fill_the_form_by_name_leaving_out_what_it_refuses(monkeypatch):
    from huatu.ui.form import EDIT_FILL, FIELDS, FILL, send_to_generate

    warned: list[str] = []
    monkeypatch.setattr("gradio.Warning", warned.append)
    parsed = {  # an image's parameters: its width and its 150 steps do not fit any model here
        "prompt": "a fox",
        "negative_prompt": "",
        "num_inference_steps": 150,
        "guidance_scale": 6.5,
        "width": 1600,
        "height": 832,
        "seed": 5,
        "scheduler": "euler_a",
    }
    filled = dict(zip(FILL, send_to_generate(parsed), strict=True))
    assert [filled[name] for name in EDIT_FILL] == [gr.skip()] * len(EDIT_FILL)  # mode stays
    keep = gr.skip()
    assert filled["tabs"] == gr.update(selected="generate") and filled["english_prompt"] == ""
    assert {name: filled[name] for name in FIELDS} == {
        "prompt": "a fox",
        "negative_prompt": "",
        "steps": keep,
        "guidance": 6.5,
        "width": keep,
        "height": 832,
        "seed": 5,
        "num_images": keep,
        "scheduler": "euler_a",
    }
    assert warned == ["Left out values huatu cannot use here: num_inference_steps, width."]
    assert send_to_generate(None) == keep and len(warned) == 2


def test_studio_errors_follow_the_browser_language(tiny_service, settings):
    service = ImageService(settings, tiny_service.choice, tiny_service.backend)
    with serving(build_studio(service)) as url:
        client = Client(url, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        with pytest.raises(
            ValidationError, match="`num_inference_steps`（推理步数）必须是 1 到 100"
        ):
            client.predict(prompt="a dog", steps=10.5, api_name="/generate")


def test_one_session_cannot_flood_the_queue(tiny_service, settings):
    from huatu.ui.handlers import MAX_PER_SESSION

    service = ImageService(settings, tiny_service.choice, tiny_service.backend)
    with serving(build_studio(service)) as url:
        client = Client(url, verbose=False)  # one client is one session
        with service._slots.exclusive():  # the pipeline is busy: nothing ends meanwhile
            jobs = [
                client.submit(prompt=f"job {i}", steps=2, width=64, height=64, api_name="/generate")
                for i in range(5)
            ]
            wait_until(lambda: sum(job.done() for job in jobs) == 5 - MAX_PER_SESSION)
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(job.result(timeout=300))
            except ValidationError as error:
                outcomes.append(str(error))
        refused = [o for o in outcomes if isinstance(o, str)]
        served = [o for o in outcomes if not isinstance(o, str)]
        assert len(served) == MAX_PER_SESSION and len(refused) == 5 - MAX_PER_SESSION, refused
        assert all("queued or running" in text for text in refused), refused
        # the places are given back: the same session is served again
        assert studio_images(client.predict(prompt="after", steps=2, api_name="/generate"))


def test_stop_also_stops_a_run_still_waiting_for_its_turn(tiny_service, settings):
    service = ImageService(settings, tiny_service.choice, tiny_service.backend)
    with serving(build_studio(service)) as url:
        first, second = Client(url, verbose=False), Client(url, verbose=False)
        running = first.submit(
            prompt="long", steps=100, width=512, height=512, api_name="/generate"
        )
        deadline = time.monotonic() + 60
        while not any("Step" in str(out[0]) for out in running.outputs()):
            assert time.monotonic() < deadline, "the first run never started"
            time.sleep(0.1)
        waiting = second.submit(prompt="queued", steps=2, api_name="/generate")
        wait_until(  # in line behind the running one, and told so
            lambda: any("ahead of you" in str(out[0]) for out in waiting.outputs())
        )
        second.predict(api_name="/stop")
        first.predict(api_name="/stop")
        assert running.result(timeout=60)[0].startswith("⏹ Stopped at step")
        assert waiting.result(timeout=60)[0] == "Stopped."
        assert list(settings.outputs_dir.rglob("*.png")) == []
        # and the next run of that session is not stopped
        assert studio_images(second.predict(prompt="next", steps=2, api_name="/generate"))


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
