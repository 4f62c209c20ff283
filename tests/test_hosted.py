"""HostedBackend against a real HTTP stand-in of Hugging Face (tests/standin_hf.py).

Nothing here contacts huggingface.co: the router is pointed at the stand-in through
``Settings.hf_router`` (``HUATU_HF_ROUTER``) and the tutorial endpoint through
``Settings.hf_api_tti_base`` (``HF_API_TTI_BASE``). Deadlines are a few seconds at most.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from huatu.backends.base import BackendOutput, CancelToken, ProgressEvent
from huatu.backends.hosted import HostedBackend
from huatu.backends.hosted_calls import (
    BACKOFF_CAP_S,
    RetriesExhausted,
    StatusFailure,
    TransportFailure,
    backoff_delay,
    call_with_retries,
    format_seconds,
    parse_estimated_time,
    parse_retry_after,
    retry_wait,
    scrubbed,
    status_kind,
)
from huatu.backends.hosted_wire import (
    MAX_SERVER_TEXT,
    build_client_kwargs,
    build_tti_payload,
    decode_base64_image,
    decode_image_body,
    decode_json_image,
    find_base64_image,
    host_of,
    open_image,
    resolve_client_model,
    server_error_text,
)
from huatu.config import Settings
from huatu.errors import (
    GenerationCancelled,
    HostedAuthError,
    HostedError,
    HostedResponseError,
    HostedTimeoutError,
    ModelNotServedError,
    ValidationError,
    explain,
)
from huatu.messages import Notice, render
from huatu.request import DEFAULT_STEPS, GenerationRequest
from tests.helpers import free_port
from tests.standin_hf import (
    StandInHF,
    forbidden,
    garbage,
    gone,
    hang,
    html_page,
    http_error,
    image,
    json_without_image,
    loading,
    make_png,
    not_found,
    rate_limited,
    reset_mid_body,
    seed_colour,
    unauthorized,
)

KEY = "hf_test_SECRET_abc123"
#: A model of a family that takes every setting (SDXL), so every parameter is sent.
MODEL = "stabilityai/stable-diffusion-xl-base-1.0"
PATHS = ["router", "tutorial"]
#: An upper bound that only catches a wait many times longer (a deadline or a hang of
#: minutes), never a slow machine's scheduling.
GUARD_S = 60.0


# --------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("hub_reaches_stand_in")


@pytest.fixture
def stand_in() -> Iterator[StandInHF]:
    with StandInHF() as server:
        yield server


def make_settings(
    stand_in: StandInHF | None, path: str, *, base_url: str | None = None, **overrides: object
) -> Settings:
    """Settings for the router path (InferenceClient) or the tutorial path (httpx)."""
    url = base_url or (stand_in.url if stand_in is not None else "http://127.0.0.1:9")
    fields: dict[str, object] = {
        "hf_api_key": KEY,
        "model": MODEL,
        "hosted_timeout_s": 5.0,
        "hf_router": url,
    }
    if path == "tutorial":
        fields["hf_api_tti_base"] = f"{url}/tti"
    fields.update(overrides)
    return Settings(**fields)  # type: ignore[arg-type]


def make_request(**fields: object) -> GenerationRequest:
    base: dict[str, object] = {"prompt": "a dog in a park", "seed": 42, "width": 64, "height": 96}
    base.update(fields)
    return GenerationRequest.create(**base)


class Run:
    """Runs a backend, collecting progress events, and checks nothing leaks the key."""

    def __init__(self, settings: Settings) -> None:
        self.backend = HostedBackend(settings)
        self.events: list[ProgressEvent] = []
        self.cancel = CancelToken()
        self.elapsed = 0.0

    def __call__(
        self,
        request: GenerationRequest | None = None,
        on_event: Callable[[ProgressEvent], None] | None = None,
    ) -> BackendOutput:
        def progress(event: ProgressEvent) -> None:
            self.events.append(event)
            if on_event is not None:
                on_event(event)

        started = time.monotonic()
        try:
            return self.backend.generate(
                request or make_request(), progress=progress, cancel=self.cancel
            )
        finally:
            self.elapsed = time.monotonic() - started
            for event in self.events:
                for language in ("en", "zh-CN"):
                    assert event.message is None or KEY not in render(event.message, language)

    def said(self, event: ProgressEvent) -> str:
        """What ``event`` tells a person, in English."""
        assert event.message is not None
        return render(event.message)

    def fails(self, error_type: type[Exception], request: GenerationRequest | None = None) -> str:
        """Run, expect ``error_type``, check the key is nowhere in it; return its message."""
        return str(self.error(error_type, request))

    def error(
        self, error_type: type[Exception], request: GenerationRequest | None = None
    ) -> BaseException:
        """Run, expect ``error_type``, check the key is nowhere in it (in either language)."""
        with pytest.raises(error_type) as caught:
            self(request)
        assert_no_key(caught.value)
        return caught.value


def assert_no_key(error: BaseException) -> None:
    """The key is in neither the message (English or Chinese), the repr, the parameters, nor
    any chained cause's message."""
    seen: BaseException | None = error
    while seen is not None:
        assert KEY not in str(seen)
        assert KEY not in repr(seen)
        if isinstance(seen, HostedError):
            assert KEY not in seen.render("zh-CN")
            assert KEY not in repr(seen.params)
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)


