"""Bad input, property-based: the validator and every API under random and broken input.

Each API answers bad input with a clear error in its own format — never a 500, never a
traceback — and keeps serving (issue 6, "Bad input"). The validator is fuzzed directly; the
APIs on one live server for the module (studio + A1111 + OpenAI + MCP on one port).

Example counts are small for ``make test`` (deterministic, see :mod:`tests.fuzz_support`);
``HUATU_AUDIT=1`` (``make audit``) runs ten times as many, randomly.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import struct
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from PIL import Image

from huatu.errors import ValidationError, explain
from huatu.fields import FORM
from huatu.request import (
    MAX_GUIDANCE,
    MAX_IMAGES,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MIN_GUIDANCE,
    MIN_IMAGES,
    MIN_SIDE,
    MIN_STEPS,
    RANDOM_SEED,
    SIDE_MULTIPLE,
    GenerationRequest,
)
from huatu.schedulers import scheduler_ids
from huatu.service import ImageService
from tests.fuzz_support import (
    REQUEST_FIELDS,
    McpSession,
    assert_no_trace,
    counts,
    fuzz_settings,
    guidances,
    json_values,
    names_field,
    prompts,
    schedulers,
    seeds,
    sides,
    steps,
    unknown_names,
)
from tests.helpers import serving_app

TIMEOUT = httpx.Timeout(120)
JSON_TYPE = {"content-type": "application/json"}
#: A small valid body for every API (A1111's and OpenAI's fields together).
CHEAP = '"prompt": "a", "steps": 1, "width": 64, "height": 64, "size": "64x64"'

# ============================================================================================
# The validator


def assert_valid_request(request: GenerationRequest) -> None:
    """Every invariant of a request :meth:`GenerationRequest.create` accepted."""
    assert type(request.prompt) is str and request.prompt.strip()
    assert len(request.prompt) <= MAX_PROMPT_CHARS and "\x00" not in request.prompt
    assert type(request.negative_prompt) is str and len(request.negative_prompt) <= (
        MAX_PROMPT_CHARS
    )
    assert "\x00" not in request.negative_prompt
    assert type(request.num_inference_steps) is int
    assert MIN_STEPS <= request.num_inference_steps <= MAX_STEPS
    assert type(request.guidance_scale) is float and math.isfinite(request.guidance_scale)
    assert MIN_GUIDANCE <= request.guidance_scale <= MAX_GUIDANCE
    for side in (request.width, request.height):
        assert type(side) is int and MIN_SIDE <= side <= MAX_SIDE and side % SIDE_MULTIPLE == 0
    assert type(request.num_images) is int and MIN_IMAGES <= request.num_images <= MAX_IMAGES
    assert type(request.seed) is int
    assert request.seed == RANDOM_SEED or (
        request.seed >= 0 and request.seed + request.num_images - 1 <= MAX_SEED
    )
    assert request.scheduler in scheduler_ids()
    assert request.validate() == request  # normalised: validating again changes nothing
    json.dumps(request.to_dict(), allow_nan=False)


def assert_clear_refusal(error: ValidationError, fields: dict[str, Any]) -> None:
    """The refusal names a field that was given (or the missing prompt), backtick-quoted, in
    every language."""
    given_names = {name for name, value in fields.items() if value is not None}
    assert error.field in given_names | {"prompt"}, (error.field, fields)
    assert names_field(str(error), error.field), str(error)
    assert names_field(explain(error, "zh-CN"), error.field)
    unknown = sorted(given_names - set(REQUEST_FIELDS))
    if unknown:
        assert error.field == unknown[0] and error.reason == "unknown_field"


request_fields = st.fixed_dictionaries(
    {},
    optional={
        "prompt": prompts,
        "negative_prompt": st.one_of(st.text(max_size=30), json_values),
        "num_inference_steps": st.one_of(st.integers(MIN_STEPS, MAX_STEPS), json_values),
        "guidance_scale": guidances,
        "width": st.one_of(st.integers(8, 130).map(lambda n: n * 8), json_values),
        "height": st.one_of(st.integers(8, 130).map(lambda n: n * 8), json_values),
        "seed": seeds,
        "num_images": st.one_of(st.integers(MIN_IMAGES, MAX_IMAGES), json_values),
        "scheduler": schedulers,
    },
)


@fuzz_settings(300)
@given(fields=request_fields, extra=st.dictionaries(unknown_names(REQUEST_FIELDS), json_values))
def test_the_validator_accepts_or_names_the_field(fields, extra):
    """Any values for any fields: a request that keeps every invariant, or a
    ``ValidationError`` naming the field — never another exception."""
    fields = {**fields, **extra}
    try:
        request = GenerationRequest.create(**fields)
    except ValidationError as error:
        assert_clear_refusal(error, fields)
        return
    assert_valid_request(request)
    assert not {name for name, value in extra.items() if value is not None}


ui_numbers = st.one_of(
    st.none(), st.integers(-10, 2000), st.floats(), st.floats(-10, 2000), json_values
)


@fuzz_settings(200)
@given(
    prompt=st.one_of(st.none(), st.text(max_size=40), json_values),
    negative_prompt=st.one_of(st.none(), st.text(max_size=40)),
    form_steps=ui_numbers,
    guidance=ui_numbers,
    width=ui_numbers,
    height=ui_numbers,
    seed=ui_numbers,
    num_images=ui_numbers,
    scheduler=st.one_of(st.none(), st.sampled_from(scheduler_ids()), st.text(max_size=12)),
)
def test_the_form_validator_accepts_or_names_the_field(
    prompt, negative_prompt, form_steps, guidance, width, height, seed, num_images, scheduler
):
    """The studio form's values (text, Gradio numbers as int or float, ``None``) under the
    form's short names (:data:`huatu.fields.FORM`)."""
    values = {
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "steps": form_steps,
        "guidance": guidance,
        "width": width,
        "height": height,
        "seed": seed,
        "num_images": num_images,
        "scheduler": scheduler,
    }
    try:
        request = FORM.request(values)
    except ValidationError as error:
        assert_clear_refusal(error, FORM.request_fields(values))
        return
    assert_valid_request(request)


