"""FairSlots: places handed out in arrival order; stop while waiting; exclusive model swaps."""

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
