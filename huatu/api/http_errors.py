"""How the HTTP APIs answer a failure: the one status table, and the framework's own errors.

:data:`FAILURES` maps each kind of failure to its HTTP status, OpenAI's error ``type`` and
``code``, and whether a ``Retry-After`` header goes with it; AUTOMATIC1111's and OpenAI's
routers both answer from it (:func:`failure_of`), so a failure has the same status on both.
A refused field is not in it: each API refuses fields in its own shape (A1111: FastAPI's 422
list, which A1111 itself answers; OpenAI: a 400 ``invalid_value``).

Every sentence an API answers with is :func:`sentence`: :func:`huatu.errors.explain` (the
one boundary where secrets are masked) in English, the APIs' language.

FastAPI answers a body it cannot parse with a 422 that quotes the body; when that body holds
NaN, ±Infinity or bytes that are not UTF-8, encoding the answer fails and the client gets a
bare 500 (and a dropped connection). :func:`install` replaces that handler, on huatu's app and
on the mounted Gradio app, with one that always encodes; and answers unknown URLs and
refused bodies under ``/v1`` in OpenAI's error shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from huatu.api.error_shapes import (
    API_LANGUAGE,
    is_openai_path,
    openai_error_body,
    openai_error_type,
)
from huatu.errors import (
    BackendUnavailableError,
    HostedError,
    HostedTimeoutError,
    HuatuError,
    ModelLoadError,
    QueueFullError,
    SafetyCheckerFlagged,
    Secrets,
    explain,
)
from huatu.messages import message

#: Seconds a client is told to wait (``Retry-After``) before trying again.
RETRY_AFTER_S = 60


@dataclass(frozen=True)
class Failure:
    """How the HTTP APIs answer one kind of failure.

    Attributes:
        status: the HTTP status.
        code: OpenAI's machine-readable ``code`` (``None``: none).
        retry_after: a ``Retry-After`` header goes with it (the condition passes).
            Default off.
    """

    status: int
    code: str | None
    retry_after: bool = False

    @property
    def type(self) -> str:
        """OpenAI's error ``type`` (:func:`~huatu.api.error_shapes.openai_error_type`)."""
        return openai_error_type(self.status)

    @property
    def headers(self) -> dict[str, str]:
        """The answer's extra headers (``Retry-After`` when :attr:`retry_after`)."""
        return {"Retry-After": str(RETRY_AFTER_S)} if self.retry_after else {}


#: Exception kind → its answer (first match wins). A full queue is 503 + ``Retry-After``:
#: the gate is shared by every client, so the server is briefly overloaded, not rate-limiting
#: one client (429).
FAILURES: tuple[tuple[type[BaseException], Failure], ...] = (
    (QueueFullError, Failure(503, "server_overloaded", retry_after=True)),
    (BackendUnavailableError, Failure(503, "model_not_loaded")),
    (MemoryError, Failure(503, "out_of_memory")),  # huatu.errors.OutOfMemory
    (ModelLoadError, Failure(400, "model_load_failed")),
    (SafetyCheckerFlagged, Failure(400, "content_policy_violation")),
    (HostedTimeoutError, Failure(504, "upstream_timeout")),
    (HostedError, Failure(502, "upstream_error")),
)
#: Any other huatu error (a disk that is full …).
GENERATION_FAILED = Failure(500, "generation_failed")
#: An exception huatu did not raise on purpose (a bug; the edge logs it).
INTERNAL = Failure(500, None)


def failure_of(error: BaseException) -> Failure:
    """The answer to ``error`` (see :data:`FAILURES`)."""
    for kind, failure in FAILURES:
        if isinstance(error, kind):
            return failure
    return GENERATION_FAILED if isinstance(error, HuatuError) else INTERNAL


def sentence(error: HuatuError, secrets: Secrets | None) -> str:
    """``error`` as the sentence an API answers with: English, ``secrets`` (the settings)
    masked and removed (see :func:`huatu.errors.explain`; ``None``: none to keep out)."""
    return explain(error, API_LANGUAGE, secrets)


def plain(value: Any) -> Any:
    """``value`` with what JSON cannot hold replaced: NaN and ±Infinity by ``None``, bytes by
    their text (undecodable bytes as U+FFFD), other objects by their ``str``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def openai_error(status: int, text: str, code: str | None = None) -> JSONResponse:
    """An answer in OpenAI's error shape."""
    body = openai_error_body(text, status=status, code=code)
    return JSONResponse(status_code=status, content=body)


def _under_v1(request: Request) -> bool:
    return is_openai_path(request.url.path)


async def refused_body(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 for a body or parameter it refused, always encodable."""
    errors = plain(list(error.errors()))
    if _under_v1(request):
        first = errors[0].get("msg") if errors else None
        detail = first or message("api_invalid_request", API_LANGUAGE)
        text = message("api_unparsable_request", API_LANGUAGE, detail=detail)
        return openai_error(400, text, "invalid_request")
    return JSONResponse(status_code=422, content={"detail": errors})


async def http_error(request: Request, error: HTTPException) -> JSONResponse:
    """Starlette's HTTP errors (404 for an unknown URL …), in OpenAI's shape under ``/v1``."""
    if _under_v1(request):
        if error.status_code == 404:
            text = message(
                "api_invalid_url", API_LANGUAGE, method=request.method, path=request.url.path
            )
            return openai_error(404, text, "unknown_url")
        return openai_error(error.status_code, str(error.detail))
    headers = getattr(error, "headers", None)
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=headers)


def install(app: FastAPI) -> None:
    """Use these handlers on ``app`` and on every FastAPI app mounted in it (Gradio's)."""
    apps = [app] + [
        route.app
        for route in app.router.routes
        if isinstance(route, Mount) and isinstance(route.app, FastAPI)
    ]
    for each in apps:
        each.add_exception_handler(RequestValidationError, refused_body)
        each.add_exception_handler(HTTPException, http_error)
