"""One way to call a Hugging Face hosted service: failures normalised, retries, cancel, deadline.

The hosted image backend (:mod:`huatu.backends.hosted`) and the hosted translator
(:mod:`huatu.translation.hosted`) both call Hugging Face over HTTP and share what this module
holds, so each only turns the failures into its own sentences:

* **failures** below HTTP become a :class:`TransportFailure` of one *kind* (timeout, connect,
  reset, url, offline, other) whichever client raised them (:func:`classify_transport`,
  :func:`hub_errors`); HTTP error answers become a :class:`StatusFailure`, and
  :func:`status_kind` sorts their status into auth / not_served / retry / other;
* **retries**: :func:`call_with_retries` retries 429 ("too many requests") and 503 ("model is
  loading") with bounded exponential backoff (:func:`backoff_delay`) that honours
  ``Retry-After`` (:func:`parse_retry_after`) and a 503's ``estimated_time``
  (:func:`parse_estimated_time`), within an attempt count and an optional deadline;
* :func:`scrubbed`, which takes secrets out of a sentence's parameters before an error or a
  notice is built from them.

The parsing, backoff and status functions are pure and unit-tested directly.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from huatu.messages import Clipped, Notice

#: HTTP statuses that are retried (too many requests; the model is loading).
RETRY_STATUSES = frozenset({429, 503})
#: First backoff wait, in seconds; doubled on each further attempt.
BACKOFF_BASE_S = 1.0
#: Longest backoff huatu chooses on its own, in seconds (a server's ``Retry-After`` may ask more).
BACKOFF_CAP_S = 30.0
_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------
# Failures, normalised across httpx / httpx2 / huggingface_hub
# --------------------------------------------------------------------------------------------


class StatusFailure(Exception):
    """An HTTP error status from a hosted call (internal to the hosted modules; callers turn it
    into a :class:`~huatu.errors.HostedError` with a sentence for people).

    Args:
        status: the HTTP status. headers: the response headers (kept lower-cased).
        body: the response body.
    """

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.headers = {str(k).lower(): str(v) for k, v in headers.items()}
        self.body = body

    @classmethod
    def from_hub_error(cls, error: Any) -> StatusFailure:
        """From a ``huggingface_hub`` ``HfHubHTTPError`` (status, headers and body kept)."""
        response = error.response
        try:
            body = response.content
        except Exception:  # an unread stream: fall back to what huggingface_hub kept
            body = (error.server_message or "").encode()
        return cls(response.status_code, response.headers, body)


class TransportFailure(Exception):
    """A failure below HTTP (internal, like :class:`StatusFailure`).

    Args:
        kind: ``timeout``, ``connect``, ``reset``, ``url``, ``offline`` or ``other``.
    """

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def classify_transport(error: Exception, module: Any) -> TransportFailure:
    """Map an ``httpx``/``httpx2`` exception (``module`` is the library that raised it) onto
    a :class:`TransportFailure` kind."""
    if isinstance(error, module.TimeoutException):
        return TransportFailure("timeout")
    if isinstance(error, (module.UnsupportedProtocol, module.InvalidURL)):
        return TransportFailure("url")
    if isinstance(error, module.ConnectError):
        return TransportFailure("connect")
    if isinstance(error, (module.RemoteProtocolError, module.ReadError, module.WriteError)):
        return TransportFailure("reset")
    return TransportFailure("other")


@contextmanager
def hub_errors() -> Iterator[None]:
    """Around an ``InferenceClient`` call: its HTTP errors become :class:`StatusFailure`, its
    timeouts, offline mode and connection errors :class:`TransportFailure`; anything else
    passes through for the caller to judge (e.g. an answer it cannot read)."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError, OfflineModeIsEnabled

    try:
        yield
    except HfHubHTTPError as error:
        raise StatusFailure.from_hub_error(error) from None
    except InferenceTimeoutError:
        raise TransportFailure("timeout") from None
    except OfflineModeIsEnabled:
        raise TransportFailure("offline") from None
    except httpx2.HTTPError as error:
        raise classify_transport(error, httpx2) from None


def status_kind(status: int) -> str:
    """What an HTTP error status means for a hosted call.

    Returns:
        ``"auth"`` (401, 403: the key was refused), ``"not_served"`` (404, 410: no such model
        there), ``"retry"`` (429, 503: try again later) or ``"other"``.
    """
    if status in (401, 403):
        return "auth"
    if status in (404, 410):
        return "not_served"
    if status in RETRY_STATUSES:
        return "retry"
    return "other"


