"""Generation slots shared by every edge, handed out fairly across clients.

A local pipeline runs one generation at a time whoever asks (N Ray replicas run N) — the
studio, the HTTP APIs, MCP. This is the one place where waiting generations are put in
order. When a place frees, it goes to the waiter whose *client* (a studio session, an API
connection: see :mod:`huatu.clients`) holds the fewest places now, then whose client was
served longest ago, then who came first: round robin across clients. So a person at the
page waits about as long as a script that polls, and a client that fires many requests at
once takes its turn like everyone else instead of ahead of them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from huatu.backends.base import CancelToken, ProgressCallback, ProgressEvent
from huatu.errors import GenerationCancelled
from huatu.messages import Notice

#: How often a waiter re-checks its cancel token, in seconds.
POLL_S = 0.1
#: The client of a caller that does not say who it is (the CLI, a lesson app, a test).
ANONYMOUS = ""
#: Studio runs that Gradio's queue lets through to the slots at once (as many as the HTTP
#: APIs' gate lets in): they wait here, in turn with every other client, seeing how many are
#: ahead; beyond that they wait in Gradio's queue, which shows their place in it.
STUDIO_IN_LINE = 16


@dataclass(eq=False)
class _Waiter:
    client: str
    arrival: int
    all_places: bool = False
    ahead: int = field(default=-1)  # last count told to the waiter's ``on_wait``


class FairSlots:
    """``count`` places for generations, handed out round robin across clients.

    Args:
        count: generations that may run at once (1 for a local pipeline, the replicas for
            a Ray backend).
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self._busy = 0
        self._line: list[_Waiter] = []
        self._holding: dict[str, int] = {}  # places each client holds now
        self._last_served: dict[str, int] = {}  # grant number of each client's last place
        self._granted = 0  # places handed out so far
        self._arrivals = itertools.count()
        self._changed = threading.Condition()

    @property
    def waiting(self) -> int:
        """Waiters not yet given a place."""
        with self._changed:
            return len(self._line)

    def acquire(
        self,
        cancel: CancelToken | None = None,
        *,
        client: str = ANONYMOUS,
        all_places: bool = False,
        on_wait: Callable[[int], None] | None = None,
    ) -> None:
        """Wait for a place (or, with ``all_places``, for every place: nothing else runs).

        Args:
            cancel: a stop while waiting ends the wait. Default none.
            client: who asks (:mod:`huatu.clients`); places go round robin across clients.
                Default: the anonymous client.
            all_places: wait for every place (a model swap); such a waiter goes first and
                nobody starts while it waits. Default ``False``.
            on_wait: told how many waiters are ahead, whenever that number changes while
                waiting (called with this object's lock held: keep it quick). Default none.

        Raises:
            GenerationCancelled: ``cancel`` was set while waiting (the place is not taken).
        """
        waiter = _Waiter(client, next(self._arrivals), all_places)
        granted = False
        with self._changed:
            self._line.append(waiter)
            # A client new to the line counts as served just now: it goes behind the clients
            # already waiting and ahead of any served after it came.
            if not all_places:
                self._last_served.setdefault(client, self._granted)
            try:
                while True:
                    mine = self._turn(waiter)
                    ahead = sum(self._turn(other) < mine for other in self._line)
                    if ahead == 0 and self._free(all_places):
                        break
                    if cancel is not None and cancel.cancelled:
                        raise GenerationCancelled()
                    if on_wait is not None and ahead != waiter.ahead:
                        waiter.ahead = ahead
                        on_wait(ahead)
                    self._changed.wait(timeout=POLL_S)
                self._busy += self.count if all_places else 1
                if not all_places:
                    self._granted += 1
                    self._holding[client] = self._holding.get(client, 0) + 1
                    self._last_served[client] = self._granted
                granted = True
            finally:
                self._line.remove(waiter)
                if not granted and not all_places:
                    self._forget_if_idle(client)
                self._changed.notify_all()

    def release(self, *, client: str = ANONYMOUS, all_places: bool = False) -> None:
        """Give back the place ``client`` took (or every place, after
        ``acquire(all_places=True)``)."""
        with self._changed:
            if all_places:
                self._busy = 0
            else:
                self._busy -= 1
                self._holding[client] = self._holding.get(client, 0) - 1
                self._forget_if_idle(client)
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

    def _forget_if_idle(self, client: str) -> None:
        """Drop what is kept about ``client`` once it holds no place and waits for none
        (clients come and go: API connections are many)."""
        if self._holding.get(client, 0) <= 0:
            self._holding.pop(client, None)
            if not any(waiter.client == client for waiter in self._line):
                self._last_served.pop(client, None)

    def _turn(self, waiter: _Waiter) -> tuple[int, int, int, int]:
        """The order of waiters: a model swap first; then the client holding the fewest
        places, the one served longest ago, the earliest arrival."""
        return (
            0 if waiter.all_places else 1,
            self._holding.get(waiter.client, 0),
            self._last_served.get(waiter.client, 0),
            waiter.arrival,
        )

    def _free(self, all_places: bool) -> bool:
        return self._busy == 0 if all_places else self._busy < self.count


def turn_reporter(progress: ProgressCallback | None) -> Callable[[int], None] | None:
    """An ``on_wait`` for :meth:`FairSlots.acquire` that tells ``progress`` (a run's
    progress callback; none: nothing to tell) how many wait ahead, as a waiting event whose
    message every edge renders in its own words ("2 ahead of you")."""
    if progress is None:
        return None
    return lambda ahead: progress(
        ProgressEvent(0, 0, message=Notice("waiting_turn", {"ahead": ahead}))
    )
