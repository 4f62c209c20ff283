"""The OpenAI-compatible images API, served for real and driven by the unmodified `openai`
client (and raw httpx for what that client cannot send)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import openai
import pytest
from fastapi import FastAPI
from PIL import Image

from huatu.api import a1111
from huatu.api.a1111.schemas import FIELDS as A1111_FIELDS
from huatu.api.gate import ApiGate
from huatu.api.http_errors import failure_of
from huatu.api.openai_images import create_router
from huatu.api.openai_images.parsing import FIELDS as OPENAI_FIELDS
from huatu.errors import (
    BackendUnavailableError,
    HostedError,
    HostedTimeoutError,
    HuatuError,
    ModelLoadError,
    OutOfMemory,
    QueueFullError,
    SafetyCheckerFlagged,
    StorageError,
    explain,
)
from huatu.messages import Notice
from huatu.metadata import parse_parameters, read_parameters
from huatu.server import Access, ServerThread
from huatu.service import ImageService
from tests.helpers import free_port, serving_app

API_KEY = "secret-key-123"
FAST = {"steps": 2}
JSON = {
    "content-type": "application/json"
}  # huatu extension (extra_body): keeps the tiny model quick


@pytest.fixture(scope="module")
def url(tiny_service):
    with serving_app(tiny_service) as base_url:
        yield base_url


@pytest.fixture
def client(url) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)


def decode_png(data: bytes) -> tuple[Image.Image, str]:
    """The image and its ``parameters`` text."""
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    parameters = read_parameters(data)
    assert parameters is not None
    return image, parameters


def seed_of(parameters: str) -> int:
    return int(parse_parameters(parameters).settings["Seed"])


def assert_still_serving(client: openai.OpenAI) -> None:
    result = client.images.generate(prompt="still here", size="64x64", extra_body=FAST)
    assert len(result.data) == 1 and result.data[0].b64_json


def test_b64_json_images_carry_metadata(client):
    prompt = "a red fox in the snow"
    result = client.images.generate(
        model="tiny", prompt=prompt, n=2, size="64x64", response_format="b64_json"
    )
    assert result.created > 0 and result.size == "64x64" and len(result.data) == 2
    seeds = []
    for item in result.data:
        assert item.url is None and item.revised_prompt is None
        image, parameters = decode_png(base64.b64decode(item.b64_json))
        assert image.size == (64, 64)
        assert parse_parameters(parameters).prompt == prompt
        assert "Model: tiny" in parameters
        seeds.append(seed_of(parameters))
    assert seeds[1] == seeds[0] + 1


def test_huatu_extensions_and_openai_extras(client):
    result = client.images.generate(
        model="gpt-image-1",  # an OpenAI name means the loaded model; its default is b64_json
        prompt="a lighthouse",
        n=2,
        size="64x96",
        quality="high",
        style="vivid",
        user="someone",
        background="transparent",
        output_format="webp",  # accepted, but the answer is PNG
        extra_body={
            "steps": 3,
            "seed": 1234,
            "negative_prompt": "fog",
            "guidance_scale": 5,
            "step_cache": True,
            "fast_decode": True,
            "unknown_field": 1,
        },
    )
    parsed = [parse_parameters(decode_png(base64.b64decode(d.b64_json))[1]) for d in result.data]
    assert [int(p.settings["Seed"]) for p in parsed] == [1234, 1235]
    assert parsed[0].negative_prompt == "fog"
    assert parsed[0].settings["Steps"] == "3" and parsed[0].settings["Size"] == "64x96"
    assert parsed[0].settings["CFG scale"] == "5"
    assert parsed[0].settings["Cache"] == "DeepCache interval 3"
    assert parsed[0].settings["VAE"] == "TAESD"


def test_url_answers_point_at_the_saved_png(client, url):
    result = client.images.generate(
        prompt="a blue boat", size="64x64", response_format="url", extra_body=FAST
    )
    (item,) = result.data
    assert item.b64_json is None and item.url.startswith(f"{url}/outputs/")
    response = httpx.get(item.url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image, parameters = decode_png(response.content)
    assert image.size == (64, 64) and parameters.startswith("a blue boat")
    # DALL·E names default to url, as on OpenAI
    dalle = client.images.generate(model="dall-e-2", prompt="a cat", size="64x64", extra_body=FAST)
    assert dalle.data[0].url and dalle.data[0].b64_json is None


def test_models(client, tiny_service):
    models = client.models.list()
    assert [m.id for m in models.data] == [tiny_service.choice.model] == ["tiny"]
    assert models.data[0].object == "model" and models.data[0].owned_by == "huatu"
    assert client.models.retrieve("tiny").id == "tiny"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("sdxl-turbo")
    assert caught.value.body["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("fields", "param", "text"),
    [
        ({"size": "65x65"}, "size", "'65x65'"),
        ({"size": "big"}, "size", "'big'"),
        ({"size": "100x"}, "size", "'100x'"),
        ({"size": "2048x2048"}, "size", "'2048x2048'"),
        ({"n": 9}, "n", "`n` must be an integer from 1 to 4, but is 9"),
        ({"prompt": ""}, "prompt", "`prompt` must not be empty"),
        ({"prompt": "x" * 5000}, "prompt", "at most 1,000 characters"),
        ({"response_format": "jpg"}, "response_format", "'jpg'"),
        ({"model": "sdxl-turbo"}, "model", "'sdxl-turbo'"),
        ({"extra_body": {"steps": 0}}, "steps", "`steps` must be an integer from 1 to 100"),
        ({"extra_body": {"scheduler": "nope"}}, "scheduler", "'nope'"),
    ],
)
def test_bad_fields_are_400_naming_the_field(client, fields, param, text):
    arguments = {"prompt": "a dog", "size": "64x64", **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(**arguments)
    error = caught.value
    assert error.param == param and error.body["param"] == param
    assert error.type == "invalid_request_error"
    assert text in error.body["message"]
    assert "Traceback" not in error.body["message"]
    assert_still_serving(client)


def test_raw_requests_get_openai_errors(url, client):
    endpoint = f"{url}/v1/images/generations"
    cases = [
        httpx.post(endpoint, content=b'{"prompt": "a dog",', headers=JSON),
        httpx.post(endpoint, content=b"\xff\xfe", headers=JSON),
        httpx.post(endpoint, data={"prompt": "a dog"}),  # form-encoded
        httpx.post(
            endpoint, content=b'{"prompt": "a dog"}', headers={"content-type": "text/plain"}
        ),
        httpx.post(endpoint, json=["a dog"]),
        httpx.post(endpoint, json={"size": "64x64"}),  # no prompt
        httpx.post(endpoint, json={"prompt": 5, "size": "64x64"}),
        httpx.post(endpoint, json={"prompt": "a dog", "size": 64}),
        httpx.post(endpoint, json={"prompt": "a dog", "n": "2"}),
        httpx.post(endpoint, json={"prompt": "a dog", "stream": True}),
        httpx.get(endpoint),
        httpx.get(f"{url}/v1/nothing/here"),
        httpx.delete(f"{url}/v1"),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.text
        body = response.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["message"]
    assert [r.status_code for r in cases[-3:]] == [404, 404, 404]
    assert cases[5].json()["error"]["param"] == "prompt"
    assert cases[7].json()["error"]["param"] == "size"
    assert cases[8].json()["error"]["param"] == "n"
    assert_still_serving(client)


@contextmanager
def serving_routers(service, gate, *, with_a1111: bool = False) -> Iterator[str]:
    """This router (and A1111's when ``with_a1111``) on a FastAPI app of its own, served for
    real; yield its base URL."""
    app = FastAPI()
    app.include_router(create_router(service, gate))
    if with_a1111:
        app.include_router(a1111.create_router(service, gate))
    server = ServerThread(app, "127.0.0.1", free_port()).start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def bare_router(service, gate) -> Iterator[openai.OpenAI]:
    """Only this router, served for real; yield a client."""
    with serving_routers(service, gate) as base_url:
        yield openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0)


def test_busy_gate_is_503_with_retry_after(tiny_service):
    with bare_router(tiny_service, ApiGate(limit=0)) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            client.images.generate(prompt="a dog", size="64x64")
        assert caught.value.status_code == 503
        assert caught.value.response.headers["retry-after"] == "60"
        assert caught.value.type == "server_error" and caught.value.code == "server_overloaded"
        assert "busy" in caught.value.body["message"]


class FailingService:
    """Stands in for ImageService: generating raises ``error``."""

    def __init__(self, tiny_service, error: Exception) -> None:
        self.settings = replace(tiny_service.settings, api_key=API_KEY)
        self.choice = tiny_service.choice
        self.known_models = tiny_service.known_models
        self.error = error

    def generate(self, request, **options):
        raise self.error


def unloaded_by(model: str) -> BackendUnavailableError:
    """What the service raises while ``model`` failed to load."""
    failure = Notice("model_load_failed", {"model": model, "kind": "OSError", "remedy": ""})
    return BackendUnavailableError("model_not_loaded", error=failure)


@pytest.mark.parametrize(
    ("error", "status", "text"),
    [
        (unloaded_by(f"key {API_KEY}"), 503, "key ***"),
        (RuntimeError(f"boom {API_KEY}"), 500, "the server log has details"),
    ],
)
def test_failures_are_openai_errors_without_secrets(tiny_service, error, status, text):
    with bare_router(FailingService(tiny_service, error), ApiGate()) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            client.images.generate(prompt="a dog", size="64x64")
        assert caught.value.status_code == status
        assert caught.value.type == "server_error" and text in caught.value.body["message"]
        assert API_KEY not in caught.value.response.text


# --------------------------------------------------------------------------------------------
# Both APIs: one status table, each API's own field names


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [
        (QueueFullError(16), 503, True),
        (unloaded_by("broken"), 503, False),
        (OutOfMemory(), 503, False),
        (ModelLoadError("model_load_failed", model="m", kind="OSError", remedy=""), 400, False),
        (SafetyCheckerFlagged(2, 2), 400, False),
        (HostedTimeoutError("internal_error"), 504, False),
        (HostedError("internal_error"), 502, False),
        (StorageError("storage_disk_full"), 500, False),
        (RuntimeError("a bug"), 500, False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_both_apis_answer_a_failure_with_the_one_tables_status(
    tiny_service, error, status, retry_after
):
    failure = failure_of(error)
    assert (failure.status, failure.retry_after) == (status, retry_after)
    with serving_routers(FailingService(tiny_service, error), ApiGate(), with_a1111=True) as url:
        a1111_answer = httpx.post(
            f"{url}/sdapi/v1/txt2img", json={"prompt": "a dog", "width": 64, "height": 64}
        )
        openai_answer = httpx.post(f"{url}/v1/images/generations", json={"prompt": "a dog"})
    assert a1111_answer.status_code == openai_answer.status_code == status
    for answer in (a1111_answer, openai_answer):
        assert ("retry-after" in answer.headers) == retry_after
        if retry_after:
            assert answer.headers["retry-after"] == "60"
    assert a1111_answer.json()["error"] == type(error).__name__
    body = openai_answer.json()["error"]
    assert (body["type"], body["code"]) == (failure.type, failure.code)
    if isinstance(error, HuatuError):  # and the same sentence
        assert body["message"] == a1111_answer.json()["detail"]
        assert a1111_answer.json()["detail"] == explain(error)


#: A value the validator refuses, by request field (``model``: the service's model switch).
REFUSED = {
    "prompt": "",
    "negative_prompt": 5,
    "num_inference_steps": 0,
    "guidance_scale": 25,
    "width": 65,
    "height": 65,
    "seed": -5,
    "num_images": 9,
    "scheduler": "Heun",
    "model": "/not/a/listed/folder",
    "step_cache": "maybe",
    "fast_decode": "yes",
}


def refused_fields(names) -> list[tuple[str, str]]:
    """(edge name, request field) of every field of a FieldNames table."""
    return [
        (edge, field)
        for edge, target in names.items()
        for field in (target if isinstance(target, tuple) else (target,))
    ]


@pytest.mark.parametrize(("edge", "field"), refused_fields(OPENAI_FIELDS.names))
def test_openai_names_a_refused_field_from_its_table(url, edge, field):
    target = OPENAI_FIELDS.names[edge]
    if isinstance(target, tuple):  # size: the refused side, the other one good
        value = "x".join(str(REFUSED[side]) if side == field else "64" for side in target)
    else:
        value = REFUSED[field]
    body = {"prompt": "a dog", "size": "64x64", **FAST, edge: value}
    answer = httpx.post(f"{url}/v1/images/generations", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == edge == OPENAI_FIELDS.edge_name(field)
    assert error["code"] == "invalid_value" and f"`{edge}`" in error["message"]


@pytest.mark.parametrize(("edge", "field"), refused_fields(A1111_FIELDS.names))
def test_a1111_names_a_refused_field_from_its_table(url, edge, field):
    if field == "model":  # the service's model switch refuses it
        answer = httpx.post(f"{url}/sdapi/v1/options", json={edge: REFUSED[field]})
    else:
        body = {"prompt": "a dog", "width": 64, "height": 64, "steps": 2, edge: REFUSED[field]}
        answer = httpx.post(f"{url}/sdapi/v1/txt2img", json=body)
    assert answer.status_code == 422, answer.text
    [detail] = answer.json()["detail"]
    assert detail["loc"] == ["body", edge] and A1111_FIELDS.edge_name(field) == edge
    assert f"`{edge}`" in detail["msg"]


def test_api_key_is_required_and_never_echoed(tiny_service):
    # HUATU_API_KEY as `huatu serve` would have it: in the settings, so errors redact it
    settings = replace(tiny_service.settings, api_key=API_KEY)
    service = ImageService(settings, tiny_service.choice, tiny_service.backend)
    with serving_app(service, access=Access.from_settings(settings)) as url:
        good = openai.OpenAI(base_url=f"{url}/v1", api_key=API_KEY, max_retries=0)
        result = good.images.generate(
            prompt="a key", size="64x64", response_format="url", extra_body=FAST
        )
        image_url = result.data[0].url
        fetched = httpx.get(image_url, headers={"authorization": f"Bearer {API_KEY}"})
        assert fetched.status_code == 200 and fetched.content.startswith(b"\x89PNG")
        assert [m.id for m in good.models.list().data] == ["tiny"]

        bodies = [httpx.get(image_url).text]
        bad = openai.OpenAI(base_url=f"{url}/v1", api_key="wrong-key", max_retries=0)
        for call in (
            lambda: bad.images.generate(prompt="a dog", size="64x64"),
            lambda: bad.models.list(),
        ):
            with pytest.raises(openai.AuthenticationError) as caught:
                call()
            assert caught.value.status_code == 401
            assert caught.value.body["code"] == "invalid_api_key"
            bodies.append(caught.value.response.text)
        with pytest.raises(openai.BadRequestError) as caught:
            good.images.generate(prompt=API_KEY * 200, size="64x64")
        bodies.append(caught.value.response.text)
        assert "(2,800 characters)" in bodies[-1]  # shortened, and the key in it redacted
        assert not any(API_KEY in body for body in bodies)
        assert good.models.list().data