HUGE_INT = 10**400  # what a JSON body can hold (A1111's parser, MCP's) but no float can
LONG_INT = 10**5000  # more digits than Python turns into text by default (4300)


@pytest.mark.parametrize("field", ["guidance_scale"])
def test_the_validator_refuses_an_int_too_large_for_a_float(field):
    with pytest.raises(ValidationError, match=f"`{field}`"):
        GenerationRequest.create(prompt="a", **{field: HUGE_INT})


@pytest.mark.parametrize("field", ["prompt", "num_inference_steps", "width", "seed"])
def test_the_validator_refuses_an_int_too_long_to_print(field):
    fields = {"prompt": "a", field: LONG_INT}
    with pytest.raises(ValidationError, match=f"`{field}`"):
        GenerationRequest.create(**fields)


# ============================================================================================
# One live server for the APIs below


@pytest.fixture(scope="module")
def fuzz_service(tiny_service, base_settings, tmp_path_factory) -> ImageService:
    """The tiny model's service with this module's own outputs folder."""
    settings = replace(base_settings, outputs_dir=tmp_path_factory.mktemp("fuzz-outputs"))
    return ImageService(settings, tiny_service.choice, tiny_service.backend)


@pytest.fixture(scope="module")
def url(fuzz_service) -> str:
    """The base URL of one server with every API (MCP included)."""
    with serving_app(fuzz_service, mcp=True) as base:
        yield base


@pytest.fixture(scope="module")
def http(url) -> httpx.Client:
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        yield client


def post_json(http: httpx.Client, path: str, body: Any) -> httpx.Response:
    """POST ``body`` as JSON, NaN and Infinity included (as Python's json writes them)."""
    return http.post(path, content=json.dumps(body).encode(), headers=JSON_TYPE)