def colour_of(picture: Image.Image) -> tuple[int, int, int]:
    return picture.getpixel((0, 0))  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Success paths
# --------------------------------------------------------------------------------------------


def test_router_path_returns_raw_png_through_inference_client(stand_in: StandInHF) -> None:
    run = Run(make_settings(stand_in, "router"))
    output = run(make_request(negative_prompt="blurry", guidance_scale=6.5, num_inference_steps=9))

    assert output.seeds == [42]
    (picture,) = output.images
    assert picture.mode == "RGB"
    assert picture.size == (64, 96)
    assert colour_of(picture) == seed_colour(42)
    (sent,) = stand_in.requests
    assert sent.path == f"/hf-inference/models/{MODEL}"
    assert sent.bearer == KEY
    assert sent.json["inputs"] == "a dog in a park"
    assert sent.parameters == {
        "negative_prompt": "blurry",
        "height": 96,
        "width": 64,
        "num_inference_steps": 9,
        "guidance_scale": 6.5,
        "seed": 42,
    }
    assert run.events and run.events[0].wait_s is None


def test_tutorial_path_decodes_bare_base64_json(stand_in: StandInHF) -> None:
    run = Run(make_settings(stand_in, "tutorial"))
    output = run(make_request(seed=7))

    (picture,) = output.images
    assert picture.size == (64, 96)
    assert colour_of(picture) == seed_colour(7)
    (sent,) = stand_in.requests
    assert sent.path == "/tti"
    assert sent.bearer == KEY
    assert sent.json == {
        "inputs": "a dog in a park",
        "parameters": {
            "num_inference_steps": DEFAULT_STEPS,
            "guidance_scale": 7.0,
            "width": 64,
            "height": 96,
            "seed": 7,
        },
    }


def test_tutorial_path_accepts_object_data_uri_and_raw_answers(stand_in: StandInHF) -> None:
    stand_in.enqueue(image("json-object"), image("data-uri"), image("raw"))
    output = Run(make_settings(stand_in, "tutorial"))(make_request(seed=10, num_images=3))

    assert output.seeds == [10, 11, 12]
    assert [colour_of(p) for p in output.images] == [seed_colour(s) for s in (10, 11, 12)]


@pytest.mark.parametrize("path", PATHS)
def test_two_images_send_two_consecutive_seeds(stand_in: StandInHF, path: str) -> None:
    output = Run(make_settings(stand_in, path))(make_request(seed=100, num_images=2))

    assert output.seeds == [100, 101]
    assert [r.seed for r in stand_in.requests] == [100, 101]
    first, second = output.images
    assert colour_of(first) == seed_colour(100)
    assert colour_of(second) == seed_colour(101)
    assert colour_of(first) != colour_of(second)


def test_endpoint_url_model_is_called_directly(stand_in: StandInHF) -> None:
    endpoint = f"{stand_in.url}/models/my-endpoint"
    backend_settings = make_settings(None, "router", hosted_model=endpoint)
    output = Run(backend_settings)()

    assert output.seeds == [42]
    assert [r.path for r in stand_in.requests] == ["/models/my-endpoint"]


def test_stand_in_checks_the_key_like_hugging_face() -> None:
    with StandInHF(expected_key=KEY) as server:
        assert Run(make_settings(server, "router"))().seeds == [42]
        wrong = make_settings(server, "router", hf_api_key="hf_test_WRONG_zzz999")
        with pytest.raises(HostedAuthError) as caught:
            HostedBackend(wrong).generate(make_request())
        assert "hf_test_WRONG_zzz999" not in str(caught.value)


