"""RunRegistry: the per-session cap, stop of running and queued runs, places given back."""

from __future__ import annotations

import threading

from huatu.runs import RunRegistry


def test_admission_is_capped_per_session_even_when_requests_race():
    runs = RunRegistry()
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        results.append(runs.admit("s1", 2, actual=0))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 6 + [True] * 2
    assert runs.admit("s2", 2)  # other sessions are not affected


def test_finishing_gives_the_place_back_and_stop_reaches_queued_runs():
    runs = RunRegistry()
    assert runs.admit("s", 2) and runs.admit("s", 2) and not runs.admit("s", 2)
    first = runs.start("s")
    assert runs.running("s") == 1 and not first.cancelled
    assert runs.stop("s", queued=1)
    assert first.cancelled
    second = runs.start("s")  # it was waiting when Stop was pressed
    assert second.cancelled
    runs.finish("s", first)
    runs.finish("s", second)
    assert runs.running("s") == 0
    assert runs.admit("s", 2)
    assert not runs.start("s").cancelled  # the stop does not linger


def test_a_vanished_queued_run_is_forgotten_once_the_queue_settles(monkeypatch):
    import huatu.runs

    runs = RunRegistry()
    assert runs.admit("s", 1) and not runs.admit("s", 1, actual=0)
    monkeypatch.setattr(huatu.runs, "SETTLE_S", 0.0)
    assert runs.admit("s", 1, actual=0)  # the queue shows none: the place was repaired
