"""RunRegistry: the per-session cap, stop of running and queued runs, places given back."""

from __future__ import annotations

import threading

from huatu.runs import RunRegistry

#: A page-update interval no test run lasts (an hour): every step after the first falls
#: inside it, whatever the machine's speed.
NEVER_S = 3600.0


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


def _kinds_and_steps(service, request, **options):
    from huatu.backends.base import CancelToken
    from huatu.runs import stream_generation

    updates = list(stream_generation(service, request, cancel=CancelToken(), **options))
    return updates, [u.step for u in updates if u.kind == "step"]


def test_stream_starts_then_shows_every_step_when_there_is_time(tiny_service):
    from huatu.request import GenerationRequest

    request = GenerationRequest.create(prompt="a fox", num_inference_steps=6, width=64, height=64)
    updates, steps = _kinds_and_steps(tiny_service, request, min_interval_s=0.0)
    assert updates[0].kind == "started" and updates[-1].kind == "done"
    assert updates[-1].result.images[0].size == (64, 64)
    assert steps == sorted(steps) and steps[-1] == 6 and len(steps) >= 2


def test_stream_merges_steps_that_come_faster_than_the_page_can_show(tiny_service):
    from huatu.request import GenerationRequest

    request = GenerationRequest.create(prompt="a fox", num_inference_steps=30, width=64, height=64)
    updates, steps = _kinds_and_steps(tiny_service, request, min_interval_s=NEVER_S)
    # the first step is shown at once; the rest fall inside the interval and the run is over
    # before it ends, so they are dropped in favour of the result
    assert steps == [1]
    assert [u.kind for u in updates] == ["started", "step", "done"]


def test_a_stopped_stream_names_the_last_step_reached(tiny_service):
    from huatu.backends.base import CancelToken
    from huatu.request import GenerationRequest
    from huatu.runs import stream_generation

    request = GenerationRequest.create(prompt="a fox", num_inference_steps=80, width=64, height=64)
    cancel = CancelToken()
    updates = []
    for update in stream_generation(tiny_service, request, cancel=cancel, min_interval_s=NEVER_S):
        updates.append(update)
        if update.kind == "step":
            cancel.cancel()
    assert updates[-1].kind == "stopped"
    assert 1 <= updates[-1].step < 80 and updates[-1].total == 80
