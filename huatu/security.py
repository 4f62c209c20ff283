"""Keeping other websites out: Host checks, cross-origin refusal, protective headers.

:class:`ExposureMiddleware` wraps the whole app (page, Gradio API, MCP, HTTP APIs, images):

- **DNS rebinding**: while huatu listens on loopback, a request whose ``Host`` names anything
  but this machine (``127.0.0.1``, ``localhost``, ``[::1]``, or ``allowed_hosts``) is refused
  — a web page that re-points its own domain at 127.0.0.1 gets nothing.
- **Cross-site requests**: a request that would change something (any method but GET, HEAD
  and OPTIONS, and every WebSocket) from another origin — per its ``Origin`` or
  ``Sec-Fetch-Site`` header — is refused, so a page a visitor opens cannot generate, upload
  or stop anything through their browser, even with their saved credentials.
- **Reading answers**: ``Access-Control-Allow-*`` headers are removed from every answer to
  another origin (Gradio would allow other ``localhost`` ports), so no other site can read
  huatu's answers.
- **Headers on every answer**: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  no-referrer``, and framing limited to huatu itself (``Content-Security-Policy:
  frame-ancestors 'self' …`` and ``X-Frame-Options: SAMEORIGIN``), plus ``frame_ancestors``
  (e.g. Hugging Face Spaces, which shows the app in a frame).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from huatu.api.error_shapes import API_LANGUAGE, send_error
from huatu.messages import Quoted, message

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CORS_PREFIX = b"access-control-allow-"


def host_name(host_header: str) -> str:
    """The host name of a ``Host`` header value, without port or IPv6 brackets, lowercased."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def origin_host(origin: str) -> str | None:
    """``host[:port]`` of an ``Origin`` header value, or ``None`` for ``null``/garbage."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.lower()


class ExposureMiddleware:
    """Refuse foreign ``Host`` headers and cross-site writes; add protective headers.

    Args:
        app: the ASGI app to protect.
        check_host: refuse requests whose ``Host`` is not this machine or ``allowed_hosts``
            (turned on while listening on loopback). Default ``True``.
        allowed_hosts: more host names to accept (e.g. a reverse proxy's name). Default none.
        frame_ancestors: origins besides huatu itself allowed to show it in a frame
            (e.g. ``https://huggingface.co``). Default none.
    """

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        *,
        check_host: bool = True,
        allowed_hosts: Iterable[str] = (),
        frame_ancestors: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.check_host = check_host
        self.allowed_hosts = LOOPBACK_HOSTS | {host.lower() for host in allowed_hosts}
        ancestors = " ".join(["'self'", *frame_ancestors])
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", f"frame-ancestors {ancestors}".encode()),
        ]
        if not list(frame_ancestors):  # X-Frame-Options cannot name other origins
            self.headers.append((b"x-frame-options", b"SAMEORIGIN"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if self.check_host and host_name(host) not in self.allowed_hosts:
            said = message("http_foreign_host", API_LANGUAGE, host=Quoted(host))
            await self._refuse(scope, send, 421, said)
            return
        same_origin = self._same_origin(headers, host)
        writes = scope["type"] == "websocket" or scope.get("method", "GET") not in SAFE_METHODS
        if writes and not same_origin:
            await self._refuse(scope, send, 403, message("http_cross_site", API_LANGUAGE))
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (key, value)
                    for key, value in message.get("headers", [])
                    if same_origin or not key.lower().startswith(CORS_PREFIX)
                ]
                present = {key.lower() for key, _ in kept}
                kept += [(key, value) for key, value in self.headers if key not in present]
                message["headers"] = kept
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _same_origin(headers: dict[str, str], host: str) -> bool:
        """Whether the request comes from huatu's own pages (or from no page at all)."""
        if headers.get("sec-fetch-site", "").lower() == "cross-site":
            return False
        origin = headers.get("origin")
        if origin is None:  # not sent by a browser page: curl, SDKs, same-origin GETs
            return True
        return origin_host(origin) == host.strip().lower()

    async def _refuse(self, scope: Scope, send: Send, status: int, message: str) -> None:
        code = "forbidden" if status == 403 else "misdirected_request"
        await send_error(scope, send, status, message, code=code, headers=self.headers)
