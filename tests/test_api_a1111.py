"""The AUTOMATIC1111-compatible API (``/sdapi/v1``), served for real and driven by the
unmodified ``webuiapi`` client (and raw httpx for what that client cannot send)."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import webuiapi
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from huatu.api.a1111 import create_router
from huatu.api.gate import ApiGate
from huatu.backends.selection import BackendChoice
from huatu.backends.tiny import ensure_tiny_model
from huatu.errors import ModelLoadError
from huatu.messages import Notice
from huatu.metadata import parse_parameters, read_parameters
from huatu.server import Access
from huatu.service import ImageService
from tests.helpers import serving_app

FAST = {"steps": 2, "width": 64, "height": 64}


@pytest.fixture(scope="module")
def url(tiny_service):
    with serving_app(tiny_service) as base_url:
        yield base_url


@pytest.fixture
def api(url) -> webuiapi.WebUIApi:
    host, port = url.removeprefix("http://").split(":")
    return webuiapi.WebUIApi(host=host, port=int(port), steps=3)


def settings_of(parameters: str) -> dict[str, str]:
    return parse_parameters(parameters).settings


def png_parameters(b64: str) -> tuple[Image.Image, str]:
    """A base64 PNG of an answer: the image and its ``parameters`` text chunk."""
    data = base64.b64decode(b64)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    parameters = read_parameters(data)
    assert parameters is not None
    return image, parameters


def post(url: str, body: object, **options) -> httpx.Response:
    return httpx.post(f"{url}/sdapi/v1/txt2img", json=body, timeout=60, **options)


def assert_still_serving(url: str) -> None:
    answer = post(url, {"prompt": "still here", **FAST})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["images"]) == 1


def test_txt2img_with_webuiapi(api, tiny_service):
    outputs = tiny_service.settings.outputs_dir
    before = set(outputs.rglob("*.png"))
    result = api.txt2img(
        prompt="a red fox",
        negative_prompt="blurry",
        width=128,
        height=96,
        seed=1234,
        sampler_name="Euler a",
        cfg_scale=6.5,
    )
    assert len(result.images) == 1
    assert result.image.size == (128, 96)
    info = result.info
    assert info["seed"] == 1234 and info["all_seeds"] == [1234]
    assert info["prompt"] == "a red fox" and info["negative_prompt"] == "blurry"
    assert (info["width"], info["height"], info["steps"]) == (128, 96, 3)
    assert info["sampler_name"] == "Euler a" and info["cfg_scale"] == 6.5
    assert info["batch_size"] == 1 and info["sd_model_name"] == "tiny"
    assert result.parameters["prompt"] == "a red fox"  # the request, echoed
    image, text = png_parameters(result.json["images"][0])
    assert text == info["infotexts"][0] == result.image.info["parameters"]
    parsed = parse_parameters(text)
    assert parsed.prompt == "a red fox" and parsed.negative_prompt == "blurry"
    assert (
        settings_of(text).items()
        >= {
            "Seed": "1234",
            "Sampler": "Euler a",
            "Steps": "3",
            "CFG scale": "6.5",
            "Size": "128x96",
            "Model": "tiny",
        }.items()
    )
    saved = set(outputs.rglob("*.png")) - before
    assert len(saved) == 1  # saved like every edge's images
    assert read_parameters(saved.pop()) == text


def test_batch_size_times_n_iter_gives_consecutive_seeds(api):
    result = api.txt2img(
        prompt="a lighthouse",
        width=64,
        height=64,
        seed=77,
        batch_size=2,
        n_iter=2,
        sampler_name="DPM++ 2M",
        scheduler="Karras",
    )
    assert len(result.images) == 4
    assert result.info["all_seeds"] == [77, 78, 79, 80]
    assert len(result.info["all_prompts"]) == 4
    seeds = [int(settings_of(image.info["parameters"])["Seed"]) for image in result.images]
    assert seeds == [77, 78, 79, 80]
    assert {settings_of(image.info["parameters"])["Sampler"] for image in result.images} == {
        "DPM++ 2M Karras"
    }
    assert result.info["sampler_name"] == "DPM++ 2M Karras"


@pytest.mark.parametrize(
    ("sampler", "scheduler", "label"),
    [
        ("DPM++ 2M Karras", "automatic", "DPM++ 2M Karras"),  # the old combined name
        ("DPM++ 2M", "Automatic", "DPM++ 2M Karras"),  # A1111's default schedule for it
        ("DPM++ 2M", "uniform", "DPM++ 2M"),
        ("Euler", None, "Euler"),
    ],
)
def test_sampler_names(url, sampler, scheduler, label):
    body = {"prompt": "a boat", "sampler_name": sampler, "scheduler": scheduler, **FAST}
    answer = post(url, body)
    assert answer.status_code == 200, answer.text
    _, text = png_parameters(answer.json()["images"][0])
    assert settings_of(text)["Sampler"] == label


def test_random_seed_and_send_images_false(url):
    answer = post(url, {"prompt": "a kite", "seed": -1, "batch_size": 2, **FAST})
    info = json.loads(answer.json()["info"])
    first = info["seed"]
    assert first >= 0 and info["all_seeds"] == [first, first + 1]
    answer = post(url, {"prompt": "a kite", "send_images": False, **FAST})
    assert answer.status_code == 200
    assert answer.json()["images"] == []
    assert len(json.loads(answer.json()["info"])["infotexts"]) == 1


def test_listings(api):
    assert "tiny" in api.util_get_model_names()
    model = api.get_sd_models()[0]
    assert set(model) == {"title", "model_name", "hash", "sha256", "filename", "config"}
    assert {"Euler a", "Euler", "DPM++ 2M", "DPM++ 2M Karras"} <= set(api.util_get_sampler_names())
    assert all(set(item) == {"name", "aliases", "options"} for item in api.get_samplers())
    assert {"automatic", "karras", "uniform"} <= set(api.util_get_scheduler_names())
    options = api.get_options()
    assert options["sd_model_checkpoint"] == "tiny" and options["samples_format"] == "png"
    assert api.util_get_current_model() == "tiny"
    assert [item["name"] for item in api.get_upscalers()] == ["None", "Lanczos", "Nearest"]
    assert api.get_loras() == [] and api.get_cmd_flags() == {}
    assert api.get_scripts() == {"txt2img": [], "img2img": []}
    api.util_wait_for_ready(check_interval=0.1)  # idle: returns at once


def test_openapi_schema_lists_the_routes(url):
    schema = httpx.get(f"{url}/openapi.json").json()
    assert {"/sdapi/v1/txt2img", "/sdapi/v1/progress", "/sdapi/v1/options"} <= set(schema["paths"])


def test_options_switch_the_model(settings):
    folder = str(ensure_tiny_model(settings.cache_dir))
    settings = replace(settings, models=(folder,))  # HUATU_MODELS: the operator lists it
    service = ImageService.start(settings, model="tiny", backend="local")
    with serving_app(service) as url:
        host, port = url.removeprefix("http://").split(":")
        api = webuiapi.WebUIApi(host=host, port=int(port), steps=2)
        # A1111 answers null on success
        assert (
            api.set_options({"sd_model_checkpoint": folder, "CLIP_stop_at_last_layers": 2}) is None
        )
        assert service.choice.model == folder
        assert api.util_get_current_model() == folder
        assert {"tiny", folder} <= set(api.util_get_model_names())
        result = api.txt2img(prompt="after the switch", width=64, height=64)
        assert settings_of(result.image.info["parameters"])["Model"] == folder

        # a path the operator did not list is refused (no probing of this machine's files)
        for path in ("/nonexistent/folder", "../../etc", "~/models", str(Path(folder).parent)):
            answer = httpx.post(f"{url}/sdapi/v1/options", json={"sd_model_checkpoint": path})
            assert answer.status_code == 422, path
            assert "a Hugging Face Hub id" in answer.json()["detail"][0]["msg"]
        error = api.set_options({"sd_model_checkpoint": "someone/not-downloaded"})  # offline
        assert error["error"] == "ModelLoadError" and "someone/not-downloaded" in error["detail"]
        assert service.choice.model == folder and api.util_get_current_model() == folder
        answer = httpx.post(f"{url}/sdapi/v1/options", json={"sd_model_checkpoint": 5})
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "sd_model_checkpoint"]

        api.util_set_model("TINY")  # by title, as the client finds it in /sd-models
        assert service.choice.model == "tiny"
        assert len(api.txt2img(prompt="back again", width=64, height=64).images) == 1


def wait_for(url: str, check, *, image: bool = True, timeout_s: float = 30.0) -> dict:
    """Poll /progress until ``check`` holds (``image``: with the preview)."""
    params = {"skip_current_image": not image}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        progress = httpx.get(f"{url}/sdapi/v1/progress", params=params).json()
        if check(progress):
            return progress
        time.sleep(0.02)
    raise AssertionError(f"progress never matched: {progress}")


def run_in_thread(url: str, body: dict) -> tuple[threading.Thread, dict]:
    answer: dict = {}

    def target() -> None:
        response = post(url, body)
        answer.update(status=response.status_code, json=response.json(), at=time.monotonic())

    thread = threading.Thread(target=target)
    thread.start()
    return thread, answer


def test_progress_and_interrupt(url):
    body = {"prompt": "a slow one", "steps": 100, "width": 256, "height": 256, "n_iter": 4}
    thread, answer = run_in_thread(url, body)
    progress = wait_for(url, lambda p: p["progress"] > 0 and p["current_image"])
    state = progress["state"]
    assert state["job_count"] == 4 and state["sampling_steps"] == 100
    assert 0 < progress["progress"] < 1 and progress["eta_relative"] >= 0
    preview = Image.open(io.BytesIO(base64.b64decode(progress["current_image"])))
    assert preview.format == "PNG" and preview.width > 0
    skipped = httpx.get(f"{url}/sdapi/v1/progress", params={"skip_current_image": True})
    assert skipped.json()["current_image"] is None

    assert httpx.post(f"{url}/sdapi/v1/interrupt").json() == {}
    thread.join(timeout=120)  # a guard: the answer comes as soon as the step ends
    assert not thread.is_alive() and answer["status"] == 200
    assert answer["json"]["images"] == []  # stopped mid-run: not one of the 4 runs finished
    assert json.loads(answer["json"]["info"])["all_seeds"]
    idle = httpx.get(f"{url}/sdapi/v1/progress").json()
    assert idle["progress"] == 0 and idle["state"]["job_count"] == 0
    assert_still_serving(url)


def test_skip_goes_on_with_the_next_run(url):
    body = {"prompt": "skip me", "steps": 50, "width": 256, "height": 256, "n_iter": 2}
    thread, answer = run_in_thread(url, {**body, "seed": 500})
    started = lambda p: p["state"]["sampling_step"] > 0 and p["state"]["job_no"] == 0  # noqa: E731
    wait_for(url, started, image=False)
    httpx.post(f"{url}/sdapi/v1/skip")
    thread.join(timeout=30)
    assert answer["status"] == 200
    images = answer["json"]["images"]
    assert len(images) == 1  # the first run was skipped, the second made its image
    _, text = png_parameters(images[0])
    assert settings_of(text)["Seed"] == "501"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"steps": 0}, "steps", ["1 to 100", "0"]),
        ({"width": 65}, "width", ["multiple of 8", "65"]),
        ({"steps": "abc"}, "steps", ["'abc'"]),
        ({"cfg_scale": 25}, "cfg_scale", ["0 to 20"]),
        ({"batch_size": 5}, "batch_size", ["1 to 4"]),
        ({"n_iter": 0}, "n_iter", ["1 to 25"]),
        ({"seed": 2**32 - 1, "batch_size": 2}, "seed", ["at most"]),
        ({"sampler_name": "Heun"}, "sampler_name", ["Euler a", "'Heun'"]),
        ({"sampler_name": "Euler", "scheduler": "Karras"}, "scheduler", ["Automatic"]),
        ({"sampler_name": "Euler Karras"}, "sampler_name", ["DPM++ 2M"]),
        ({"send_images": "yes"}, "send_images", ["true, false"]),
        ({"prompt": ""}, "prompt", ["empty"]),
        ({"prompt": ["a", "b"]}, "prompt", ["text"]),
    ],
)
def test_bad_values_answer_422_naming_the_field(url, body, field, words):
    answer = post(url, {"prompt": "a cat", **FAST, **body})
    assert answer.status_code == 422, answer.text
    [detail] = answer.json()["detail"]
    assert detail["loc"] == ["body", field]
    assert f"`{field}`" in detail["msg"] and all(word in detail["msg"] for word in words)
    assert "Traceback" not in answer.text
    assert_still_serving(url)


def test_broken_bodies_answer_422(url):
    headers = {"content-type": "application/json"}
    for content in (b'{"prompt": "a cat", "steps": ', b"[1, 2]", b'"text"', b""):
        answer = httpx.post(f"{url}/sdapi/v1/txt2img", content=content, headers=headers)
        assert answer.status_code == 422, (content, answer.text)
        assert isinstance(answer.json()["detail"], list)
    answer = httpx.post(f"{url}/sdapi/v1/options", content=b"[1]", headers=headers)
    assert answer.status_code == 422
    assert_still_serving(url)


def test_step_caching_and_fast_decode_are_asked_with_huatus_own_fields(url):
    answer = post(url, {"prompt": "a cat", **FAST, "step_cache": True, "fast_decode": True})
    assert answer.status_code == 200, answer.text
    _, parameters = png_parameters(answer.json()["images"][0])
    assert settings_of(parameters)["Cache"] == "DeepCache interval 3"
    assert settings_of(parameters)["VAE"] == "TAESD"


def test_other_a1111_and_unknown_fields_are_ignored(url):
    body = {
        "prompt": "a cat",
        **FAST,
        "enable_hr": True,
        "hr_scale": 2,
        "hr_upscaler": "Latent",
        "styles": ["one"],
        "restore_faces": True,
        "override_settings": {"CLIP_stop_at_last_layers": 2},
        "alwayson_scripts": {"ControlNet": {"args": []}},
        "script_args": [],
        "save_images": False,
        "eta": 1.0,
        "made_up_field": {"nested": [1, 2]},
        "steps": None,  # null: the default (A1111's 50)
    }
    answer = post(url, body)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["images"]) == 1
    assert json.loads(answer.json()["info"])["steps"] == 50
    assert "made_up_field" not in answer.json()["parameters"]


def test_busy_and_unloaded_answer_in_a1111_error_shape(tiny_service, settings):
    app = FastAPI()
    app.include_router(create_router(tiny_service, ApiGate(limit=0)))
    answer = TestClient(app).post("/sdapi/v1/txt2img", json={"prompt": "a cat", **FAST})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "60"
    assert answer.json()["error"] == "QueueFullError" and "busy" in answer.json()["detail"]
    assert set(answer.json()) == {"error", "detail", "body", "errors"}

    choice = BackendChoice("local", "broken", Notice("choice_folder"))
    failure = ModelLoadError("model_load_failed", model="broken", kind="OSError", remedy="")
    unloaded = ImageService(settings, choice, None, failure)
    app = FastAPI()
    app.include_router(create_router(unloaded, ApiGate()))
    answer = TestClient(app).post("/sdapi/v1/txt2img", json={"prompt": "a cat", **FAST})
    assert answer.status_code == 503
    assert answer.json()["error"] == "BackendUnavailableError"
    assert "could not be loaded" in answer.json()["detail"]
    assert "retry-after" not in answer.headers  # only a full queue passes by itself


def test_credentials_are_asked_and_webuiapi_sends_them(tiny_service):
    access = Access(users=(("ann", "pw-123"),))
    with serving_app(tiny_service, access=access) as url:
        refused = post(url, {"prompt": "a cat", **FAST})
        assert refused.status_code == 401 and "detail" in refused.json()
        host, port = url.removeprefix("http://").split(":")
        api = webuiapi.WebUIApi(host=host, port=int(port), username="ann", password="pw-123")
        result = api.txt2img(prompt="with credentials", width=64, height=64, steps=2)
        assert len(result.images) == 1
