"""FairSlots: places in arrival order for one client and round robin across clients; the
waiters told how many are ahead; stop while waiting; exclusive model swaps."""

from __future__ import annotations

import threading

import pytest

from huatu.backends.base import CancelToken
from huatu.errors import GenerationCancelled
from huatu.slots import FairSlots
from tests.helpers import wait_until

#: How long a test waits for a thread it released (a guard against hanging).
JOIN_S = 60.0


def test_waiters_are_served_in_arrival_order():
    slots = FairSlots(1)
    slots.acquire()
    order: list[int] = []

    def wait(number: int) -> None:
        slots.acquire()
        order.append(number)
        slots.release()

    threads = []
    for number in range(6):
        thread = threading.Thread(target=wait, args=(number,))
        thread.start()
        threads.append(thread)
        wait_until(lambda number=number: slots.waiting == number + 1)  # arrived, in order
    slots.release()
    for thread in threads:
        thread.join(timeout=JOIN_S)
    assert order == [0, 1, 2, 3, 4, 5]


def test_a_stop_while_waiting_gives_up_the_turn_and_takes_no_place():
    slots = FairSlots(1)
    slots.acquire()
    cancel = CancelToken()
    failed: list[BaseException] = []

    def wait() -> None:
        try:
            slots.acquire(cancel)
        except GenerationCancelled as error:
            failed.append(error)

    thread = threading.Thread(target=wait)
    thread.start()
    wait_until(lambda: slots.waiting == 1)
    cancel.cancel()
    thread.join(timeout=JOIN_S)
    assert failed and slots.waiting == 0
    slots.release()
    slots.acquire()  # the place is free again: nobody took it
    slots.release()


def test_exclusive_waits_for_running_generations_and_may_resize():
    slots = FairSlots(2)
    slots.acquire()
    entered = threading.Event()

    def swap() -> None:
        with slots.exclusive():
            entered.set()
            slots.resize(1)

    thread = threading.Thread(target=swap)
    thread.start()
    wait_until(lambda: slots.waiting == 1)
    assert not entered.is_set()  # one generation still runs
    slots.release()
    thread.join(timeout=JOIN_S)
    assert entered.is_set() and slots.count == 1
    slots.acquire()
    with pytest.raises(GenerationCancelled):  # full: a stopped waiter gives up
        stopped = CancelToken()
        stopped.cancel()
        slots.acquire(stopped)
    slots.release()


def _line_up(slots: FairSlots, clients: list[str], granted: list[str]) -> list[threading.Thread]:
    """One waiting thread per entry of ``clients``, started in order (each seen waiting
    before the next starts); each appends its client to ``granted`` when given a place and
    gives it back at once."""
    threads = []

    def wait(client: str) -> None:
        slots.acquire(client=client)
        granted.append(client)
        slots.release(client=client)

    for count, client in enumerate(clients, start=1):
        thread = threading.Thread(target=wait, args=(client,))
        thread.start()
        threads.append(thread)
        wait_until(lambda count=count: slots.waiting == count)
    return threads


def test_places_go_round_robin_across_clients_not_in_arrival_order():
    """A client that fires four requests at once does not keep two later clients waiting
    behind all four: after its first, each of the others takes a turn. (First come, first
    served would give a, a, a, a, b, c.)"""
    slots = FairSlots(1)
    slots.acquire(client="blocker")
    granted: list[str] = []
    threads = _line_up(slots, ["a", "a", "a", "a", "b", "c"], granted)
    slots.release(client="blocker")
    for thread in threads:
        thread.join(timeout=JOIN_S)
    assert granted == ["a", "b", "c", "a", "a", "a"]


def test_a_client_holding_a_place_waits_behind_one_holding_none():
    """With two places, a client already running one waits behind a client running none,
    even one that came later."""
    slots = FairSlots(2)
    slots.acquire(client="a")
    slots.acquire(client="x")
    granted: list[str] = []
    threads = _line_up(slots, ["a", "b"], granted)
    slots.release(client="x")  # one place frees: b (holding none) gets it before a
    wait_until(lambda: len(granted) == 2)  # b gave its place back at once: a got it
    slots.release(client="a")
    for thread in threads:
        thread.join(timeout=JOIN_S)
    assert granted == ["b", "a"]


def test_a_waiter_is_told_how_many_are_ahead_as_the_line_moves():
    slots = FairSlots(1)
    slots.acquire(client="blocker")
    granted: list[str] = []
    threads = _line_up(slots, ["a", "b"], granted)
    told: list[int] = []
    last = threading.Thread(target=lambda: slots.acquire(client="c", on_wait=told.append))
    last.start()
    wait_until(lambda: told == [2])
    slots.release(client="blocker")
    for thread in threads:
        thread.join(timeout=JOIN_S)
    last.join(timeout=JOIN_S)
    assert told[0] == 2 and told == sorted(set(told), reverse=True)  # only ever fewer ahead
    assert granted == ["a", "b"]
    slots.release(client="c")


def test_a_model_swap_goes_before_every_client_and_clients_are_forgotten_when_idle():
    slots = FairSlots(1)
    slots.acquire(client="a")
    granted: list[str] = []
    threads = _line_up(slots, ["b"], granted)
    swapped = threading.Event()

    def swap() -> None:
        with slots.exclusive():
            swapped.set()
            assert granted == []  # b still waits: the swap went first

    swapper = threading.Thread(target=swap)
    swapper.start()
    wait_until(lambda: slots.waiting == 2)
    slots.release(client="a")
    swapper.join(timeout=JOIN_S)
    for thread in threads:
        thread.join(timeout=JOIN_S)
    assert swapped.is_set() and granted == ["b"]
    assert slots._holding == {} and slots._last_served == {}  # nothing kept about who left