# --------------------------------------------------------------------------------------------
# HTTP errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("behaviour", "status"), [(unauthorized, 401), (forbidden, 403)])
def test_rejected_key_is_an_auth_error(
    stand_in: StandInHF, path: str, behaviour: Callable[[], object], status: int
) -> None:
    stand_in.enqueue(behaviour())  # type: ignore[arg-type]
    message = Run(make_settings(stand_in, path)).fails(HostedAuthError)

    assert f"rejected the API key ({status})" in message
    assert "HF_API_KEY" in message
    assert len(stand_in.requests) == 1  # not retried


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("behaviour", "status"), [(not_found, 404), (gone, 410)])
def test_missing_model_says_it_is_not_served(
    stand_in: StandInHF, path: str, behaviour: Callable[[], object], status: int
) -> None:
    stand_in.enqueue(behaviour())  # type: ignore[arg-type]
    message = Run(make_settings(stand_in, path)).fails(ModelNotServedError)

    assert "not served" in message
    assert f"({status}" in message
    assert "--model" in message and "HUATU_HOSTED_MODEL" in message
    assert "--backend local" in message
    if path == "router":
        assert MODEL in message and "hf-inference" in message


@pytest.mark.parametrize("path", PATHS)
def test_other_status_quotes_short_redacted_server_text(stand_in: StandInHF, path: str) -> None:
    stand_in.enqueue(http_error(500, f"CUDA out of memory while serving token {KEY}"))
    message = Run(make_settings(stand_in, path)).fails(HostedError)

    assert "500" in message
    assert "CUDA out of memory" in message
    assert "***" in message


# --------------------------------------------------------------------------------------------
# Retries and deadlines
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_429_waits_for_retry_after_then_succeeds(stand_in: StandInHF, path: str) -> None:
    stand_in.enqueue(rate_limited(retry_after="1"))
    run = Run(make_settings(stand_in, path))
    output = run()

    assert output.seeds == [42]
    waits = [e for e in run.events if e.wait_s is not None]
    assert [e.wait_s for e in waits] == [1.0]
    assert "retrying in 1 s" in run.said(waits[0])
    assert (waits[0].step, waits[0].total) == (0, 0)
    first, second = stand_in.requests
    assert first.seed == second.seed == 42
    assert second.at - first.at >= 0.95


@pytest.mark.parametrize("path", PATHS)
def test_503_loading_waits_estimated_time_then_succeeds(stand_in: StandInHF, path: str) -> None:
    stand_in.enqueue(loading(estimated_time=1.0))
    run = Run(make_settings(stand_in, path))
    output = run()

    assert colour_of(output.images[0]) == seed_colour(42)
    waits = [e for e in run.events if e.wait_s is not None]
    assert [e.wait_s for e in waits] == [1.0]
    assert "loading" in run.said(waits[0])
    assert len(stand_in.requests) == 2


def test_503_until_the_deadline_is_a_timeout(stand_in: StandInHF) -> None:
    stand_in.default = loading(estimated_time=1.0)
    run = Run(make_settings(stand_in, "router", hosted_timeout_s=2.5))
    message = run.fails(HostedTimeoutError)

    assert run.elapsed < 2.5 + GUARD_S
    assert "loading" in message
    assert "HUATU_HOSTED_TIMEOUT" in message
    # waits of about 1 s in a 2.5 s deadline: 2 or 3 tries, never MAX_ATTEMPTS (8)
    assert 2 <= len(stand_in.requests) <= 3
    assert all(e.wait_s is not None and e.wait_s <= 2.5 for e in run.events[1:])


def test_retry_after_past_the_deadline_fails_at_once(stand_in: StandInHF) -> None:
    stand_in.enqueue(rate_limited(retry_after="600"))
    run = Run(make_settings(stand_in, "tutorial", hosted_timeout_s=120))
    message = run.fails(HostedTimeoutError)

    assert run.elapsed < GUARD_S  # neither the 600 s asked for nor the 120 s deadline
    assert "rate-limiting" in message and "waiting 600 s" in message


@pytest.mark.parametrize("path", PATHS)
def test_hang_past_the_deadline_is_a_timeout(stand_in: StandInHF, path: str) -> None:
    stand_in.enqueue(hang(seconds=300))
    run = Run(make_settings(stand_in, path, hosted_timeout_s=1.5))
    message = run.fails(HostedTimeoutError)

    assert 1.4 <= run.elapsed < 1.5 + GUARD_S  # the deadline, not the 300 s hang
    assert "1.5 s" in message


