"""The error bodies huatu's HTTP layers answer with, by API (no web framework needed).

Under ``/v1`` clients are OpenAI's, which read ``{"error": {"message", "type", "param",
"code"}}``; everywhere else (AUTOMATIC1111's API, Gradio, the page) ``{"detail": …}`` as
FastAPI answers. The ASGI middlewares, the framework's own error handlers and the OpenAI
router all build their bodies here.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

#: The language the HTTP APIs answer in (their clients are programs written for English APIs).
API_LANGUAGE = "en"

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def is_openai_path(path: str) -> bool:
    """Whether ``path`` belongs to the OpenAI-compatible API (``/v1``)."""
    return path == "/v1" or path.startswith("/v1/")


def openai_error_body(
    message: str,
    *,
    status: int = 400,
    code: str | None = None,
    param: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error object.

    Args:
        message: the sentence for a person.
        status: the HTTP status; sets the default ``kind``. Default 400.
        code: a machine-readable code, e.g. ``"invalid_api_key"``. Default ``None``.
        param: the body field at fault. Default ``None``.
        kind: OpenAI's error ``type``. Default ``invalid_request_error`` below 500, else
            ``server_error``.
    """
    kind = kind or openai_error_type(status)
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def openai_error_type(status: int) -> str:
    """OpenAI's error ``type`` for an HTTP status: ``invalid_request_error`` below 500, else
    ``server_error``."""
    return "invalid_request_error" if status < 500 else "server_error"


def error_body(path: str, status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """The error body for a request to ``path``: OpenAI's under ``/v1``, else ``detail``."""
    if is_openai_path(path):
        return openai_error_body(message, status=status, code=code)
    return {"detail": message}


async def send_error(
    scope: MutableMapping[str, Any],
    send: Send,
    status: int,
    message: str,
    *,
    code: str | None = None,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Answer an ASGI request with ``status`` and its API's error body (a WebSocket is
    closed with a policy-violation code instead)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = error_body(scope.get("path", ""), status, message, code)
    start_headers = [(b"content-type", b"application/json"), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
