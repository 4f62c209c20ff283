"""Error answers the web framework itself gives, made safe and shaped like each API's own.

FastAPI answers a body it cannot parse with a 422 that quotes the body; when that body holds
NaN, ±Infinity or bytes that are not UTF-8, encoding the answer fails and the client gets a
bare 500 (and a dropped connection). :func:`install` replaces that handler, on huatu's app and
on the mounted Gradio app, with one that always encodes; and answers unknown URLs and
refused bodies under ``/v1`` in OpenAI's error shape.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from huatu.api.error_shapes import is_openai_path, openai_error_body


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


def openai_error(status: int, message: str, code: str | None = None) -> JSONResponse:
    """An answer in OpenAI's error shape."""
    body = openai_error_body(message, status=status, code=code)
    return JSONResponse(status_code=status, content=body)


def _under_v1(request: Request) -> bool:
    return is_openai_path(request.url.path)


async def refused_body(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 for a body or parameter it refused, always encodable."""
    errors = plain(list(error.errors()))
    if _under_v1(request):
        first = errors[0].get("msg", "invalid request") if errors else "invalid request"
        return openai_error(400, f"We could not parse your request: {first}.", "invalid_request")
    return JSONResponse(status_code=422, content={"detail": errors})


async def http_error(request: Request, error: HTTPException) -> JSONResponse:
    """Starlette's HTTP errors (404 for an unknown URL …), in OpenAI's shape under ``/v1``."""
    if _under_v1(request):
        code = "unknown_url" if error.status_code == 404 else None
        method, path = request.method, request.url.path
        message = f"Invalid URL ({method} {path})." if error.status_code == 404 else error.detail
        return openai_error(error.status_code, str(message), code)
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