# --------------------------------------------------------------------------------------------
# Bad bodies and broken connections
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("behaviour", [garbage, html_page, json_without_image])
def test_body_that_is_not_an_image(
    stand_in: StandInHF, path: str, behaviour: Callable[[], object]
) -> None:
    stand_in.enqueue(behaviour())  # type: ignore[arg-type]
    message = Run(make_settings(stand_in, path)).fails(HostedResponseError)

    assert "image" in message
    assert len(stand_in.requests) == 1


@pytest.mark.parametrize("path", PATHS)
def test_connection_refused(path: str) -> None:
    settings = make_settings(None, path, base_url=f"http://127.0.0.1:{free_port()}")
    run = Run(settings)
    message = run.fails(HostedError)

    assert "Could not reach" in message
    assert "127.0.0.1" in message
    assert run.elapsed < GUARD_S  # not retried until a deadline


@pytest.mark.parametrize("path", PATHS)
def test_connection_reset_mid_body(stand_in: StandInHF, path: str) -> None:
    stand_in.enqueue(reset_mid_body())
    error = Run(make_settings(stand_in, path)).error(HostedError)

    assert "cut" in str(error)
    assert not isinstance(error, HostedResponseError)


def test_offline_mode_is_explained(stand_in: StandInHF, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    message = Run(make_settings(stand_in, "router")).fails(HostedError)

    assert "HF_HUB_OFFLINE" in message
    assert stand_in.requests == []


# --------------------------------------------------------------------------------------------
# Key, cancel, attributes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_no_key_is_an_auth_error_and_sends_nothing(stand_in: StandInHF, path: str) -> None:
    settings = make_settings(stand_in, path, hf_api_key=None)
    with pytest.raises(HostedAuthError) as caught:
        HostedBackend(settings).generate(make_request())

    message = str(caught.value)
    assert "No Hugging Face key" in message
    assert "HF_API_KEY" in message
    assert "--backend local" in message and "--model tiny" in message
    assert stand_in.requests == []


def test_cancel_during_a_retry_wait(stand_in: StandInHF) -> None:
    stand_in.default = loading(estimated_time=600)
    run = Run(make_settings(stand_in, "router", hosted_timeout_s=1200))

    def cancel_when_waiting(event: ProgressEvent) -> None:
        if event.wait_s is not None:
            run.cancel.cancel()

    with pytest.raises(GenerationCancelled, match="Stopped."):
        run(on_event=cancel_when_waiting)
    assert run.elapsed < GUARD_S  # not the 600 s wait


@pytest.mark.parametrize("path", PATHS)
def test_cancel_during_a_hanging_call(stand_in: StandInHF, path: str) -> None:
    stand_in.enqueue(hang(seconds=600))
    run = Run(make_settings(stand_in, path, hosted_timeout_s=1200))
    timer = threading.Timer(0.3, run.cancel.cancel)
    timer.start()
    try:
        with pytest.raises(GenerationCancelled):
            run()
    finally:
        timer.cancel()
    assert run.elapsed < GUARD_S  # not the 600 s hang


def test_cancel_before_start_sends_nothing(stand_in: StandInHF) -> None:
    run = Run(make_settings(stand_in, "router"))
    run.cancel.cancel()
    with pytest.raises(GenerationCancelled):
        run()
    assert stand_in.requests == []


def test_attributes_and_description_never_show_the_key() -> None:
    router = HostedBackend(Settings(hf_api_key=KEY, model=MODEL))
    assert router.id == "hosted"
    assert router.model == MODEL
    assert router.capabilities.concurrency == 4
    assert router.description == f"hosted · {MODEL} via hf-inference"
    assert router.token_count("a dog, 4k") == 5 and router.capabilities.token_limit == 75
    assert router.capabilities.metadata_fields == ("Hosted provider",)
    assert router.metadata_fields(make_request()) == {"Hosted provider": "hf-inference"}
    assert not hasattr(router, "max_tokens") and not hasattr(router, "max_concurrency")
    assert router.sampler_label(make_request()) == "Hosted default"

    tutorial = HostedBackend(
        Settings(hf_api_key=KEY, hf_api_tti_base=f"https://user:{KEY}@tti.example.com/x")
    )
    assert tutorial.description == "hosted · tutorial endpoint tti.example.com"
    assert (
        tutorial.capabilities.metadata_fields == ()
        and tutorial.metadata_fields(make_request()) == {}
    )

    chosen = HostedBackend(Settings(hf_api_key=KEY, hosted_model="owner/other"))
    assert chosen.model == "owner/other"
    for backend in (router, tutorial, chosen):
        assert KEY not in backend.description
        assert KEY not in repr(backend)


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------


def test_build_tti_payload_omits_empty_negative_prompt_and_always_sends_seed() -> None:
    request = make_request(seed=0)
    assert build_tti_payload(request, 0) == {
        "inputs": "a dog in a park",
        "parameters": {
            "num_inference_steps": DEFAULT_STEPS,
            "guidance_scale": 7.0,
            "width": 64,
            "height": 96,
            "seed": 0,
        },
    }
    with_negative = build_tti_payload(make_request(negative_prompt="text"), 43)
    assert with_negative["parameters"]["negative_prompt"] == "text"
    assert with_negative["parameters"]["seed"] == 43
    json.dumps(with_negative)  # JSON-serialisable


def test_build_client_kwargs() -> None:
    kwargs = build_client_kwargs(make_request(), 5, "http://x/y")
    assert kwargs == {
        "negative_prompt": None,
        "height": 96,
        "width": 64,
        "num_inference_steps": DEFAULT_STEPS,
        "guidance_scale": 7.0,
        "seed": 5,
        "model": "http://x/y",
    }


def test_resolve_client_model() -> None:
    router = "https://router.huggingface.co"
    assert (
        resolve_client_model(MODEL, "hf-inference", router)
        == f"{router}/hf-inference/models/{MODEL}"
    )
    assert resolve_client_model(MODEL, "hf-inference", router + "/").startswith(router + "/hf-")
    assert resolve_client_model("https://e.cloud/m", "hf-inference", router) == "https://e.cloud/m"
    assert resolve_client_model("http://e.cloud/m", "fal-ai", router) == "http://e.cloud/m"
    assert resolve_client_model(MODEL, "fal-ai", router) == MODEL


def test_host_of() -> None:
    assert host_of("https://user:pw@example.com:8443/a?b=c") == "example.com:8443"
    assert host_of("http://127.0.0.1:9/tti") == "127.0.0.1:9"
    assert host_of("not a url") == "not a url"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=timezone.utc)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": "Model x is currently loading", "estimated_time": 20.5}', 20.5),
        (b'{"error": "loading", "estimated_time": 3}', 3.0),
        (b'{"error": "loading"}', None),
        (b'{"estimated_time": "soon"}', None),
        (b'{"estimated_time": true}', None),
        (b"<html>busy</html>", None),
        (b"[1, 2]", None),
    ],
)
def test_parse_estimated_time(body: bytes, expected: float | None) -> None:
    assert parse_estimated_time(body) == expected


