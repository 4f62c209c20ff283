"""Who is asking for a generation: the key that the fair slots (:mod:`huatu.slots`) take
turns between.

A person at the studio is their browser session; an HTTP API caller is its connection
(host and port: one key per client connection, so scripts sharing an address or an API key
still take turns with each other); the CLI and the lesson apps are the anonymous client.
"""

from __future__ import annotations

from typing import Any

from huatu.slots import ANONYMOUS


def session_client(session: str) -> str:
    """The client key of a Gradio session ``session`` (the studio page, a gradio_client,
    an MCP client)."""
    return f"session {session}" if session else ANONYMOUS


def http_client(request: Any) -> str:
    """The client key of an HTTP request (a Starlette ``Request``): its peer's host and
    port, or the anonymous client when the server does not know them."""
    peer = getattr(request, "client", None)
    if peer is None:
        return ANONYMOUS
    return f"http {peer.host}:{peer.port}"
