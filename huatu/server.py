"""One FastAPI app on one port: the studio, the HTTP APIs, saved images, and access control.

:func:`build_app` mounts the Gradio studio at ``/`` (with its ``/gradio_api`` and, when asked,
its MCP server), includes the AUTOMATIC1111 (``/sdapi/v1``) and OpenAI (``/v1``) routers, and
serves saved images under ``/outputs``. When huatu has users (``--auth``/``HUATU_AUTH``) or an
API key (``HUATU_API_KEY``), :class:`AccessMiddleware` asks every request for them, whatever
the route — the page, the Gradio API, MCP, the HTTP APIs and the images alike.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from huatu.api.error_shapes import API_LANGUAGE, send_error
from huatu.errors import SettingsError
from huatu.messages import Notice, Quoted, message

if TYPE_CHECKING:
    from fastapi import FastAPI

    from huatu.config import Settings
    from huatu.service import ImageService

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address to listen on) only reaches this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_users(text: str | None) -> tuple[tuple[str, str], ...]:
    """``user:password`` pairs from ``--auth``/``HUATU_AUTH`` (comma-separated).

    Raises:
        SettingsError: a pair without a user or a password (the message never shows a
            password).
    """
    users = []
    for index, pair in enumerate((text or "").split(","), start=1):
        if not pair.strip():
            continue
        user, colon, password = pair.strip().partition(":")
        if not colon or not user or not password:
            raise SettingsError(
                "setting_auth_pair",
                index=index,
                user=Notice("auth_user_named", {"user": Quoted(user)})
                if user
                else Notice("auth_no_user"),
                password=Notice("auth_password" if password else "auth_no_password"),
            )
        users.append((user, password))
    return tuple(users)


@dataclass(frozen=True)
class Access:
    """Who may use the server.

    Attributes:
        users: ``(user, password)`` pairs accepted as HTTP Basic credentials. Default none.
        api_key: a key accepted as ``Authorization: Bearer <key>``. Default none.
    """

    users: tuple[tuple[str, str], ...] = ()
    api_key: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, auth: str | None = None) -> Access:
        """Access from ``auth`` (``--auth``; default ``settings.auth``) and
        ``settings.api_key``."""
        return cls(users=parse_users(auth or settings.auth), api_key=settings.api_key)

    @property
    def required(self) -> bool:
        """Whether requests must carry credentials."""
        return bool(self.users or self.api_key)

    def allows(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value carries valid credentials
        (compared in constant time)."""
        if not self.required:
            return True
        scheme, _, value = (authorization or "").strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and self.api_key:
            return hmac.compare_digest(value.encode(), self.api_key.encode())
        if scheme.lower() == "basic" and self.users:
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            matches = [
                hmac.compare_digest(user.encode(), known_user.encode())
                & hmac.compare_digest(password.encode(), known_password.encode())
                for known_user, known_password in self.users
            ]
            return any(matches)
        return False


