"""OpenAI-compatible images API: ``POST /v1/images/generations``, ``GET /v1/models``.

Any OpenAI client (the official ``openai`` package, Open WebUI, LangChain …) pointed at
``http://HOST:PORT/v1`` generates with the model huatu has loaded, through the same
:class:`~huatu.service.ImageService` and validator as the studio. Every image is saved with
its A1111 ``parameters`` text chunk, and the PNG handed back is that saved file.

``POST /v1/images/generations`` takes OpenAI's JSON body:

* ``prompt`` (required): 1–1,000 characters (OpenAI allows more; huatu's limit holds).
* ``n``: images to make, 1–4 (OpenAI allows 10). Default 1.
* ``size``: ``"WIDTHxHEIGHT"``, each side 64–1024 and a multiple of 8, or ``"auto"``.
  Default (and ``"auto"``): 512x512, Stable Diffusion 1.5's native size (OpenAI's default
  1024x1024 is accepted too, only slower).
* ``response_format``: ``"b64_json"`` (the PNG, base64-encoded) or ``"url"`` (where the
  saved PNG is served, under ``/outputs``; behind authentication the URL needs the same
  credentials). Default ``"b64_json"`` — what OpenAI's current GPT image models always
  return — except for a ``model`` naming DALL·E (``dall-e-2``, ``dall-e-3``), whose default
  was ``"url"``.
* ``model``: the loaded model's id (as ``GET /v1/models`` lists it, e.g. ``tiny``), or any
  OpenAI image model name (``dall-e-*``, ``gpt-image-*``, ``chatgpt-image-*``), which all
  mean the loaded model. Default: the loaded model. Any other name is an error naming it.
* ``stream``: streaming is not supported; ``true`` is an error.
* Accepted and ignored: ``quality``, ``style``, ``user``, ``safety_identifier``,
  ``background``, ``moderation``, ``output_format`` and ``output_compression`` (the answer is
  always PNG) and any field OpenAI does not have either.
* huatu extensions (send them with the ``openai`` client's ``extra_body``):
  ``negative_prompt``, ``seed`` (-1 random; image *i* uses ``seed + i``), ``steps``,
  ``guidance_scale``, ``scheduler``; defaults as in the studio.

The answer is OpenAI's ``ImagesResponse``: ``{"created": <unix seconds>, "data": [{"b64_json":
…} | {"url": …}], "size": "WxH", "output_format": "png"}`` (no ``revised_prompt``: huatu does
not rewrite prompts). Every error under ``/v1`` is OpenAI's ``{"error": {"message", "type",
"param", "code"}}`` with ``param`` the body field at fault: 400 for a bad field, a body that
is not JSON or not sent as ``application/json``; 404 for an unknown ``/v1`` URL or model; 429
(with ``Retry-After``) when too many API generations are already in; 503 when no model is
loaded or the model ran out of memory; 5xx when generating fails. Messages name the field and
the value, and never carry a secret.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from huatu.api.error_shapes import openai_error_body
from huatu.api.outputs import output_url
from huatu.backends.base import CancelToken
from huatu.errors import (
    BackendUnavailableError,
    HostedError,
    HostedTimeoutError,
    HuatuError,
    QueueFullError,
    SafetyCheckerFlagged,
    ValidationError,
)
from huatu.messages import short_repr
from huatu.request import (
    MAX_GUIDANCE,
    MAX_IMAGES,
    MAX_PROMPT_CHARS,
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
from huatu.runs import finish_unless_disconnected

if TYPE_CHECKING:
    from huatu.api.gate import ApiGate
    from huatu.service import ImageService

log = logging.getLogger(__name__)

#: Prefixes of OpenAI image model names, all taken to mean the loaded model.
OPENAI_MODEL_PREFIXES = ("dall-e-", "gpt-image-", "chatgpt-image-")
#: Response formats, and the models whose default is ``url`` (OpenAI's DALL·E).
RESPONSE_FORMATS = ("b64_json", "url")
URL_DEFAULT_PREFIX = "dall-e-"
#: Seconds a client is told to wait (``Retry-After``) when the API queue is full.
RETRY_AFTER_S = 60
#: The body field naming each huatu request field (others keep their name).
BODY_FIELDS = {"num_images": "n", "width": "size", "height": "size", "num_inference_steps": "steps"}
ANY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: The body of ``POST /v1/images/generations`` for the OpenAPI page (parsed by hand, so that
#: every error keeps OpenAI's shape).
GENERATION_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {
                        "prompt": {"type": "string", "maxLength": MAX_PROMPT_CHARS},
                        "n": {"type": "integer", "minimum": MIN_IMAGES, "maximum": MAX_IMAGES},
                        "size": {"type": "string", "example": "512x512", "default": "auto"},
                        "response_format": {"enum": list(RESPONSE_FORMATS)},
                        "model": {"type": "string"},
                        "negative_prompt": {"type": "string"},
                        "seed": {"type": "integer", "default": RANDOM_SEED},
                        "steps": {"type": "integer", "minimum": MIN_STEPS, "maximum": MAX_STEPS},
                        "guidance_scale": {
                            "type": "number",
                            "minimum": MIN_GUIDANCE,
                            "maximum": MAX_GUIDANCE,
                        },
                        "scheduler": {"type": "string"},
                    },
                }
            }
        },
    }
}
_SIZE_RE = re.compile(r"\s*(\d{1,6})\s*[xX×]\s*(\d{1,6})\s*")
_SIZE_RULE = (
    f"`size` must be 'auto' or WIDTHxHEIGHT with each side an integer from {MIN_SIDE} to "
    f"{MAX_SIDE} and a multiple of {SIDE_MULTIPLE}"
)


class OpenAIError(Exception):
    """An error answered in OpenAI's shape by every route of this router.

    Args:
        status: the HTTP status.
        message: one or two sentences for a person: the field, its value, what to do.
        param: the body field at fault. Default ``None``.
        code: a machine-readable code such as ``"model_not_found"``. Default ``None``.
        type: OpenAI's error type. Default ``"invalid_request_error"``.
        headers: extra response headers (``Retry-After``). Default none.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = openai_error_body(message, status=status, code=code, param=param, kind=type)
        self.headers = dict(headers or {})

    def response(self, redact: Callable[[str], str] = str) -> JSONResponse:
        """The JSON response carrying this error.

        Args:
            redact: applied to the message (removes secrets). Default: none removed.
        """
        body = {"error": {**self.body["error"], "message": redact(self.body["error"]["message"])}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


class OpenAIRoute(APIRoute):
    """A route that answers every failure in OpenAI's error shape, never FastAPI's
    ``{"detail": …}`` or a bare 500. Subclasses set :attr:`redact`."""

    #: Removes secrets from error messages (e.g. ``Settings.redact``). Default: nothing.
    redact: Callable[[str], str] = staticmethod(str)

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        redact = type(self).redact

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except OpenAIError as error:
                return error.response(redact)
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                message = "huatu failed to answer this request; the server log has details."
                return OpenAIError(500, message, type="server_error").response()

        return guarded


@dataclass(frozen=True)
class ImagesCall:
    """One parsed ``/v1/images/generations`` body.

    Attributes:
        request: the validated generation request.
        response_format: ``"b64_json"`` or ``"url"``.
    """

    request: GenerationRequest
    response_format: str


def create_router(service: ImageService, gate: ApiGate) -> APIRouter:
    """The OpenAI-compatible routes under ``/v1``.

    Args:
        service: the service that generates (its current model is the one served).
        gate: bounds API generations in flight; a request over it gets a 429.
    """

    class Route(OpenAIRoute):
        redact = staticmethod(lambda text: service.settings.redact(text))

    router = APIRouter(route_class=Route, tags=["OpenAI"])
    started = int(time.time())

    def model_object(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": started, "owned_by": "huatu"}

    @router.post("/v1/images/generations", openapi_extra=GENERATION_SCHEMA)
    async def images_generations(request: Request) -> JSONResponse:
        """Generate images from a prompt (OpenAI's ``images.generate``)."""
        call = parse_generation(
            await _json_body(request), service.choice.model, redact=service.settings.mask
        )
        base_url = str(request.base_url)
        cancel = CancelToken()  # a client that goes away stops its run within a step
        work = run_in_threadpool(_generate, service, gate, call, base_url, cancel)
        answer = await finish_unless_disconnected(work, request.is_disconnected, cancel.cancel)
        return JSONResponse(answer)

    @router.get("/v1/models")
    def list_models() -> dict[str, Any]:
        """The served model (OpenAI's ``models.list``)."""
        return {"object": "list", "data": [model_object(service.choice.model)]}

    @router.get("/v1/models/{model_id:path}")
    def retrieve_model(model_id: str) -> dict[str, Any]:
        """One model by id: the served one or an OpenAI name for it (``models.retrieve``)."""
        if not _accepts_model(model_id, service.choice.model):
            raise OpenAIError(
                404,
                f"The model {short_repr(model_id)} does not exist here; "
                f"this server serves {service.choice.model!r}.",
                param="model",
                code="model_not_found",
            )
        return model_object(model_id)

    def unknown_endpoint(request: Request) -> None:
        """Anything else under ``/v1``: OpenAI's 404 "Invalid URL"."""
        raise OpenAIError(
            404,
            f"Invalid URL ({request.method} {request.url.path}): this server offers "
            "POST /v1/images/generations, GET /v1/models and GET /v1/models/{model}.",
        )

    for path in ("/v1", "/v1/{path:path}"):
        router.add_api_route(
            path, unknown_endpoint, methods=list(ANY_METHOD), include_in_schema=False
        )

    return router


async def _json_body(request: Request) -> Any:
    """The request's JSON body.

    Raises:
        OpenAIError: not sent as ``application/json``, or not valid JSON (400).
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise OpenAIError(
            400,
            f"Send the body as JSON with the header Content-Type: application/json "
            f"(got {short_repr(media_type or 'no content type')}).",
            code="unsupported_content_type",
        )
    try:
        return json.loads(await request.body())
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise OpenAIError(
            400,
            f"We could not parse the JSON body of your request ({error}).",
            code="invalid_json",
        ) from None


def parse_generation(
    body: Any, served_model: str, *, redact: Callable[[str], str] = str
) -> ImagesCall:
    """Check an images body and turn it into a validated :class:`ImagesCall`.

    Args:
        body: the decoded JSON body.
        served_model: the loaded model's id (what ``model`` may name).
        redact: masks secrets in a value before an error message shows it shortened
            (redacting after shortening could leave part of a secret). Default: none masked.

    Raises:
        OpenAIError: a 400 naming the first bad field (as the body names it) and its value.
    """
    if not isinstance(body, dict):
        raise OpenAIError(400, f"The body must be a JSON object, but is {_shown(body, redact)}.")
    model = body.get("model")
    if model is not None and not (isinstance(model, str) and _accepts_model(model, served_model)):
        raise OpenAIError(
            400,
            f"`model` must be {served_model!r} (the model this server serves) or an OpenAI "
            f"image model name such as 'gpt-image-1' meaning it, but is {_shown(model, redact)}.",
            param="model",
            code="model_not_found",
        )
    if body.get("stream"):
        raise OpenAIError(
            400, "`stream` is not supported here; leave it out or set it to false.", param="stream"
        )
    default_format = "url" if str(model or "").startswith(URL_DEFAULT_PREFIX) else "b64_json"
    response_format = body.get("response_format") or default_format
    if response_format not in RESPONSE_FORMATS:
        raise OpenAIError(
            400,
            "`response_format` must be 'b64_json' or 'url', but is "
            f"{_shown(response_format, redact)}.",
            param="response_format",
        )
    width, height = _parse_size(body.get("size"), redact)
    try:
        request = GenerationRequest.create(
            prompt=body.get("prompt"),
            num_images=body.get("n"),
            width=width,
            height=height,
            negative_prompt=body.get("negative_prompt"),
            seed=body.get("seed"),
            num_inference_steps=body.get("steps"),
            guidance_scale=body.get("guidance_scale"),
            scheduler=body.get("scheduler"),
        )
    except ValidationError as error:
        raise _invalid(error, body.get("size"), redact) from None
    return ImagesCall(request, response_format)


def _accepts_model(name: str, served_model: str) -> bool:
    """Whether ``name`` means the served model (its id or an OpenAI image model name)."""
    return name == served_model or name.startswith(OPENAI_MODEL_PREFIXES)


def _shown(value: Any, redact: Callable[[str], str]) -> str:
    """``short_repr(value)`` with secrets removed first (so no part of one is left)."""
    if isinstance(value, str):
        return short_repr(redact(value))
    text = repr(value)
    clean = redact(text)
    return short_repr(value) if clean == text else short_repr(clean)[1:-1]


def _parse_size(size: Any, redact: Callable[[str], str] = str) -> tuple[int | None, int | None]:
    """``(width, height)`` from ``"WIDTHxHEIGHT"``; ``(None, None)`` (huatu's default) for a
    missing size or ``"auto"``. The numbers are range-checked later by the validator.

    Raises:
        OpenAIError: ``size`` is not text of that shape (400, ``param="size"``).
    """
    if size is None or size == "auto":
        return None, None
    match = _SIZE_RE.fullmatch(size) if isinstance(size, str) else None
    if match is None:
        raise OpenAIError(400, f"{_SIZE_RULE}, but is {_shown(size, redact)}.", param="size")
    return int(match[1]), int(match[2])


def _invalid(error: ValidationError, size: Any, redact: Callable[[str], str] = str) -> OpenAIError:
    """A huatu :class:`ValidationError` as a 400 naming the body field (``num_images`` → ``n``,
    ``width``/``height`` → ``size``); ``redact`` removes secrets from the value shown."""
    param = BODY_FIELDS.get(error.field, error.field)
    value = redact(error.value) if isinstance(error.value, str) else error.value
    if param == "size":
        message = f"{_SIZE_RULE}, but is {_shown(size, redact)} ({error.field} {value})."
    else:
        message = str(ValidationError(param, value, error.reason, **error.params))
    return OpenAIError(400, message, param=param, code="invalid_value")


def _generate(
    service: ImageService,
    gate: ApiGate,
    call: ImagesCall,
    base_url: str,
    cancel: CancelToken | None = None,
) -> dict:
    """Generate and save (blocking; runs in the thread pool) and build the
    ``ImagesResponse``; ``cancel`` stops the run (the client went away).

    Raises:
        OpenAIError: the gate is full, or generating failed (status by cause).
    """
    try:
        with gate.enter():
            result = service.generate(call.request, cancel=cancel)
    except HuatuError as error:
        raise _failed(error) from None
    outputs_dir = service.settings.outputs_dir
    if call.response_format == "url":
        data = [{"url": output_url(base_url, outputs_dir, path)} for path in result.paths]
    else:
        data = [{"b64_json": base64.b64encode(path.read_bytes()).decode()} for path in result.paths]
    request = result.request
    return {
        "created": int(time.time()),
        "data": data,
        "size": f"{request.width}x{request.height}",
        "output_format": "png",
    }


def _failed(error: HuatuError) -> OpenAIError:
    """A generation failure as an OpenAI error with the right status."""
    message = str(error)
    if isinstance(error, ValidationError):
        return _invalid(error, None)
    if isinstance(error, QueueFullError):
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        return OpenAIError(
            429, message, type="requests", code="rate_limit_exceeded", headers=headers
        )
    if isinstance(error, SafetyCheckerFlagged):
        return OpenAIError(400, message, code="content_policy_violation")
    if isinstance(error, MemoryError):  # huatu.errors.OutOfMemory
        return OpenAIError(503, message, type="server_error", code="out_of_memory")
    if isinstance(error, BackendUnavailableError):
        return OpenAIError(503, message, type="server_error", code="model_not_loaded")
    if isinstance(error, HostedTimeoutError):
        return OpenAIError(504, message, type="server_error", code="upstream_timeout")
    if isinstance(error, HostedError):
        return OpenAIError(502, message, type="server_error", code="upstream_error")
    return OpenAIError(500, message, type="server_error", code="generation_failed")
