"""What the app itself costs: per-request overhead over the bare pipeline, and start-up time.

Both use the built-in tiny model, so that the pipeline's own time is small and the app's
share shows:

- ``overhead_ms``: median time of a studio ``/generate`` call made through ``gradio_client``
  against a real server (validation, queue, streaming progress and previews, saving the PNG
  with its metadata and history row, sending it back) minus the median time of calling the
  same diffusers pipeline directly with the same settings; calls interleaved.
- ``gradio_call_without_model_ms``: a studio call that runs no model (``/translate`` of an
  English prompt) through the same client: the part of the overhead that any Gradio call
  made with ``gradio_client`` pays.
- ``first_request_s``: from launching ``huatu serve --model tiny`` as a new process to the
  first generated image received through ``gradio_client`` (tiny model already built in the
  cache, as on every start after the first).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROMPT = "a lighthouse on a cliff at sunset"
STEPS = 4
SIDE = 64


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_overhead(repeats: int = 20, warmup: int = 3) -> dict[str, Any]:
    """Median direct-pipeline and through-the-app times for one tiny-model image.

    Args:
        repeats: measured calls of each kind, interleaved. Default 20.
        warmup: unmeasured calls of each kind first. Default 3.
    """
    import torch
    from gradio_client import Client

    from huatu.config import Settings
    from huatu.server import ServerThread, build_app
    from huatu.service import ImageService

    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(os.environ.get("HUATU_CACHE", Path(scratch) / "cache")).expanduser()
        settings = Settings(model="tiny", cache_dir=cache, outputs_dir=Path(scratch) / "out")
        service = ImageService.start(settings, model="tiny", backend="local")
        pipe = service.backend.pipe
        port = _free_port()
        server = ServerThread(build_app(service, port=port), "127.0.0.1", port).start()
        try:
            client = Client(server.url, verbose=False)

            def direct() -> Any:
                return pipe(
                    PROMPT,
                    num_inference_steps=STEPS,
                    guidance_scale=7.0,
                    width=SIDE,
                    height=SIDE,
                    generator=torch.Generator("cpu").manual_seed(1),
                ).images[0]

            def via_app() -> Any:
                return client.predict(
                    prompt=PROMPT,
                    steps=STEPS,
                    width=SIDE,
                    height=SIDE,
                    seed=1,
                    api_name="/generate",
                )

            def gradio_floor() -> Any:  # a studio call that runs no model at all
                return client.predict(prompt=PROMPT, api_name="/translate")

            calls = {"direct": direct, "app": via_app, "floor": gradio_floor}
            times = _interleaved(calls, repeats, warmup)
        finally:
            server.stop()
    direct_ms = statistics.median(times["direct"]) * 1000
    app_ms = statistics.median(times["app"]) * 1000
    floor_ms = statistics.median(times["floor"]) * 1000
    return {
        "model": "tiny",
        "steps": STEPS,
        "size": SIDE,
        "repeats": repeats,
        # as measured: the report rounds them when it shows them
        "pipeline_direct_ms": direct_ms,
        "through_app_ms": app_ms,
        "overhead_ms": app_ms - direct_ms,
        "gradio_call_without_model_ms": floor_ms,
    }


def _interleaved(
    calls: dict[str, Callable[[], Any]], repeats: int, warmup: int
) -> dict[str, list[float]]:
    for _ in range(warmup):
        for call in calls.values():
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return times


def measure_first_request(timeout_s: float = 120.0) -> dict[str, Any]:
    """Seconds from starting ``huatu serve --model tiny`` to its first image.

    The tiny model is built in a scratch cache by an untimed first start (as after
    installation); the timed start then finds it there.

    Args:
        timeout_s: give up after this long. Default 120 s.
    """
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "HUATU_CACHE": os.environ.get("HUATU_CACHE", str(Path(scratch) / "cache")),
            "HUATU_OUTPUTS": str(Path(scratch) / "out"),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_OFFLINE": "1",
        }
        _first_image(env, timeout_s)  # builds the tiny model into the cache
        seconds = _first_image(env, timeout_s)
    return {"model": "tiny", "first_request_s": round(seconds, 2)}


def _first_image(env: dict[str, str], timeout_s: float) -> float:
    """Start a server, wait for its first image, stop it; return the seconds it took."""
    import httpx
    from gradio_client import Client

    port = _free_port()
    huatu = Path(sys.executable).with_name("huatu")
    command = [str(huatu), "serve", "--model", "tiny", "--backend", "local", "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"huatu serve exited with {process.returncode}")
            if time.perf_counter() - started > timeout_s:
                raise TimeoutError(f"huatu serve gave no image within {timeout_s:.0f} s")
            try:
                httpx.get(url + "/config", timeout=1.0).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        client = Client(url, verbose=False)
        client.predict(
            prompt=PROMPT, steps=STEPS, width=SIDE, height=SIDE, seed=1, api_name="/generate"
        )
        return time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def measure_app(repeats: int = 20) -> dict[str, Any]:
    """Both app measurements (see the module docstring)."""
    return {**measure_overhead(repeats), **measure_first_request()}


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(measure_app(), indent=2))
