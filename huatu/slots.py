"""Generation slots shared by every edge, handed out first come, first served.

A local pipeline runs one generation at a time whoever asks — the studio's queue, the HTTP
APIs, MCP. Waiters are served in arrival order, so a studio run is not starved by a stream of
API calls that happen to poll at the right moment.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from huatu.backends.base import CancelToken
from huatu.errors import GenerationCancelled

#: How often a waiter re-checks its cancel token, in seconds.
POLL_S = 0.1


class FairSlots:
    """``count`` places for generations, given in arrival order.

    Args:
        count: generations that may run at once (1 for a local pipeline).
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self._busy = 0
        self._line: deque[object] = deque()
        self._changed = threading.Condition()

    @property
    def waiting(self) -> int:
        """Waiters not yet given a place."""
        with self._changed:
            return len(self._line)

    def acquire(self, cancel: CancelToken | None = None, *, all_places: bool = False) -> None:
        """Wait for a place (or, with ``all_places``, for every place: nothing else runs).

        Raises:
            GenerationCancelled: ``cancel`` was set while waiting (the place is not taken).
        """
        ticket = object()
        with self._changed:
            self._line.append(ticket)
            try:
                while self._line[0] is not ticket or not self._free(all_places):
                    if cancel is not None and cancel.cancelled:
                        raise GenerationCancelled()
                    self._changed.wait(timeout=POLL_S)
                self._busy += self.count if all_places else 1
            finally:
                self._line.remove(ticket)
                self._changed.notify_all()

    def release(self, *, all_places: bool = False) -> None:
        """Give a place back (or every place, after ``acquire(all_places=True)``)."""
        with self._changed:
            self._busy = 0 if all_places else self._busy - 1
            self._changed.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold every place for the ``with`` block (e.g. to swap the model), waiting its turn
        and for running generations to end; :meth:`resize` may be called inside."""
        self.acquire(all_places=True)
        try:
            yield
        finally:
            self.release(all_places=True)

    def resize(self, count: int) -> None:
        """Change how many generations may run at once (inside :meth:`exclusive`)."""
        with self._changed:
            self.count = count

    def _free(self, all_places: bool) -> bool:
        return self._busy == 0 if all_places else self._busy < self.count
