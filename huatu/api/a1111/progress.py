"""The progress of the A1111 API's own generations, as ``/progress`` reports it, and their
stopping by ``/interrupt`` and ``/skip``."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from huatu.api.a1111.answers import b64_png
from huatu.api.http_errors import API_LANGUAGE
from huatu.backends.base import CancelToken, ProgressEvent
from huatu.messages import render

if TYPE_CHECKING:
    from PIL.Image import Image


@dataclass(eq=False)  # compared by identity
class Job:
    """One ``/txt2img`` request in flight.

    Attributes:
        n_iter: its runs. token: stops the current run. job_no: the current run (from 0).
        step / steps: denoising progress of the current run. preview: the latest preview.
        started / last_event: ``time.time()`` of its first and latest progress event.
        interrupted / skipped: ``/interrupt`` or ``/skip`` asked it to stop.
        message: the backend's latest words (e.g. a hosted wait), for ``textinfo``.
    """

    n_iter: int
    token: CancelToken = field(default_factory=CancelToken)
    job_no: int = 0
    step: int = 0
    steps: int = 0
    preview: Image | None = None
    started: float | None = None
    last_event: float = 0.0
    interrupted: bool = False
    skipped: bool = False
    message: str | None = None
    timestamp: str = field(default_factory=lambda: datetime.now().strftime("%Y%m%d%H%M%S"))


IDLE_STATE = {
    "skipped": False,
    "interrupted": False,
    "stopping_generation": False,
    "job": "",
    "job_count": 0,
    "job_timestamp": "0",
    "job_no": 0,
    "sampling_step": 0,
    "sampling_steps": 0,
}


class ProgressTracker:
    """The API generations in flight, fed by their progress callbacks (thread-safe).

    The *current* job is the one that reported a step last (the one the model is working
    on), else the oldest still waiting for the model.
    """

    def __init__(self) -> None:
        self._jobs: list[Job] = []
        self._lock = threading.Lock()

    def begin(self, n_iter: int) -> Job:
        """Register a request of ``n_iter`` runs."""
        job = Job(n_iter)
        with self._lock:
            self._jobs.append(job)
        return job

    def end(self, job: Job) -> None:
        """Forget a finished request."""
        with self._lock:
            self._jobs.remove(job)

    def next_run(self, job: Job, job_no: int) -> CancelToken | None:
        """The cancel token for run ``job_no`` of ``job``, or ``None`` once interrupted."""
        with self._lock:
            if job.interrupted:
                return None
            job.job_no, job.step, job.steps, job.skipped = job_no, 0, 0, False
            job.token = CancelToken()
            return job.token

    def report(self, job: Job, event: ProgressEvent) -> None:
        """Record a backend progress event of ``job`` (its message rendered in English)."""
        now = time.time()
        with self._lock:
            job.started = job.started or now
            job.last_event = now
            job.step, job.steps = event.step, event.total
            job.message = None if event.message is None else render(event.message, API_LANGUAGE)
            if event.preview is not None:
                job.preview = event.preview

    def _current(self) -> Job | None:
        running = [job for job in self._jobs if job.started is not None]
        if running:
            return max(running, key=lambda job: job.last_event)
        return self._jobs[0] if self._jobs else None

    def interrupt(self, job: Job) -> None:
        """Stop ``job`` within one step, and its later runs (its client went away)."""
        with self._lock:
            job.interrupted = True
            job.token.cancel()

    def stop(self, *, skip: bool) -> None:
        """Stop the current job (``skip``: only its current run, as A1111's ``/skip``)."""
        with self._lock:
            job = self._current()
            if job is None:
                return
            if skip:
                job.skipped = True
            else:
                job.interrupted = True
            job.token.cancel()

    def progress(self, *, with_image: bool) -> dict[str, Any]:
        """A1111's ``ProgressResponse`` for the current job (progress 0 when idle)."""
        with self._lock:
            job = self._current()
            if job is None:
                return {
                    "progress": 0.0,
                    "eta_relative": 0.0,
                    "state": dict(IDLE_STATE),
                    "current_image": None,
                    "textinfo": None,
                    "current_task": None,
                }
            state = {
                "skipped": job.skipped,
                "interrupted": job.interrupted,
                "stopping_generation": False,
                "job": "scripts_txt2img",
                "job_count": job.n_iter,
                "job_timestamp": job.timestamp,
                "job_no": job.job_no,
                "sampling_step": job.step,
                "sampling_steps": job.steps,
            }
            preview, started, message = job.preview, job.started, job.message
        # A1111's formula: 0.01 as soon as a job runs, then its share of runs and steps.
        progress = 0.0
        eta = 0.0
        if started is not None:
            progress = 0.01 + state["job_no"] / job.n_iter
            if state["sampling_steps"]:
                progress += state["sampling_step"] / state["sampling_steps"] / job.n_iter
            elapsed = time.time() - started
            eta = max(elapsed / progress - elapsed, 0.0)
            progress = min(progress, 1.0)
        image = b64_png(preview) if with_image and preview is not None else None
        return {
            "progress": progress,
            "eta_relative": eta,
            "state": state,
            "current_image": image,
            "textinfo": message,
            "current_task": None,
        }
