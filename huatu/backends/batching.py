"""Running compatible requests that wait together as one batch — what pays on a GPU.

A GPU denoises several images in about the time of one; two CPU cores do not (the bench
measured 0.96× throughput for four at once), so huatu batches on CUDA and not elsewhere by
default (:func:`batch_images_for`). The service then lets that many requests through its
fair slots at once; here they wait in line, in the order they came. Whoever finds the runner
free runs the *head* of the line together with every waiting request that is compatible with
it (the same batch key, see the backend's), up to ``max_images`` images, and hands each
request its own outcome. A request whose key is ``None`` (an edit, a hires pass, a LoRA …)
always runs alone.

A member that is stopped leaves its batch at the next step while the others go on; a batch
whose members have all stopped ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from huatu.backends.base import BackendOutput, CancelToken, ProgressCallback
from huatu.errors import GenerationCancelled

if TYPE_CHECKING:
    from huatu.device import DevicePlan
    from huatu.request import GenerationRequest

#: Images one batch may hold on CUDA when nothing else is asked (``HUATU_BATCH_IMAGES``).
CUDA_BATCH_IMAGES = 4
#: How often a waiting request looks at whether it was served or stopped, in seconds.
POLL_S = 0.05


def batch_images_for(plan: DevicePlan, asked: int | None = None) -> int:
    """How many images one batch may hold: ``asked`` when given (1: no batching), else
    :data:`CUDA_BATCH_IMAGES` on CUDA and 1 elsewhere (batching did not pay on the CPU)."""
    if asked is not None:
        return asked
    return CUDA_BATCH_IMAGES if plan.device == "cuda" else 1


@dataclass(eq=False)
class Job:
    """One request waiting for (or in) a batch.

    Attributes:
        request: the validated request (its seed drawn).
        key: requests with equal keys may run together; ``None``: always alone.
        progress: the request's own progress callback. Default none.
        cancel: the request's own stop. Default none.
        preview_every: a preview every N steps for this request (0: none). Default 0.
    """

    request: GenerationRequest
    key: Hashable | None
    progress: ProgressCallback | None = None
    cancel: CancelToken | None = None
    preview_every: int = 0
    _done: threading.Event = field(default_factory=threading.Event)
    _output: BackendOutput | None = None
    _error: BaseException | None = None

    @property
    def stopped(self) -> bool:
        """Whether its stop was asked."""
        return self.cancel is not None and self.cancel.cancelled

    @property
    def finished(self) -> bool:
        """Whether its outcome is known."""
        return self._done.is_set()

    def finish(
        self, output: BackendOutput | None = None, error: BaseException | None = None
    ) -> None:
        """Set its outcome (an output or an error); the first outcome set stays."""
        if self._done.is_set():
            return
        self._output, self._error = output, error
        self._done.set()

    def outcome(self) -> BackendOutput:
        """Its output, or raise its error."""
        if self._error is not None:
            raise self._error
        assert self._output is not None
        return self._output


class Batcher:
    """A line of :class:`Job` values, run a compatible batch at a time.

    Args:
        run: runs one batch (one or more jobs with the same key, under ``max_images``
            images together) and finishes every job of it; what it raises becomes the
            outcome of the jobs it left unfinished.
        max_images: the most images one batch holds (a larger single request runs alone).
    """

    def __init__(self, run: Callable[[list[Job]], None], max_images: int) -> None:
        self._run = run
        self.max_images = max_images
        self._line: list[Job] = []
        self._lock = threading.Lock()  # guards the line
        self._runner = threading.Lock()  # one batch at a time

    @property
    def waiting(self) -> int:
        """Jobs in line, not yet taken into a batch."""
        with self._lock:
            return len(self._line)

    def submit(self, job: Job) -> BackendOutput:
        """Put ``job`` in line and return its output once some batch ran it (this thread
        runs batches, its own or others', whenever the runner is free).

        Raises:
            GenerationCancelled: stopped while waiting or during its batch.
            Whatever the batch's run raised.
        """
        with self._lock:
            self._line.append(job)
        try:
            while not job.finished:
                if job.stopped and self._withdraw(job):
                    job.finish(error=GenerationCancelled())
                elif self._runner.acquire(timeout=POLL_S):
                    try:
                        batch = self._take()
                        if batch:
                            self._run_batch(batch)
                    finally:
                        self._runner.release()
        finally:
            self._withdraw(job)  # left by an interrupt: nobody runs it now
        return job.outcome()

    def _withdraw(self, job: Job) -> bool:
        """Take ``job`` out of the line; whether it was still there."""
        with self._lock:
            if job in self._line:
                self._line.remove(job)
                return True
            return False

    def _take(self) -> list[Job]:
        """The head of the line and the waiting jobs that may join it (same key, not
        stopped, within ``max_images``), taken out of the line."""
        with self._lock:
            if not self._line:
                return []
            head = self._line[0]
            batch, images = [head], head.request.num_images
            if head.key is not None:
                for other in self._line[1:]:
                    joins = images + other.request.num_images <= self.max_images
                    if other.key == head.key and joins and not other.stopped:
                        batch.append(other)
                        images += other.request.num_images
            for job in batch:
                self._line.remove(job)
            return batch

    def _run_batch(self, batch: list[Job]) -> None:
        try:
            self._run(batch)
        except BaseException as error:  # each member's thread raises it as its own outcome
            for job in batch:
                job.finish(error=error)
            if not isinstance(error, Exception):  # an interrupt goes on up this thread too
                raise
        for job in batch:  # a run must finish its jobs; one that did not is a bug
            job.finish(error=RuntimeError("the batch ended without an outcome for a request"))