def json_compliant(value: Any) -> bool:
    """Whether ``value`` is JSON without NaN or ±Infinity (what strict encoders accept)."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


def decode_png(text: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(text)))
    assert image.format == "PNG"
    return image


# --------------------------------------------------------------------------------------------
# AUTOMATIC1111

A1111_FIELDS = [
    "prompt",
    "negative_prompt",
    "steps",
    "cfg_scale",
    "width",
    "height",
    "seed",
    "batch_size",
    "n_iter",
    "sampler_name",
    "sampler_index",
    "scheduler",
    "send_images",
    "save_images",
    "styles",
    "subseed",
    "restore_faces",
    "enable_hr",
    "override_settings",
    "script_name",
    "alwayson_scripts",
]
samplers = st.one_of(
    st.sampled_from(["Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras", "DDIM"]), json_values
)
a1111_bodies = st.fixed_dictionaries(
    {"steps": steps, "width": sides, "height": sides},
    optional={
        "prompt": prompts,
        "negative_prompt": st.one_of(st.text(max_size=20), json_values),
        "cfg_scale": guidances,
        "seed": seeds,
        "batch_size": counts,
        "n_iter": counts,
        "sampler_name": samplers,
        "sampler_index": samplers,
        "scheduler": st.one_of(st.sampled_from(["Automatic", "Karras", "Uniform"]), json_values),
        "send_images": st.one_of(st.booleans(), json_values),
        "styles": json_values,
        "override_settings": json_values,
        "alwayson_scripts": json_values,
    },
)


def assert_a1111_error(answer: httpx.Response) -> None:
    """A refusal in one of the shapes the A1111 module documents."""
    assert_no_trace(answer.text)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:2000])
    body = answer.json()
    if set(body) == {"error", "detail", "body", "errors"}:
        assert isinstance(body["detail"], str) and body["detail"], body
        return
    assert set(body) == {"detail"}, body
    detail = body["detail"]
    if isinstance(detail, str):  # FastAPI's "There was an error parsing the body"
        assert detail, body
        return
    assert isinstance(detail, list) and detail, body
    for item in detail:
        assert isinstance(item["loc"], list) and isinstance(item["msg"], str) and item["msg"]
        if item["type"] == "value_error":
            assert names_field(item["msg"], item["loc"][-1]), item


def assert_a1111_answer(answer: httpx.Response, body: dict[str, Any]) -> None:
    if answer.status_code != 200:
        assert_a1111_error(answer)
        return
    data = answer.json()
    info = json.loads(data["info"])
    assert set(data) == {"images", "parameters", "info"}
    expected = len(info["all_seeds"]) if body.get("send_images", True) in (True, None) else 0
    assert len(data["images"]) == expected
    if data["images"]:
        image = decode_png(data["images"][0])
        assert image.size == (info["width"], info["height"])


@fuzz_settings(40)
@given(body=a1111_bodies, extra=st.dictionaries(unknown_names(A1111_FIELDS), json_values))
def test_a1111_txt2img_answers_random_bodies(http, body, extra):
    body = {**extra, **body}
    answer = post_json(http, "/sdapi/v1/txt2img", body)
    assert_a1111_answer(answer, body)


@fuzz_settings(30)
@given(body=json_values)
def test_a1111_txt2img_answers_any_json(http, body):
    """Not even an object: lists, strings, numbers, null."""
    assert_a1111_answer(post_json(http, "/sdapi/v1/txt2img", body), {})


@fuzz_settings(30)
@given(
    options=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"sd_model_checkpoint": st.one_of(json_values, st.sampled_from(["", " ", "TINY"]))}
        ),
    )
)
def test_a1111_options_answers_junk(http, fuzz_service, options):
    """``POST /options``: junk is refused, a model that cannot load is a 400 and the tiny
    model stays loaded. (Model names are kept to ones that load or fail at once.)"""
    wanted = options.get("sd_model_checkpoint") if isinstance(options, dict) else None
    if isinstance(wanted, str) and wanted.strip() and wanted.strip().lower() != "tiny":
        options = {**options, "sd_model_checkpoint": "/nonexistent/" + wanted.strip()[:40]}
    answer = post_json(http, "/sdapi/v1/options", options)
    if answer.status_code == 200:
        assert answer.json() is None
    else:
        assert_a1111_error(answer)
    assert fuzz_service.backend is not None and fuzz_service.choice.model == "tiny"


# --------------------------------------------------------------------------------------------
# OpenAI

OPENAI_FIELDS = [
    "prompt",
    "n",
    "size",
    "response_format",
    "model",
    "negative_prompt",
    "seed",
    "steps",
    "guidance_scale",
    "scheduler",
    "stream",
    "quality",
    "style",
    "user",
]
_SIZE_TEXT = r"\s*(\d{1,6})\s*[xX×]\s*(\d{1,6})\s*"


def _cheap_size(value: Any) -> bool:
    if value is None or value == "auto":
        return False
    match = re.fullmatch(_SIZE_TEXT, value) if isinstance(value, str) else None
    return match is None or int(match[1]) * int(match[2]) <= 128 * 128


openai_sizes = st.one_of(
    st.sampled_from(["64x64", "72X64", " 64 × 128 ", "128x128"]),
    st.from_regex(_SIZE_TEXT, fullmatch=True),
    json_values,
).filter(_cheap_size)
openai_bodies = st.fixed_dictionaries(
    {"steps": steps, "size": openai_sizes},
    optional={
        "prompt": prompts,
        "n": counts,
        "response_format": st.one_of(st.sampled_from(["b64_json", "url"]), json_values),
        "model": st.one_of(st.sampled_from(["tiny", "gpt-image-1", "dall-e-3"]), json_values),
        "negative_prompt": st.one_of(st.text(max_size=20), json_values),
        "seed": seeds,
        "guidance_scale": guidances,
        "scheduler": schedulers,
        "stream": json_values,
        "quality": json_values,
        "user": json_values,
    },
)


def assert_openai_error(answer: httpx.Response) -> None:
    """OpenAI's error object, exactly, with a 4xx status."""
    assert_no_trace(answer.text)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:2000])
    body = answer.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["code"] is None or isinstance(error["code"], str)
    if error["code"] == "invalid_value":
        assert names_field(error["message"], error["param"]), error


