"""Hypothesis strategies and answer checks shared by the fuzz tests (``tests/test_fuzz.py``).

Sizes: every strategy is bounded, and the strategies for request bodies never produce a
*valid* request that is expensive (big images, many steps, many runs), so a fuzz run on the
tiny model stays fast; what they do produce is mostly junk of every JSON type.
``HUATU_AUDIT=1`` (``make audit``) multiplies the number of examples by :data:`AUDIT_FACTOR`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import threading
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from huatu.request import MAX_SEED, GenerationRequest
from huatu.schedulers import scheduler_ids

AUDIT = os.environ.get("HUATU_AUDIT") == "1"
AUDIT_FACTOR = 10


def fuzz_settings(examples: int) -> settings:
    """Hypothesis settings for a fuzz test: ``examples`` examples (×10 under ``HUATU_AUDIT=1``),
    no deadline (the machine may be busy), deterministic outside the audit."""
    return settings(
        max_examples=examples * AUDIT_FACTOR if AUDIT else examples,
        deadline=None,
        derandomize=not AUDIT,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


# --------------------------------------------------------------------------------------------
# Values

HUGE_TEXT = "x" * 100_000
ODD_TEXTS = [
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x00b",
    "x" * 1000,
    "x" * 1001,
    HUGE_TEXT,
    "狗",
    "一只猫",
    "\u202e\u200b",
    "\ud7ff\ue000",
    "64",
    "-1",
    "nan",
    "Infinity",
    "1e400",
    "512x512",
    "euler_a",
    "Euler",
    "DPM++ 2M Karras",
    "null",
    "<script>alert(1)</script>",
    "{{prompt}}",
    "%s%n",
    "../../etc/passwd",
]
ODD_NUMBERS = [
    0,
    -1,
    1,
    -2,
    7,
    63,
    64,
    65,
    1024,
    1032,
    1536,
    1544,
    2**31,
    2**32 - 1,
    2**32,
    2**53 + 1,
    2**63,
    -(2**63),
    2**64,
    10**30,
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    0.5,
    64.0,
    64.5,
    7.5,
    20.000001,
    1e308,
    -1e308,
    5e-324,
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-5, 1100),
    st.floats(),
    st.sampled_from(ODD_NUMBERS),
    st.text(max_size=20),
    st.sampled_from(ODD_TEXTS),
)
#: Any JSON-ish value: scalars of every type, and small lists and objects of them.
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _integral(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def cheap(low: int, high: int) -> Callable[[Any], bool]:
    """A filter keeping junk that is *not* a whole number in ``low..high`` (the values that
    would make a valid but slow request) and not ``None`` (which means a slow default)."""
    return lambda value: value is not None and not (_integral(value) and low <= value <= high)


#: Values for a field with an expensive range: mostly junk, sometimes a small valid value.
sides = st.one_of(st.sampled_from([64, 72, 128, 64.0, 96]), json_values.filter(cheap(129, 4096)))
steps = st.one_of(st.integers(1, 3), st.just(2.0), json_values.filter(cheap(4, 1000)))
counts = st.one_of(st.integers(1, 2), json_values.filter(cheap(3, 100)))
prompts = st.one_of(
    st.text(min_size=1, max_size=40).filter(lambda text: text.strip()),
    json_values,
)
guidances = st.one_of(st.floats(0, 20), st.integers(0, 20), json_values)
seeds = st.one_of(st.integers(-1, MAX_SEED), json_values)
schedulers = st.one_of(st.sampled_from(scheduler_ids()), json_values)

REQUEST_FIELDS = list(GenerationRequest.__dataclass_fields__)


def unknown_names(known: list[str] | set[str]) -> st.SearchStrategy[str]:
    """Field names that are not in ``known``."""
    return st.one_of(
        st.text(max_size=12), st.sampled_from(["model", "steps", "n", "size", "__class__", ""])
    ).filter(lambda name: name not in known)


# --------------------------------------------------------------------------------------------
# Checks

_SOURCE_PATH = re.compile(r"/[\w./-]+\.py\b")


def assert_no_trace(text: str) -> None:
    """No traceback and no path of a Python source file in ``text`` (an answer body)."""
    assert "Traceback" not in text, text[:2000]
    assert 'File "' not in text, text[:2000]
    assert not _SOURCE_PATH.search(text), text[:2000]


def names_field(message: str, field: str) -> bool:
    """Whether ``message`` names ``field`` the way huatu's messages do (backtick-quoted)."""
    return f"`{field}`" in message


# --------------------------------------------------------------------------------------------
# An MCP client session served from a background event loop


class McpSession:
    """An MCP ``ClientSession`` to ``url``'s MCP server, usable from synchronous tests
    (Hypothesis calls the test function once per example).

    The session lives in a coroutine on its own event loop and thread; :meth:`call_tool` runs
    one call on that loop and waits for it.
    """

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.session: Any = None
        self._ready = threading.Event()
        self._closing: asyncio.Event | None = None
        self._main: Any = None
        self._error: BaseException | None = None

    async def _hold(self) -> None:
        from mcp import ClientSession
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        self._closing = asyncio.Event()
        try:
            async with (
                create_mcp_http_client() as http,
                streamable_http_client(self.url, http_client=http) as (read, write, _),
                ClientSession(read, write) as session,
            ):
                await asyncio.wait_for(session.initialize(), 30)
                self.session = session
                self._ready.set()
                await self._closing.wait()
        except BaseException as error:  # reported by start()
            self._error = error
            self._ready.set()
            raise

    def start(self) -> McpSession:
        self.thread.start()
        self._main = asyncio.run_coroutine_threadsafe(self._hold(), self.loop)
        self._ready.wait(60)
        if self.session is None:
            raise RuntimeError(f"no MCP session to {self.url}: {self._error!r}")
        return self

    def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """``session.call_tool(name, arguments)``; its exceptions are raised here."""
        future = asyncio.run_coroutine_threadsafe(
            self.session.call_tool(name, arguments), self.loop
        )
        return future.result(self.timeout_s)

    def close(self) -> None:
        if self._closing is not None:
            self.loop.call_soon_threadsafe(self._closing.set)
        if self._main is not None:
            with contextlib.suppress(BaseException):  # closing: nothing to report
                self._main.result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
