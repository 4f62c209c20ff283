"""A bound on HTTP API generations waiting or running at once.

The studio has Gradio's queue; the HTTP APIs wait on the service's generation slot instead,
and this gate refuses a request (``QueueFullError``) once ``limit`` are already in, so a flood
of API calls gets a quick "busy" answer rather than piling up threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from huatu.errors import QueueFullError

#: API generations that may wait or run at once, all APIs together.
DEFAULT_LIMIT = 16


class ApiGate:
    """Counts API generations in flight and refuses the one over ``limit``.

    Args:
        limit: the most API generations waiting or running at once. Default 16.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._inside = 0
        self._lock = threading.Lock()

    @property
    def inside(self) -> int:
        """API generations waiting or running now."""
        with self._lock:
            return self._inside

    @contextmanager
    def enter(self) -> Iterator[None]:
        """Hold a place for one generation for the ``with`` block.

        Raises:
            QueueFullError: ``limit`` generations are already in.
        """
        with self._lock:
            if self._inside >= self.limit:
                raise QueueFullError(self._inside)
            self._inside += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
