"""A model being fetched into the models folder, and how far it has come: bytes on disk,
speed and time left, measured from the files themselves (what huggingface_hub has written,
finished files and the ``.incomplete`` ones it resumes), so any edge can show it while the
download runs in another thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from huatu.messages import Notice
from huatu.models.folders import size_text

if TYPE_CHECKING:
    from huatu.config import Settings
    from huatu.models.download import PullPlan

#: Seconds of samples the speed is averaged over.
SPEED_WINDOW_S = 10.0
#: Where huggingface_hub keeps the partial files of a download into a folder.
PARTIAL_FILES = Path(".cache", "huggingface", "download")


@dataclass(frozen=True)
class DownloadProgress:
    """A model download at one moment.

    Attributes:
        model: the Hub id. done: bytes on disk. total: bytes in all (0: not known yet).
        speed: bytes per second over the last :data:`SPEED_WINDOW_S` (``None``: not yet).
    """

    model: str
    done: int
    total: int
    speed: float | None

    @property
    def fraction(self) -> float:
        """How much is on disk, from 0 to 1 (0 while the total is not known)."""
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current speed, once there is one."""
        if not self.speed or not self.total:
            return None
        return max(0.0, (self.total - self.done) / self.speed)

    def notice(self) -> Notice:
        """``Downloading X: 1.2 GB of 4.0 GB · 12 MB/s · about 3 min left`` (or that the
        download is being prepared), for the person's language."""
        if not self.total:
            return Notice("download_preparing", {"model": self.model})
        fields = {
            "model": self.model,
            "done": size_text(self.done),
            "total": size_text(self.total),
            "percent": int(100 * self.fraction),
        }
        if self.speed is None or self.eta_s is None:
            return Notice("download_progress_no_speed", fields)
        eta = max(1, round(self.eta_s))
        left = (
            Notice("eta_minutes", {"minutes": round(eta / 60)})
            if eta >= 90
            else Notice("eta_seconds", {"seconds": eta})
        )
        speed = f"{size_text(round(self.speed))}/s"
        return Notice("download_progress", {**fields, "speed": speed, "left": left})


class ModelFetch:
    """Fetch one Hub model into the models folder (:func:`huatu.models.download.pull`'s
    work), measurable from any thread with :meth:`progress` while :meth:`run` goes on.

    Args:
        model_id: the Hub id. settings: the models folder, endpoint and token.
        clock: the time source for the speed (tests may pass their own). Default
            :func:`time.monotonic`.
    """

    def __init__(
        self, model_id: str, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.model_id = model_id
        self.settings = settings
        self._clock = clock
        self._plan: PullPlan | None = None
        self._samples: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def run(self) -> Path:
        """Plan and fetch; return the model's folder.

        Raises:
            ModelLoadError: the Hub does not have it, or the download failed.
        """
        from huatu.models.download import fetch, plan_pull

        plan = plan_pull(self.model_id, self.settings)
        with self._lock:
            self._plan = plan
        return fetch(plan, self.settings)

    def progress(self) -> DownloadProgress:
        """How far the download has come now."""
        with self._lock:
            plan = self._plan
            if plan is None:
                return DownloadProgress(self.model_id, 0, 0, None)
            done = min(bytes_on_disk(plan), plan.total) if plan.total else bytes_on_disk(plan)
            now = self._clock()
            self._samples.append((now, done))
            while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW_S:
                self._samples.popleft()
            first_time, first_done = self._samples[0]
            speed = (done - first_done) / (now - first_time) if now > first_time else None
        return DownloadProgress(self.model_id, done, plan.total, speed)


def bytes_on_disk(plan: PullPlan) -> int:
    """The bytes of ``plan``'s files written so far: the finished files and the partial ones
    huggingface_hub is writing (and would resume)."""
    finished = 0
    for name in plan.files:
        try:
            finished += (plan.folder / name).stat().st_size
        except OSError:  # not there yet
            continue
    partial = 0
    for path in (plan.folder / PARTIAL_FILES).rglob("*.incomplete"):
        try:
            partial += path.stat().st_size
        except OSError:  # finished (moved) while we looked
            continue
    return finished + partial