# --------------------------------------------------------------------------------------------
# Retry policy (pure)
# --------------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse an HTTP ``Retry-After`` header into seconds.

    Args:
        value: the header's value: seconds (``"5"``, ``"1.5"``) or an HTTP date; ``None`` when
            the header is missing.
        now: the current time for HTTP dates. Default: the real current time (UTC).

    Returns:
        Seconds to wait (never negative), or ``None`` when missing or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def parse_estimated_time(body: bytes) -> float | None:
    """Return ``estimated_time`` (seconds) from a 503 JSON body, or ``None`` when absent.

    Args:
        body: the response body, e.g.
            ``b'{"error": "Model ... is currently loading", "estimated_time": 20.0}'``.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    value = data.get("estimated_time")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value):
        return None
    return max(0.0, float(value))


def backoff_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    estimated_time: float | None = None,
    base: float = BACKOFF_BASE_S,
    cap: float = BACKOFF_CAP_S,
) -> float:
    """Seconds to wait before retry number ``attempt + 1``.

    Args:
        attempt: retries made so far (0 before the first retry).
        retry_after: the server's ``Retry-After`` in seconds, if any; the wait is never shorter
            (even past ``cap``: the deadline check then fails the request at once).
        estimated_time: a 503's ``estimated_time`` in seconds, if any; used when longer than
            the exponential wait, but capped at ``cap`` (it is only an estimate).
        base: the first exponential wait. Default 1 s.
        cap: the longest wait huatu chooses on its own. Default 30 s.

    Returns:
        ``min(base * 2**attempt, cap)``, raised to ``estimated_time`` (capped) and
        ``retry_after``.
    """
    wait = min(base * (2 ** max(0, attempt)), cap)
    if estimated_time is not None:
        wait = max(wait, min(estimated_time, cap))
    if retry_after is not None:
        wait = max(wait, retry_after)
    return float(wait)


def retry_wait(failure: StatusFailure, attempt: int, *, max_wait_s: float | None = None) -> float:
    """Seconds to wait before retrying after ``failure`` (a 429 or 503).

    Args:
        failure: the answer: its ``Retry-After`` header counts, and a 503's ``estimated_time``.
        attempt: retries made so far (0 before the first retry).
        max_wait_s: the longest wait whatever the server asks. Default: no limit beyond
            :func:`backoff_delay`'s.
    """
    wait = backoff_delay(
        attempt,
        retry_after=parse_retry_after(failure.headers.get("retry-after")),
        estimated_time=parse_estimated_time(failure.body) if failure.status == 503 else None,
    )
    return wait if max_wait_s is None else max(0.0, min(wait, max_wait_s))


def format_seconds(seconds: float) -> str:
    """Format a wait for people: ``"0.5"`` under 10 s with a fraction, else whole seconds."""
    if seconds < 10 and abs(seconds - round(seconds)) >= 0.05:
        return f"{seconds:.1f}"
    return f"{round(seconds):d}"


# --------------------------------------------------------------------------------------------
# The retry loop
# --------------------------------------------------------------------------------------------


class RetriesExhausted(Exception):
    """The service still answered 429/503 when huatu stopped retrying (internal).

    Attributes:
        failure: the last answer. attempts: calls made. waited_s: seconds since the first.
        next_wait_s: the wait that would have passed the deadline, or ``None`` when the
            attempts ran out.
    """

    def __init__(
        self, failure: StatusFailure, attempts: int, waited_s: float, next_wait_s: float | None
    ) -> None:
        super().__init__(failure.status)
        self.failure = failure
        self.attempts = attempts
        self.waited_s = waited_s
        self.next_wait_s = next_wait_s


def call_with_retries(
    send: Callable[[float | None], _T],
    *,
    max_attempts: int,
    deadline: float | None = None,
    max_wait_s: float | None = None,
    on_wait: Callable[[StatusFailure, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> _T:
    """Call ``send`` until it returns, retrying 429/503 answers after a backoff wait.

    Args:
        send: makes one call; given the seconds left until ``deadline`` (``None`` without
            one); raises :class:`StatusFailure` or :class:`TransportFailure` on failure.
        max_attempts: most calls in all (at least 1).
        deadline: a ``clock()`` time no call starts after and no wait ends after.
            Default: none.
        max_wait_s: longest single wait, whatever the server asks. Default: none.
        on_wait: told ``(failure, wait_s)`` before each wait (e.g. to show progress).
            Default: none.
        sleep: waits the given seconds (e.g. :func:`sleep_unless_cancelled`).
            Default :func:`time.sleep`.
        clock: the monotonic clock ``deadline`` is measured on. Default :func:`time.monotonic`.

    Returns:
        What ``send`` returned.

    Raises:
        StatusFailure: an answer that is not retried (anything but 429/503).
        TransportFailure: whatever ``send`` raised below HTTP, or kind ``timeout`` when the
            deadline passed before a call could start.
        RetriesExhausted: still 429/503 after ``max_attempts`` calls, or the next wait would
            pass ``deadline``.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
    started = clock()
    for attempt in range(max_attempts):
        remaining = None if deadline is None else deadline - clock()
        if remaining is not None and remaining <= 0:
            raise TransportFailure("timeout")
        try:
            return send(remaining)
        except StatusFailure as failure:
            if failure.status not in RETRY_STATUSES:
                raise
            last = failure
        if attempt + 1 >= max_attempts:
            break
        wait = retry_wait(last, attempt, max_wait_s=max_wait_s)
        if deadline is not None and clock() + wait > deadline:
            raise RetriesExhausted(last, attempt + 1, clock() - started, wait) from None
        if on_wait is not None:
            on_wait(last, wait)
        sleep(wait)
    raise RetriesExhausted(last, max_attempts, clock() - started, None) from None


# --------------------------------------------------------------------------------------------
# Secrets out of sentence parameters
# --------------------------------------------------------------------------------------------


def scrubbed(params: Mapping[str, object], redact: Callable[[str], str]) -> dict[str, object]:
    """``params`` with ``redact`` (e.g. ``Settings.redact``) applied to every text, also inside
    nested :class:`~huatu.messages.Notice` values, so no key reaches an error or a notice."""
    return {name: _scrub(value, redact) for name, value in params.items()}


def _scrub(value: object, redact: Callable[[str], str]) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Clipped):  # whole until rendered: redacted before it is cut
        return Clipped(redact(value.text), value.limit)
    if isinstance(value, Notice):
        return Notice(value.key, scrubbed(value.params, redact))
    return value