def test_backoff_delay_is_exponential_bounded_and_honours_hints() -> None:
    assert [backoff_delay(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff_delay(20) == BACKOFF_CAP_S
    assert backoff_delay(0, retry_after=5) == 5
    assert backoff_delay(3, retry_after=1) == 8
    assert backoff_delay(0, retry_after=120) == 120  # the server's word wins; deadline decides
    assert backoff_delay(0, estimated_time=20) == 20
    assert backoff_delay(0, estimated_time=500) == BACKOFF_CAP_S
    assert backoff_delay(0, estimated_time=0.2) == 1


def test_format_seconds() -> None:
    assert format_seconds(1.0) == "1"
    assert format_seconds(0.5) == "0.5"
    assert format_seconds(29.7) == "30"


PNG = make_png(8, 8, (1, 2, 3))
B64 = base64.b64encode(PNG).decode()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (PNG, "image/png"),
        (PNG, "image/jpeg"),  # the header decides; PIL sorts out the real format later
        (json.dumps(B64).encode(), "application/json"),
        (json.dumps(B64).encode(), "application/json; charset=utf-8"),
        (json.dumps(f"data:image/png;base64,{B64}").encode(), "application/json"),
        (json.dumps({"image": B64}).encode(), "application/json"),
        (json.dumps({"images": [B64]}).encode(), "application/json"),
        (json.dumps({"generated_image": B64}).encode(), "application/json"),
        (json.dumps({"data": [{"b64_json": B64}]}).encode(), "application/json"),
        (json.dumps([B64]).encode(), "application/json"),
        (PNG, None),  # sniffed
        (PNG, "application/octet-stream"),
        (json.dumps(B64).encode(), "text/plain"),
    ],
)
def test_decode_image_body_accepts_usual_shapes(body: bytes, content_type: str | None) -> None:
    assert decode_image_body(body, content_type) == PNG


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (b"", "image/png", "empty"),
        (b"<!DOCTYPE html><html></html>", "text/html", "web page"),
        (b"<html></html>", None, "web page"),
        (b'{"status": "ok"}', "application/json", "no image"),
        (b'{"error": "quota exceeded"}', "application/json", "quota exceeded"),
        (b"{not json", "application/json", "not valid JSON"),
        (b'"!!!not base64!!!"', "application/json", "not a base64"),
        (b"random bytes", "application/octet-stream", "not an image"),
    ],
)
def test_decode_image_body_rejects_non_images(
    body: bytes, content_type: str | None, words: str
) -> None:
    with pytest.raises(HostedResponseError, match=words):
        decode_image_body(body, content_type)