class AccessMiddleware:
    """Refuse every HTTP or WebSocket request without valid credentials (when any are set).

    The refusal is a 401 in the shape the caller's API uses: OpenAI's error object under
    ``/v1``, ``{"detail": …}`` elsewhere (as FastAPI and AUTOMATIC1111 answer). With users
    configured it also asks browsers for HTTP Basic credentials.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], access: Access):
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.access.required:
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): val for key, val in scope.get("headers", [])}
        authorization = headers.get("authorization", b"").decode("latin-1")
        if self.access.allows(authorization):
            await self.app(scope, receive, send)
            return
        basic = [(b"www-authenticate", b'Basic realm="huatu", charset="UTF-8"')]
        await send_error(
            scope,
            send,
            401,
            message("http_unauthorized", API_LANGUAGE),
            code="invalid_api_key",
            headers=basic if self.access.users else (),
        )


def build_app(
    service: ImageService,
    *,
    access: Access | None = None,
    mcp: bool = False,
    host: str = "127.0.0.1",
    port: int = 7860,
    frame_ancestors: tuple[str, ...] = (),
    check_host: bool | None = None,
) -> FastAPI:
    """The whole server: studio at ``/``, the HTTP APIs, saved images, access control.

    Args:
        service: the one service every edge calls.
        access: who may use it. Default: anyone who can reach the port (loopback only is
            enforced by :func:`serve`).
        mcp: also serve the studio's generate function as an MCP tool at
            ``/gradio_api/mcp/``. Default ``False``.
        host: the address served on (for Gradio's idea of its own URL). Default 127.0.0.1.
        port: the port served on. Default 7860.
        frame_ancestors: other origins allowed to show the app in a frame (Hugging Face
            Spaces). Default none.
        check_host: refuse requests naming a foreign ``Host``. Default: while ``host`` is
            loopback.

    While ``host`` is loopback, requests naming another ``Host`` are refused (DNS
    rebinding); cross-site writes are always refused (:mod:`huatu.security`).
    """
    import gradio as gr
    from fastapi import FastAPI

    from huatu import __version__
    from huatu.api import outputs
    from huatu.api.gate import ApiGate
    from huatu.ui.common import MAX_UPLOAD
    from huatu.ui.i18n import I18N
    from huatu.ui.studio import build_studio

    app = FastAPI(title="huatu", version=__version__)
    gate = ApiGate()
    for router in _api_routers(service, gate):
        app.include_router(router)
    app.include_router(outputs.create_router(service.settings.outputs_dir))
    demo = build_studio(service).queue()
    app = gr.mount_gradio_app(
        app,
        demo,
        path="/",
        server_name=host,
        server_port=port,
        show_error=False,
        max_file_size=MAX_UPLOAD,
        i18n=I18N,
        mcp_server=mcp,
    )
    from huatu.api import http_errors

    http_errors.install(app)  # after mounting: Gradio's app gets the safe handlers too
    app.state.huatu_demo = demo
    app.state.huatu_gate = gate
    if access is not None and access.required:
        app.add_middleware(AccessMiddleware, access=access)
    from huatu.security import ExposureMiddleware

    app.add_middleware(  # outermost: runs before the access check
        ExposureMiddleware,
        check_host=is_loopback(host) if check_host is None else check_host,
        frame_ancestors=frame_ancestors,
    )
    return app


def _api_routers(service: ImageService, gate: Any) -> list[Any]:
    """The HTTP API routers: AUTOMATIC1111's ``/sdapi/v1`` and OpenAI's ``/v1``."""
    from huatu.api import a1111, openai_images

    return [a1111.create_router(service, gate), openai_images.create_router(service, gate)]


class ServerThread:
    """Serve an app with uvicorn in a background thread (tests, embedding).

    Args:
        app: the ASGI app. host: the address. port: the port.
    """

    def __init__(self, app: Any, host: str, port: int) -> None:
        # other event streams than the studio's session ones end with their run
        self.server = uvicorn_server(app, host, port, graceful_s=1, lifespan="on")
        self.thread = threading.Thread(target=self.server.run, name="huatu-server", daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self, timeout_s: float = 30.0) -> ServerThread:
        """Start serving; return once the server accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


def uvicorn_server(
    app: Any, host: str, port: int, *, graceful_s: float, lifespan: str = "auto"
) -> Any:
    """A uvicorn server for ``app`` that, when it stops, first ends the studio's session
    streams (every open tab's and Gradio client's heartbeat), as ``Blocks.close`` does. Without
    that, stopping waits ``graceful_s`` for those never-ending streams and then logs each one
    cancelled as "Exception in ASGI application" with a traceback.

    Args:
        app: the ASGI app (:func:`build_app`'s, or any other).
        host: the address. port: the port.
        graceful_s: how long stopping waits for requests still running before cancelling them.
        lifespan: uvicorn's lifespan mode. Default ``"auto"``.
    """
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            end_session_streams(app)
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan=lifespan,
        timeout_graceful_shutdown=graceful_s,
    )
    return Server(config)


def end_session_streams(app: Any) -> None:
    """Tell each Gradio app mounted in ``app`` to end its session streams (its ``stop_event``,
    which its heartbeat streams wait on). Call it on the server's event loop."""
    for route in getattr(app, "routes", ()):
        stop_event = getattr(getattr(route, "app", None), "stop_event", None)
        if stop_event is not None:
            stop_event.set()


def open_share_link(host: str, port: int) -> str:
    """Open a public ``*.gradio.live`` link to ``host:port`` through Gradio's share server
    and return it.

    Raises:
        OSError: the share server cannot be reached (e.g. offline).
    """
    import secrets

    from gradio import networking

    try:
        return networking.setup_tunnel(host, port, secrets.token_urlsafe(32), None, None)
    except Exception as error:  # gradio raises several kinds; one sentence for the CLI
        raise OSError(f"{type(error).__name__}: {error}") from None


def serve(app: Any, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until interrupted (as ``uvicorn.run`` does: Ctrl-C
    ends it quietly; a server that could not start exits with uvicorn's status 3)."""
    import contextlib
    import sys

    from uvicorn.main import STARTUP_FAILURE

    server = uvicorn_server(app, host, port, graceful_s=5)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
