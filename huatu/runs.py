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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from huatu.backends.base import CancelToken, ProgressEvent
from huatu.errors import GenerationCancelled, HuatuError

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.request import GenerationRequest
    from huatu.service import GenerationResult, ImageService

#: How often a waiting stream re-yields (for countdowns), in seconds.
TICK_S = 0.5


class SessionBusyError(HuatuError):
    """The session already has a generation running (one at a time per session)."""

    key = "session_busy"


@dataclass(frozen=True)
class RunUpdate:
    """One thing to show while a run goes on.

    Attributes:
        kind: ``"step"`` (a denoising step finished), ``"waiting"`` (a hosted service asked
            us to wait; ``wait_s`` counts down), ``"done"`` (``result`` is set) or
            ``"stopped"`` (the user stopped the run).
        step: steps done. total: steps in the run (0 when unknown).
        eta_s: estimated seconds left, once known.
        preview: the latest latent preview, when one arrived with this step.
        wait_s: seconds left before a hosted retry.
        message: the backend's own words (e.g. the hosted wait reason), English.
        result: the finished result for ``"done"``.
    """

    kind: str
    step: int = 0
    total: int = 0
    eta_s: float | None = None
    preview: Image | None = None
    wait_s: float | None = None
    message: str = ""
    result: GenerationResult | None = None


class RunRegistry:
    """Which sessions have a run going, with the token that stops it."""

    def __init__(self) -> None:
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()

    def start(self, session: str) -> CancelToken:
        """Register a run for ``session`` and return its cancel token.

        Raises:
            SessionBusyError: ``session`` already has a run going.
        """
        with self._lock:
            if session in self._tokens:
                raise SessionBusyError(
                    "You already have a generation running; wait for it or stop it."
                )
            token = self._tokens[session] = CancelToken()
            return token

    def stop(self, session: str) -> bool:
        """Ask ``session``'s run to stop; ``False`` when it has none."""
        with self._lock:
            token = self._tokens.get(session)
        if token is None:
            return False
        token.cancel()
        return True

    def finish(self, session: str, token: CancelToken) -> None:
        """Forget ``session``'s run (only if ``token`` is still the registered one)."""
        with self._lock:
            if self._tokens.get(session) is token:
                del self._tokens[session]

    def is_running(self, session: str) -> bool:
        """Whether ``session`` has a run going."""
        with self._lock:
            return session in self._tokens

    def running(self) -> int:
        """How many sessions have a run going."""
        with self._lock:
            return len(self._tokens)


def stream_generation(
    service: ImageService,
    request: GenerationRequest,
    *,
    cancel: CancelToken,
    preview_every: int = 2,
    extra: Mapping[str, str] | None = None,
) -> Iterator[RunUpdate]:
    """Generate in a worker thread and yield updates until the result (or a stop).

    Args:
        service: does the work.
        request: what to make (validated by the service).
        cancel: stops the run at its next step; also set if the consumer stops iterating
            (e.g. the browser went away), so the worker is freed.
        preview_every: a latent preview every N steps. Default 2.
        extra: extra metadata fields for the saved PNGs (e.g. ``Original prompt``).

    Raises:
        HuatuError: whatever the service raised, except a stop, which ends the stream with
            a ``"stopped"`` update instead.
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
            )
        except BaseException as error:  # handed to the consumer thread, re-raised there
            events.put(error)
        else:
            events.put(("done", result))

    worker = threading.Thread(target=work, name="huatu-generate", daemon=True)
    started = time.monotonic()
    wait_until: float | None = None
    last_message = ""
    worker.start()
    try:
        while True:
            try:
                item = events.get(timeout=TICK_S)
            except queue.Empty:
                if wait_until is not None:
                    left = max(0.0, wait_until - time.monotonic())
                    yield RunUpdate("waiting", wait_s=left, message=last_message)
                continue
            if isinstance(item, ProgressEvent):
                last_message = item.message or last_message
                if item.wait_s is not None:
                    wait_until = time.monotonic() + item.wait_s
                    yield RunUpdate("waiting", wait_s=item.wait_s, message=last_message)
                elif item.total:
                    wait_until = None
                    elapsed = time.monotonic() - started
                    eta = elapsed / item.step * (item.total - item.step) if item.step else None
                    yield RunUpdate(
                        "step", step=item.step, total=item.total, eta_s=eta, preview=item.preview
                    )
                else:
                    yield RunUpdate("waiting", message=last_message)
                continue
            if isinstance(item, GenerationCancelled):
                yield RunUpdate("stopped")
                return
            if isinstance(item, BaseException):
                raise item
            yield RunUpdate("done", result=item[1])
            return
    finally:
        if worker.is_alive():  # the consumer went away mid-run: free the worker
            cancel.cancel()