def test_decode_base64_variants() -> None:
    unpadded = B64.rstrip("=")
    assert decode_base64_image(unpadded) == PNG
    wrapped = "\n".join(B64[i : i + 60] for i in range(0, len(B64), 60))
    assert decode_base64_image(wrapped) == PNG
    assert decode_base64_image(base64.urlsafe_b64encode(PNG).decode()) == PNG
    assert decode_base64_image("DATA:image/webp;base64," + B64) == PNG
    with pytest.raises(HostedResponseError):
        decode_base64_image("   ")
    assert decode_json_image(json.dumps(B64).encode()) == PNG


def test_find_base64_image() -> None:
    assert find_base64_image("abc") == "abc"
    assert find_base64_image({"IMAGE": "abc"}) == "abc"
    assert find_base64_image({"images": [], "image": "abc"}) == "abc"
    assert find_base64_image({"output": [{"b64_json": "abc"}]}) == "abc"
    assert find_base64_image({"error": "x"}) is None
    assert find_base64_image([]) is None
    assert find_base64_image(42) is None
    assert find_base64_image([[[[[["abc"]]]]]]) is None  # depth-limited


def test_open_image_converts_to_rgb_and_rejects_garbage() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (4, 4), (9, 8, 7, 128)).save(buffer, format="PNG")
    picture = open_image(buffer.getvalue())
    assert picture.mode == "RGB"
    assert picture.size == (4, 4)
    with pytest.raises(HostedResponseError, match="not a readable image"):
        open_image(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(HostedResponseError):
        open_image(PNG[: len(PNG) // 2])


def test_server_error_text() -> None:
    def shown(body: bytes, **options) -> str:
        return f"{server_error_text(body, **options)}"  # as a sentence renders it

    assert shown(b'{"error": "Model is loading"}') == "Model is loading"
    assert shown(b'{"error": ["one", "two"]}') == "one; two"
    assert shown(b'{"message": "  spaced \\n out  "}') == "spaced out"
    assert shown(b'{"detail": {"message": "nested"}}') == "nested"
    assert shown(b"plain text failure") == "plain text failure"
    assert not server_error_text(b"<html><body>502</body></html>")
    assert not server_error_text(b"")
    long = shown(json.dumps({"error": "x" * 500}).encode(), limit=50)
    assert len(long) == 50 and long.endswith("…")


def test_a_key_in_a_long_server_text_is_removed_before_the_text_is_cut() -> None:
    """The server's text stays whole until the sentence is rendered, so a key across the cut
    is masked whole, never half shown."""
    settings = Settings(hf_api_key=KEY)
    body = json.dumps({"error": "x" * (MAX_SERVER_TEXT - 5) + KEY}).encode()
    error = HostedError(
        "hosted_http_error_detail", where="a", status=500, detail=server_error_text(body)
    )
    said = explain(error, "en", settings)
    assert KEY[:4] not in said and "…" in said


def test_gives_up_after_max_attempts(stand_in: StandInHF, monkeypatch: pytest.MonkeyPatch) -> None:
    from huatu.backends import hosted

    monkeypatch.setattr(hosted, "MAX_ATTEMPTS", 2)
    stand_in.default = loading(estimated_time=None)
    run = Run(make_settings(stand_in, "router", hosted_timeout_s=10))
    message = run.fails(HostedTimeoutError)

    assert len(stand_in.requests) == 2
    assert "after 2 tries" in message and "gave up" in message


# --------------------------------------------------------------------------------------------
# The shared hosted-call helper (also used by the hosted translator)
# --------------------------------------------------------------------------------------------


def failure(status: int, retry_after: str | None = None, body: bytes = b"") -> StatusFailure:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return StatusFailure(status, headers, body)


class FakeTime:
    """A clock that only moves when something sleeps, and a record of the sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def scripted(*outcomes: object) -> tuple[Callable[[float | None], str], list[float | None]]:
    """A ``send`` that raises or returns each outcome in turn; also the ``remaining`` it got."""
    queue = list(outcomes)
    given: list[float | None] = []

    def send(remaining: float | None) -> str:
        given.append(remaining)
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    return send, given


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, "auth"), (403, "auth"), (404, "not_served"), (410, "not_served")]
    + [(429, "retry"), (503, "retry"), (400, "other"), (500, "other"), (502, "other")],
)
def test_status_kind(status: int, kind: str) -> None:
    assert status_kind(status) == kind


def test_retry_wait_reads_the_answer_and_honours_the_cap() -> None:
    assert retry_wait(failure(429, "7"), 0) == 7
    assert retry_wait(failure(429, "7"), 0, max_wait_s=5) == 5
    assert retry_wait(failure(429), 2) == 4  # exponential without a hint
    loading_body = b'{"estimated_time": 12.5}'
    assert retry_wait(failure(503, body=loading_body), 0) == 12.5
    assert retry_wait(failure(429, body=loading_body), 0) == 1  # only a 503's estimate counts
    assert retry_wait(failure(503, "0", loading_body), 0, max_wait_s=0.2) == 0.2


def test_call_with_retries_retries_429_and_503_then_returns() -> None:
    time_ = FakeTime()
    send, given = scripted(failure(429, "3"), failure(503), "done")
    waits: list[tuple[int, float]] = []
    result = call_with_retries(
        send,
        max_attempts=5,
        deadline=time_.now + 60,
        on_wait=lambda answer, wait: waits.append((answer.status, wait)),
        sleep=time_.sleep,
        clock=time_.clock,
    )
    assert result == "done"
    assert waits == [(429, 3.0), (503, 2.0)]  # Retry-After, then the second backoff step
    assert time_.slept == [3.0, 2.0]
    assert given == [60.0, 57.0, 55.0]  # each call is told the time left


def test_call_with_retries_raises_other_statuses_and_transport_failures_at_once() -> None:
    time_ = FakeTime()
    send, _ = scripted(failure(404))
    with pytest.raises(StatusFailure) as caught:
        call_with_retries(send, max_attempts=5, sleep=time_.sleep, clock=time_.clock)
    assert caught.value.status == 404
    send, _ = scripted(TransportFailure("connect"))
    with pytest.raises(TransportFailure, match="connect"):
        call_with_retries(send, max_attempts=5, sleep=time_.sleep, clock=time_.clock)
    assert time_.slept == []


def test_call_with_retries_gives_up_after_the_attempts() -> None:
    time_ = FakeTime()
    send, given = scripted(failure(503), failure(503), failure(503))
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(send, max_attempts=3, sleep=time_.sleep, clock=time_.clock)
    exhausted = caught.value
    assert (exhausted.failure.status, exhausted.attempts, exhausted.next_wait_s) == (503, 3, None)
    assert exhausted.waited_s == 3.0 and time_.slept == [1.0, 2.0]  # no wait after the last
    assert given == [None, None, None]  # no deadline: nothing left to tell


def test_call_with_retries_stops_when_the_wait_would_pass_the_deadline() -> None:
    time_ = FakeTime()
    send, _ = scripted(failure(429, "60"))
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(
            send, max_attempts=8, deadline=time_.now + 5, sleep=time_.sleep, clock=time_.clock
        )
    assert (caught.value.attempts, caught.value.next_wait_s) == (1, 60.0)
    assert time_.slept == []


def test_call_with_retries_times_out_before_a_call_past_the_deadline() -> None:
    time_ = FakeTime()
    send, given = scripted("never")
    with pytest.raises(TransportFailure, match="timeout"):
        call_with_retries(
            send, max_attempts=3, deadline=time_.now, sleep=time_.sleep, clock=time_.clock
        )
    assert given == []
    with pytest.raises(ValueError, match="at least 1"):
        call_with_retries(send, max_attempts=0)


def test_scrubbed_redacts_texts_also_inside_notices() -> None:
    settings = Settings(hf_api_key=KEY)
    params = {"detail": f"bad {KEY}", "status": 500, "where": Notice("x", {"host": f"{KEY}@h"})}
    assert scrubbed(params, settings.redact) == {
        "detail": "bad ***",
        "status": 500,
        "where": Notice("x", {"host": "***@h"}),
    }


# --------------------------------------------------------------------------------------------
# Sentences in Chinese
# --------------------------------------------------------------------------------------------


def test_hosted_errors_and_waits_read_in_chinese(stand_in: StandInHF) -> None:
    settings = make_settings(stand_in, "router")
    stand_in.enqueue(not_found())
    error = Run(settings).error(ModelNotServedError)
    assert error.render("zh-CN") == (
        f"服务商 hf-inference 不提供模型 {MODEL}（404）：请用 `--model` 或 HUATU_HOSTED_MODEL "
        "选择有服务商提供的模型，或用 `--backend local` 在本地生成。"
    )
    assert explain(error, "zh-CN", settings) == error.render("zh-CN")

    stand_in.enqueue(gone())
    tutorial = Run(make_settings(stand_in, "tutorial")).error(ModelNotServedError)
    host = host_of(stand_in.url)
    assert tutorial.render("zh-CN").startswith(
        f"位于 {host} 的端点不提供这个模型（410，该地址已不存在）。"
    )
    assert str(tutorial).startswith(
        f"The model is not served by the endpoint at {host} (410, that address is gone). "
    )

    stand_in.enqueue(rate_limited(retry_after="1"))
    run = Run(settings)
    run()
    first, wait = run.events
    assert render(first.message, "zh-CN") == "正在等待Hugging Face（hf-inference）……"
    assert render(wait.message, "zh-CN") == "托管服务正在限制请求频率（429），1 秒后重试……"


def test_timeout_sentence_in_both_languages(stand_in: StandInHF) -> None:
    stand_in.enqueue(hang(seconds=30))
    error = Run(make_settings(stand_in, "tutorial", hosted_timeout_s=0.5)).error(HostedTimeoutError)
    host = host_of(stand_in.url)
    assert str(error) == (
        f"The endpoint at {host} sent no image within 0.5 s (HUATU_HOSTED_TIMEOUT). Try again, "
        "raise HUATU_HOSTED_TIMEOUT, or generate locally with `--backend local`."
    )
    assert error.render("zh-CN") == (
        f"位于 {host} 的端点在 0.5 秒内没有返回图片（HUATU_HOSTED_TIMEOUT）。请重试、调高 "
        "HUATU_HOSTED_TIMEOUT，或用 `--backend local` 在本地生成。"
    )


def test_every_hosted_error_pickles_and_is_explained_without_the_key() -> None:
    import pickle

    from huatu.translation import HostedTranslationAuthError

    settings = Settings(hf_api_key=KEY)
    errors = [
        HostedError("hosted_http_error_detail", where="x", status=500, detail=KEY),
        HostedTimeoutError("hosted_timeout", where="x", limit="1"),
        HostedAuthError("hosted_key_rejected", status=401),
        ModelNotServedError("hosted_not_served_endpoint", host="h", status=404, gone=""),
        HostedResponseError("hosted_not_image", kind="text/plain"),
        HostedTranslationAuthError("translation_hosted_no_key"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        for language in ("en", "zh-CN"):
            assert KEY not in explain(error, language, settings)


def test_a_lora_tag_is_refused_on_the_hosted_backend_not_sent(
    stand_in: StandInHF, tmp_path: Path
) -> None:
    from huatu.backends.selection import BackendChoice
    from huatu.service import ImageService

    settings = make_settings(stand_in, "tutorial", outputs_dir=tmp_path)
    choice = BackendChoice("hosted", MODEL, Notice("choice_flag", {"backend": "hosted"}))
    service = ImageService(settings, choice, HostedBackend(settings))
    with pytest.raises(ValidationError, match="<lora:watercolor:0.8>") as refused:
        service.generate(make_request(prompt="a fox <lora:watercolor:0.8>"), save=False)
    assert refused.value.field == "prompt" and "local backend" in str(refused.value)
    assert stand_in.requests == []  # nothing was sent
    assert service.generate(make_request(prompt="a fox (in snow:1.2)"), save=False).images
