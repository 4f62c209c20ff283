"""Running a generation in the background and streaming what happens, for any edge.

:func:`stream_generation` runs :meth:`ImageService.generate` in a worker thread and yields
:class:`RunUpdate` values (steps with time left, previews, hosted-wait countdowns, the result,
or "stopped"). :class:`RunRegistry` keeps each session's cancel token so that a stop button or
an API call can stop that session's run within one denoising step.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from huatu.backends.base import CancelToken, ProgressEvent
from huatu.errors import GenerationCancelled
from huatu.messages import Notice
from huatu.slots import ANONYMOUS

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.request import GenerationRequest
    from huatu.service import GenerationResult, ImageService

T = TypeVar("T")
#: How often a waiting stream re-yields (for countdowns), in seconds.
TICK_S = 0.5
#: Least time between two step updates of a stream, in seconds.
MIN_UPDATE_INTERVAL_S = 0.25
#: Seconds after an admission before the queue is trusted to show the admitted run.
SETTLE_S = 5.0


@dataclass(frozen=True)
class RunUpdate:
    """One thing to show while a run goes on.

    Attributes:
        kind: ``"started"`` (the run began), ``"step"`` (a denoising step finished),
            ``"waiting"`` (a hosted service asked
            us to wait; ``wait_s`` counts down), ``"done"`` (``result`` is set) or
            ``"stopped"`` (the user stopped the run; ``step`` is the last one reached).
        step: steps done. total: steps in the run (0 when unknown).
        eta_s: estimated seconds left, once known.
        preview: the latest latent preview, when one arrived with this step.
        wait_s: seconds left before a hosted retry.
        message: the backend's own words (e.g. the hosted wait reason), rendered at the edge.
        result: the finished result for ``"done"``.
    """

    kind: str
    step: int = 0
    total: int = 0
    eta_s: float | None = None
    preview: Image | None = None
    wait_s: float | None = None
    message: Notice | None = None
    result: GenerationResult | None = None


class RunRegistry:
    """Each session's admitted and running generations, with the tokens that stop them.

    A session is *admitted* a run before Gradio queues it (:meth:`admit`, which enforces the
    per-session cap atomically) and *releases* it when the run ends, whatever the outcome.
    Stop cancels the session's running runs and also the ones still waiting in the queue:
    those end as "stopped" as soon as they start.
    """

    def __init__(self) -> None:
        self._tokens: dict[str, list[CancelToken]] = {}
        self._admitted: dict[str, int] = {}
        self._stop_pending: dict[str, int] = {}
        self._last_admit: dict[str, float] = {}
        self._lock = threading.Lock()

    def admit(self, session: str, limit: int, *, actual: int | None = None) -> bool:
        """Reserve a place for one more run of ``session`` if it has fewer than ``limit``.

        Args:
            session: the browser (or API client) session.
            limit: the most runs a session may have queued or running.
            actual: how many the queue really holds for the session right now, if known;
                used to repair the count when a queued run vanished without starting
                (e.g. its browser tab was closed) — only once the session's last admission
                is :data:`SETTLE_S` old, since an admitted run reaches the queue a moment
                after its admission.
        """
        now = time.monotonic()
        with self._lock:
            count = self._admitted.get(session, 0)
            settled = now - self._last_admit.get(session, 0.0) > SETTLE_S
            if count >= limit and settled and actual is not None and actual < count:
                count = actual  # a queued run vanished without starting
            if count >= limit:
                self._admitted[session] = count
                return False
            self._admitted[session] = count + 1
            self._last_admit[session] = now
            return True

    def start(self, session: str) -> CancelToken:
        """Register a starting run of ``session`` and return its cancel token (already
        cancelled when Stop was pressed while it waited in the queue)."""
        token = CancelToken()
        with self._lock:
            if self._stop_pending.get(session, 0) > 0:
                self._stop_pending[session] -= 1
                token.cancel()
            self._tokens.setdefault(session, []).append(token)
        return token

    def stop(self, session: str, *, queued: int = 0) -> bool:
        """Stop ``session``'s running runs and the ``queued`` ones still waiting to start.

        Returns whether anything was running or waiting.
        """
        with self._lock:
            tokens = list(self._tokens.get(session, []))
            if queued:
                self._stop_pending[session] = queued
        for token in tokens:
            token.cancel()
        return bool(tokens or queued)

    def finish(self, session: str, token: CancelToken) -> None:
        """Forget a run that ended and give its place back."""
        with self._lock:
            tokens = self._tokens.get(session, [])
            if token in tokens:
                tokens.remove(token)
            if not tokens:
                self._tokens.pop(session, None)
            if self._admitted.get(session, 0) > 0:
                self._admitted[session] -= 1
            if not self._tokens.get(session) and not self._admitted.get(session):
                self._admitted.pop(session, None)
                self._stop_pending.pop(session, None)
                self._last_admit.pop(session, None)

    def running(self, session: str) -> int:
        """How many runs of ``session`` are going now."""
        with self._lock:
            return len(self._tokens.get(session, []))


def stream_generation(
    service: ImageService,
    request: GenerationRequest,
    *,
    cancel: CancelToken,
    preview_every: int = 2,
    extra: Mapping[str, str] | None = None,
    min_interval_s: float = MIN_UPDATE_INTERVAL_S,
    client: str = ANONYMOUS,
) -> Iterator[RunUpdate]:
    """Generate in a worker thread and yield updates until the result (or a stop).

    The first update is ``"started"`` (the worker is already running). Step updates come at
    most every ``min_interval_s``: a step that arrives sooner is held back and replaced by the
    next one (keeping the latest preview), and shown once the interval is over if nothing newer
    came — so a fast pipeline is not slowed down by the page redrawing each step, while a
    slow one (seconds per step) shows every step.

    Args:
        service: does the work.
        request: what to make (validated by the service).
        cancel: stops the run at its next step; also set if the consumer stops iterating
            (e.g. the browser went away), so the worker is freed.
        preview_every: a latent preview every N steps. Default 2.
        extra: extra metadata fields for the saved PNGs (e.g. ``Original prompt``).
        min_interval_s: least time between two step updates. Default 0.25 s.
        client: who asks (:mod:`huatu.clients`), for the fair slots. Default anonymous.

    Raises:
        HuatuError: whatever the service raised, except a stop, which ends the stream with
            a ``"stopped"`` update (its ``step`` is the last step reached) instead.
    """
    events: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            result = service.generate(
                request,
                progress=events.put,
                cancel=cancel,
                preview_every=preview_every,
                extra=extra,
                client=client,
            )
        except BaseException as error:  # handed to the consumer thread, re-raised there
            events.put(error)
        else:
            events.put(("done", result))

    worker = threading.Thread(target=work, name="huatu-generate", daemon=True)
    started = time.monotonic()
    wait_until: float | None = None
    last_message: Notice | None = None
    last_shown = float("-inf")  # the first step is shown at once, whatever the clock
    held: RunUpdate | None = None  # a step update waiting for its interval
    reached = RunUpdate("step")  # the latest step, shown or not
    worker.start()
    try:
        yield RunUpdate("started")
        while True:
            timeout = (
                TICK_S if held is None else max(0.0, last_shown + min_interval_s - time.monotonic())
            )
            try:
                items = _drain(events, timeout=timeout)
            except queue.Empty:
                if held is not None:
                    yield held
                    held, last_shown = None, time.monotonic()
                elif wait_until is not None:
                    left = max(0.0, wait_until - time.monotonic())
                    yield RunUpdate("waiting", wait_s=left, message=last_message)
                continue
            for item in items:
                if not isinstance(item, ProgressEvent):
                    break
                last_message = item.message or last_message
                if item.wait_s is not None:
                    wait_until = time.monotonic() + item.wait_s
                    yield RunUpdate("waiting", wait_s=item.wait_s, message=last_message)
                elif item.total:
                    wait_until = None
                    elapsed = time.monotonic() - started
                    eta = elapsed / item.step * (item.total - item.step) if item.step else None
                    preview = item.preview
                    if preview is None and held is not None:
                        preview = held.preview  # not shown yet: keep it for the next update
                    held = RunUpdate(
                        "step", step=item.step, total=item.total, eta_s=eta, preview=preview
                    )
                    reached = held
                else:
                    yield RunUpdate("waiting", message=last_message)
            final = items[-1]
            if isinstance(final, ProgressEvent):
                if held is not None and time.monotonic() - last_shown >= min_interval_s:
                    yield held
                    held, last_shown = None, time.monotonic()
                continue
            if isinstance(final, GenerationCancelled):
                yield RunUpdate("stopped", step=reached.step, total=reached.total)
                return
            if isinstance(final, BaseException):
                raise final
            yield RunUpdate("done", result=final[1])
            return
    finally:
        if worker.is_alive():  # the consumer went away mid-run: free the worker
            cancel.cancel()


def _drain(events: queue.Queue, timeout: float) -> list:
    """The next item of ``events`` (waiting up to ``timeout``) and every item already
    behind it, up to and including the run's final item (result or exception).

    Raises:
        queue.Empty: nothing arrived within ``timeout``.
    """
    items = [events.get(timeout=timeout)]
    while isinstance(items[-1], ProgressEvent):
        try:
            items.append(events.get_nowait())
        except queue.Empty:
            break
    return items


#: How often an HTTP endpoint checks whether its client is still there, in seconds.
DISCONNECT_POLL_S = 0.25


async def finish_unless_disconnected(
    work: Awaitable[T],
    is_disconnected: Callable[[], Awaitable[bool]],
    on_disconnect: Callable[[], None],
    poll_s: float = DISCONNECT_POLL_S,
) -> T:
    """Await ``work`` (e.g. a generation in the thread pool), calling ``on_disconnect`` once
    if the client goes away meanwhile (e.g. to cancel the run's token), and return its result.

    Args:
        work: the blocking work, already started (a coroutine or future).
        is_disconnected: e.g. Starlette's ``request.is_disconnected``.
        on_disconnect: stops the work; it still ends (with a stop) and is awaited.
        poll_s: seconds between checks. Default 0.25.
    """
    import asyncio

    task = asyncio.ensure_future(work)
    told = False
    while True:
        done, _ = await asyncio.wait({task}, timeout=poll_s)
        if done:
            return task.result()
        if not told and await is_disconnected():
            told = True
            on_disconnect()