def assert_openai_answer(answer: httpx.Response, body: Any) -> None:
    if answer.status_code != 200:
        assert_openai_error(answer)
        return
    data = answer.json()
    n = body.get("n") or 1
    assert len(data["data"]) == n
    width, height = (int(side) for side in data["size"].split("x"))
    item = data["data"][0]
    if "b64_json" in item:
        assert decode_png(item["b64_json"]).size == (width, height)
    else:
        assert item["url"].startswith(str(answer.request.url.copy_with(path="/outputs/")))


@fuzz_settings(40)
@given(body=openai_bodies, extra=st.dictionaries(unknown_names(OPENAI_FIELDS), json_values))
def test_openai_generations_answers_random_bodies(http, body, extra):
    body = {**extra, **body}
    answer = post_json(http, "/v1/images/generations", body)
    assert_openai_answer(answer, body)


@fuzz_settings(30)
@given(body=json_values)
def test_openai_generations_answers_any_json(http, body):
    assert_openai_answer(post_json(http, "/v1/images/generations", body), {})


@fuzz_settings(20)
@given(model=st.text(max_size=40))
def test_openai_models_answers_any_name(http, model):
    from urllib.parse import quote

    answer = http.get("/v1/models/" + quote(model, safe=""))
    if answer.status_code != 200:
        assert_openai_error(answer)


def test_a1111_refuses_a_guidance_too_large_for_a_float(http):
    body = {"prompt": "a", "steps": 1, "width": 64, "height": 64, "cfg_scale": HUGE_INT}
    assert_a1111_error(post_json(http, "/sdapi/v1/txt2img", body))


def test_openai_refuses_a_guidance_too_large_for_a_float(http):
    body = {"prompt": "a", "steps": 1, "size": "64x64", "guidance_scale": HUGE_INT}
    assert_openai_error(post_json(http, "/v1/images/generations", body))


def test_openai_unknown_urls_with_a_newline_answer_in_openai_shape(http):
    assert_openai_error(http.get("/v1/models/%0Atiny"))


# --------------------------------------------------------------------------------------------
# Raw bytes: broken JSON, wrong content types, non-UTF-8, huge bodies

