"""Ray Serve on the tiny model: images per minute with 1 and 2 replicas against the local
backend, and the latency one request adds going through Ray (part of ``make bench``).

Everything runs in one fresh process (:func:`measure_ray` starts it) holding a local backend
and a Ray backend on a local Ray instance, as ``huatu serve --backend ray`` deploys it:

- ``added_latency_ms``: the median time of one image through the Ray backend (one replica)
  minus the median of the same image on the local backend, calls interleaved — what the trip
  to a replica and back (request, streamed progress, PNG bytes) costs.
- ``images_per_minute``: :data:`CLIENTS` threads making the round's images between them
  through the service's fair slots, on the local backend and on 1 and 2 replicas (one CPU
  each), in interleaved rounds (the median round). On a small machine the replicas share
  its cores; on a cluster each has its own GPU or machine.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from huatu.bench.memory import run_child

PROMPT = "a lighthouse on a cliff at sunset"
#: The image: as ``make audit``'s load (8 steps at 128×128 on the tiny model).
STEPS, SIDE = 8, 128
#: Threads asking at once in the throughput runs.
CLIENTS = 4


def measure_ray(quick: bool = False, timeout_s: float = 900) -> dict[str, Any] | None:
    """Run :func:`measure_here` in a fresh process; ``None`` when Ray is not installed or
    the run failed (said on stderr)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return None
    return run_child(
        "huatu.bench.ray_serving",
        *(["--quick"] if quick else []),
        what="the Ray Serve benchmark",
        timeout_s=timeout_s,
    )


def measure_here(quick: bool = False) -> dict[str, Any]:
    """The measurements, in this process (see the module's docstring).

    Args:
        quick: 10 latency pairs and 1 round of 16 images per configuration, instead of 20
            pairs and 3 rounds of 24. Default ``False``.
    """
    import ray
    from ray import serve

    from huatu.backends.ray_serve import RayBackend
    from huatu.backends.selection import BackendChoice
    from huatu.config import RayOptions, load_settings
    from huatu.messages import Notice
    from huatu.service import ImageService

    pairs, rounds, images = (10, 1, 16) if quick else (20, 3, 24)
    with tempfile.TemporaryDirectory() as scratch:
        base = replace(load_settings(), dtype="float32", outputs_dir=Path(scratch))
        local = ImageService.start(base, model="tiny", backend="local")

        def on_ray(replicas: int) -> ImageService:
            options = RayOptions(min_replicas=replicas, max_replicas=replicas, timeout_s=300)
            settings = replace(base, backend="ray", ray=options)
            choice = BackendChoice("ray", "tiny", Notice("choice_flag", {"backend": "ray"}))
            service = ImageService(settings, choice, RayBackend("tiny", settings))
            _wait_replicas(service, replicas)
            return service

        try:
            one = on_ray(1)
            latency = _interleaved({"local": local, "ray": one}, pairs)
            throughput: dict[str, list[float]] = {"local": [], "ray_1": [], "ray_2": []}
            for _ in range(rounds):
                throughput["local"].append(_images_per_minute(local, images))
                throughput["ray_1"].append(_images_per_minute(on_ray(1), images))
                throughput["ray_2"].append(_images_per_minute(on_ray(2), images))
        finally:
            serve.shutdown()
            ray.shutdown()
    local_ms = statistics.median(latency["local"]) * 1000
    ray_ms = statistics.median(latency["ray"]) * 1000
    per_minute = {name: statistics.median(values) for name, values in throughput.items()}
    return {
        "model": "tiny",
        "steps": STEPS,
        "size": SIDE,
        "latency_pairs": pairs,
        "rounds": rounds,
        "images_per_round": images,
        "clients": CLIENTS,
        # as measured: the report rounds them when it shows them
        "local_ms": local_ms,
        "ray_ms": ray_ms,
        "added_latency_ms": ray_ms - local_ms,
        "images_per_minute": per_minute,
        "two_over_one_replica": per_minute["ray_2"] / per_minute["ray_1"],
    }


def _request(seed: int) -> Any:
    from huatu.request import GenerationRequest

    return GenerationRequest.create(
        prompt=PROMPT, num_inference_steps=STEPS, width=SIDE, height=SIDE, seed=seed
    )


def _interleaved(services: dict[str, Any], pairs: int, warmup: int = 2) -> dict[str, list]:
    """Seconds per image of each service, one call of each per round."""
    times: dict[str, list[float]] = {name: [] for name in services}
    for number in range(warmup + pairs):
        for name, service in services.items():
            started = time.perf_counter()
            service.generate(_request(number), save=False)
            if number >= warmup:
                times[name].append(time.perf_counter() - started)
    return times


def _images_per_minute(service: Any, images: int) -> float:
    """``images`` images made by :data:`CLIENTS` threads at once through ``service``."""
    seeds = iter(range(images))
    lock = threading.Lock()

    def client(number: int) -> None:
        while True:
            with lock:
                seed = next(seeds, None)
            if seed is None:
                return
            service.generate(_request(seed), save=False, client=f"bench {number}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return images / (time.perf_counter() - started) * 60


def _wait_replicas(service: Any, replicas: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while service.backend.replicas_up != replicas:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{replicas} replicas not up in {timeout_s:.0f} s")
        time.sleep(0.5)


if __name__ == "__main__":
    import sys

    print(json.dumps(measure_here(quick="--quick" in sys.argv[1:])))