FIVE_MB_JSON = json.dumps({"prompt": "a cat", "negative_prompt": "x" * 5_000_000}).encode()
RAW_CASES = {
    "empty": (b"", JSON_TYPE),
    "no content type": (("{" + CHEAP + "}").encode(), {}),
    "broken json": (b'{"prompt": "a",', JSON_TYPE),
    "trailing junk": (b'{"prompt": "a"} x', JSON_TYPE),
    "single quotes": (b"{'prompt': 'a'}", JSON_TYPE),
    "not utf-8": (b'{"prompt": "\xff\xfe\xfa"}', JSON_TYPE),
    "utf-16": (("{" + CHEAP + "}").encode("utf-16"), JSON_TYPE),
    "bom": (("\ufeff{" + CHEAP + "}").encode(), JSON_TYPE),
    "nul bytes": (b"\x00" * 64, JSON_TYPE),
    "top-level null": (b"null", JSON_TYPE),
    "top-level string": (b'"a cat"', JSON_TYPE),
    "top-level number": (b"1e999", JSON_TYPE),
    "top-level big number": (b"1" * 400, JSON_TYPE),
    "NaN literal": (b'{"prompt": NaN}', JSON_TYPE),
    "long number": (b'{"prompt": "a", "steps": ' + b"9" * 5000 + b"}", JSON_TYPE),
    "deep nesting": (b"[" * 100_000 + b"]" * 100_000, JSON_TYPE),
    "duplicate keys": (b'{"prompt": 1, "prompt": "a", "steps": "x"}', JSON_TYPE),
    "text/plain": (("{" + CHEAP + "}").encode(), {"content-type": "text/plain"}),
    "form": (b"prompt=a&steps=1", {"content-type": "application/x-www-form-urlencoded"}),
    "multipart": (
        b'--B\r\nContent-Disposition: form-data; name="prompt"\r\n\r\na\r\n--B--\r\n',
        {"content-type": "multipart/form-data; boundary=B"},
    ),
    "bad charset": (
        ("{" + CHEAP + "}").encode(),
        {"content-type": "application/json; charset=klingon"},
    ),
    "5 MB of JSON": (FIVE_MB_JSON, JSON_TYPE),
    "5 MB of valid JSON": (
        json.dumps(
            {
                "prompt": "a",
                "steps": 1,
                "width": 64,
                "height": 64,
                "size": "64x64",
                "styles": ["x" * 1000] * 5000,
            }
        ).encode(),
        JSON_TYPE,
    ),
}


def assert_a1111_txt2img(answer: httpx.Response) -> None:
    assert_a1111_answer(answer, {})


def assert_a1111_options(answer: httpx.Response) -> None:
    if answer.status_code == 200:
        assert answer.json() is None  # an object without sd_model_checkpoint: nothing to do
    else:
        assert_a1111_error(answer)


def assert_openai_generations(answer: httpx.Response) -> None:
    assert_openai_answer(answer, {})


#: What each route may answer raw bytes with: the image(s) when the server could still read a
#: small valid request (a BOM, UTF-16, a missing content type are forgiven), else an error in
#: the API's own shape.
RAW_TARGETS = {
    "/sdapi/v1/txt2img": assert_a1111_txt2img,
    "/sdapi/v1/options": assert_a1111_options,
    "/v1/images/generations": assert_openai_generations,
}
RAW_CASES["list with NaN"] = (b"[NaN, 1]", JSON_TYPE)
RAW_CASES["not utf-8, no content type"] = (b"s5\xa8\xf3\xf9\xb0", {})


def raw_params():
    for path in RAW_TARGETS:
        for case in RAW_CASES:
            yield pytest.param(path, case, id=f"{path}-{case}")


@pytest.mark.parametrize(("path", "case"), list(raw_params()))
def test_raw_bodies_get_a_clear_error(http, url, path, case):
    content, headers = RAW_CASES[case]
    # a connection of its own, so that a dropped one would not hide behind the next test
    answer = httpx.post(url + path, content=content, headers=headers, timeout=TIMEOUT)
    RAW_TARGETS[path](answer)
    assert http.get("/sdapi/v1/options").status_code == 200  # still serving


@fuzz_settings(30)
@given(
    path=st.sampled_from(list(RAW_TARGETS)),
    content=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
    content_type=st.sampled_from(
        [None, "application/json", "text/plain", "application/octet-stream", "image/png", "x/+json"]
    ),
)
def test_random_bytes_get_a_clear_error(http, path, content, content_type):
    headers = {"content-type": content_type} if content_type else {}
    answer = http.post(path, content=content, headers=headers)
    RAW_TARGETS[path](answer)


# --------------------------------------------------------------------------------------------
# Gradio: the REST route and gradio_client

GENERATE_INPUTS = [
    "prompt",
    "negative_prompt",
    "steps",
    "guidance",
    "width",
    "height",
    "seed",
    "num_images",
    "scheduler",
    "english_prompt",
]
generate_data = st.one_of(
    st.tuples(
        prompts,
        st.one_of(st.text(max_size=20), json_values),
        steps,
        guidances,
        sides,
        sides,
        seeds,
        counts,
        schedulers,
        st.one_of(st.just(""), st.text(max_size=20), json_values),
    ).map(list),
    st.lists(json_values, max_size=12),
    json_values,
)


def events_of(stream: str) -> list[tuple[str, str]]:
    """``(event, data)`` pairs of a server-sent event stream."""
    events = []
    for block in stream.split("\n\n"):
        lines = block.strip().splitlines()
        if lines and lines[0].startswith("event: "):
            data = "\n".join(line.removeprefix("data: ") for line in lines[1:])
            events.append((lines[0].removeprefix("event: "), data))
    return events


def assert_gradio_refusal(answer: httpx.Response) -> None:
    """A refused call: 4xx with Gradio's ``{"detail": …}`` and no traceback."""
    assert_no_trace(answer.text)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:2000])
    assert "detail" in answer.json()


@fuzz_settings(25)
@given(data=generate_data)
def test_gradio_rest_generate_answers_random_data(http, data):
    posted = post_json(http, "/gradio_api/call/generate", {"data": data})
    if posted.status_code != 200:
        assert_gradio_refusal(posted)
        return
    event_id = posted.json()["event_id"]
    stream = http.get(f"/gradio_api/call/generate/{event_id}").text
    assert_no_trace(stream)
    events = events_of(stream)
    assert events and events[-1][0] in ("complete", "error"), stream[-2000:]
    kind, payload = events[-1]
    if kind == "error":
        assert payload not in ("", "null"), stream[-2000:]  # a message, not a bare error


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b'{"data": NaN}', "application/json"), (b"\xff\xfe", None)],
    ids=["data NaN", "not utf-8"],
)
def test_gradio_rest_refuses_unencodable_bodies_clearly(url, content, content_type):
    headers = {"content-type": content_type} if content_type else {}
    answer = httpx.post(url + "/gradio_api/call/generate", content=content, headers=headers)
    assert_gradio_refusal(answer)


@pytest.fixture(scope="module")
def client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


generate_kwargs = st.fixed_dictionaries(
    {"prompt": prompts, "steps": steps, "width": sides, "height": sides},
    optional={
        "negative_prompt": json_values,
        "guidance": guidances,
        "seed": seeds,
        "num_images": counts,
        "scheduler": schedulers,
        "english_prompt": json_values,
    },
)


@fuzz_settings(12)
@given(kwargs=generate_kwargs)
def test_gradio_client_generate_answers_random_kwargs(client, kwargs):
    """gradio_client sends JSON only (no NaN). A value Gradio's own preprocessing refuses
    (a list for a slider …) is a 400 at ``/queue/join``, which gradio_client raises as
    ``httpx.HTTPStatusError``, not ``AppError``: that 400 is checked for its message."""
    from gradio_client.exceptions import AppError
    from gradio_client.exceptions import ValidationError as ClientValidationError

    assume(json_compliant(kwargs))  # gradio_client itself cannot send NaN or Infinity
    try:
        result = client.predict(**kwargs, api_name="/generate")
    except (AppError, ClientValidationError) as error:
        assert str(error).strip(), repr(error)
        assert_no_trace(str(error))
        return
    except httpx.HTTPStatusError as error:
        assert_gradio_refusal(error.response)
        return
    progress, preview, gallery, info, english = result
    assert isinstance(progress, str) and progress, result
    if progress.startswith("Done"):
        assert gallery and all(Path(item["image"]).is_file() for item in gallery), result


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def small_png(**info: str) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    for key, value in info.items():
        meta.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG", pnginfo=meta)
    return buffer.getvalue()


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (8, 8)).save(buffer, format="GIF")
    return buffer.getvalue()


def huge_text_png() -> bytes:
    data = small_png()
    chunk = png_chunk(b"tEXt", b"parameters\x00" + b"a cat " * 2_000_000)  # 12 MB
    return data[:33] + chunk + data[33:]  # after IHDR


UPLOADS = {
    "text renamed .png": ("notes.png", b"a cat, steps 20\n" * 10),
    "zero bytes": ("empty.png", b""),
    "truncated png": ("cut.png", small_png(parameters="a cat\nSteps: 2")[:40]),
    "png signature only": ("sig.png", b"\x89PNG\r\n\x1a\n"),
    "png with a huge tEXt": ("huge.png", huge_text_png()),
    "png with bad crc": ("crc.png", small_png(parameters="a")[:-4] + b"\x00\x00\x00\x00"),
    "gif": ("anim.gif", gif_bytes()),
    "gif renamed .png": ("anim.png", gif_bytes()),
    "jpeg header only": ("x.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
    "png without parameters": ("plain.png", small_png()),
    "png with parameters": ("good.png", small_png(parameters="a cat\nSteps: 2, Seed: 5")),
}


@pytest.mark.parametrize("case", list(UPLOADS))
def test_image_info_upload_of_anything_gets_a_clear_answer(client, tmp_path, case):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    name, data = UPLOADS[case]
    path = tmp_path / name
    path.write_bytes(data)
    try:
        text = client.predict(handle_file(str(path)), api_name="/image_info")
    except AppError as error:
        message = str(error)
        assert message.strip(), message
        assert_no_trace(message)
        return
    assert isinstance(text, str)
    if case == "png with parameters":
        assert text.startswith("a cat\nSteps: 2")


def test_image_info_refusal_does_not_show_server_paths(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    path = tmp_path / "notes.png"
    path.write_bytes(b"not an image")
    with pytest.raises(AppError) as refused:
        client.predict(handle_file(str(path)), api_name="/image_info")
    message = str(refused.value)
    assert "notes.png" in message and str(tmp_path) not in message
    assert not re.search(r"/[\w.-]+/[\w.-]+/", message), message


# --------------------------------------------------------------------------------------------
# MCP

MCP_PARAMETERS = [
    "prompt",
    "negative_prompt",
    "steps",
    "guidance",
    "width",
    "height",
    "seed",
    "num_images",
    "scheduler",
]
mcp_arguments = st.fixed_dictionaries(
    {"prompt": prompts, "steps": steps, "width": sides, "height": sides},
    optional={
        "negative_prompt": json_values,
        "guidance": guidances,
        "seed": seeds,
        "num_images": counts,
        "scheduler": schedulers,
    },
)


@pytest.fixture(scope="module")
def mcp(url):
    session = McpSession(url + "/gradio_api/mcp/").start()
    yield session
    session.close()


@fuzz_settings(25)
@given(
    arguments=mcp_arguments,
    extra=st.dictionaries(unknown_names(MCP_PARAMETERS), json_values, max_size=2),
)
def test_mcp_tool_answers_random_arguments(mcp, arguments, extra):
    result = mcp.call_tool("generate_image", {**extra, **arguments})
    texts = [item.text for item in result.content if item.type == "text"]
    for text in texts:
        assert_no_trace(text)
    if result.isError:
        assert texts and texts[0].strip(), result
    else:
        images = [item for item in result.content if item.type == "image"]
        assert images and texts and texts[-1].startswith("Generated ")


@fuzz_settings(10)
@given(arguments=json_values)
def test_mcp_tool_answers_arguments_that_are_not_an_object(mcp, arguments):
    try:
        result = mcp.call_tool("generate_image", arguments)
    except Exception as error:  # the client refuses to send it: fine, nothing reached the server
        assert not isinstance(arguments, dict), error
        return
    assert result.isError or arguments is None or isinstance(arguments, dict)


# --------------------------------------------------------------------------------------------
# Keeps serving


def test_zz_every_api_still_serves(http, client, mcp, url):
    """After all of the above, a good request on every API still succeeds."""
    a1111 = http.post(
        "/sdapi/v1/txt2img", json={"prompt": "a cat", "steps": 2, "width": 64, "height": 64}
    )
    assert a1111.status_code == 200 and len(a1111.json()["images"]) == 1
    openai = http.post(
        "/v1/images/generations", json={"prompt": "a cat", "steps": 2, "size": "64x64"}
    )
    assert openai.status_code == 200 and len(openai.json()["data"]) == 1
    assert http.get("/v1/models").json()["data"][0]["id"] == "tiny"
    assert http.get("/").status_code == 200
    *_, gallery, info, english = client.predict(
        prompt="a cat", steps=2, width=64, height=64, seed=5, api_name="/generate"
    )
    assert len(gallery) == 1 and info.startswith("Seed: 5")
    result = mcp.call_tool(
        "generate_image", {"prompt": "a cat", "steps": 2, "width": 64, "height": 64}
    )
    assert not result.isError
    saved = http.get(url + "/outputs/").status_code
    assert saved == 404  # the folder itself is not served
