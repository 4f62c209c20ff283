"""Faults on live servers: a failing or out-of-memory pipeline, a client that goes away, a
failing hosted service, a full disk, and ``kill -9`` while saving.

Each fault must fail only the request it hit, with a clear sentence in the edge's own shape
(no traceback), give the generation slot back, and leave the server serving: the next
request succeeds. Local faults are injected into a dedicated tiny pipeline (its UNet's
``forward`` is wrapped), never the session's shared ``tiny_service``.

Nothing here depends on the machine's speed: a client that leaves is measured in the steps
the run makes after it left (each step slowed to :data:`SLOW_STEP_S`), not in seconds.
``make test`` kills a saving server once and restarts on its outputs in process;
``HUATU_AUDIT=1`` (``make audit``) adds five kills, each followed by a real ``huatu serve``.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from huatu.history import DB_NAME, HistoryStore, files
from huatu.messages import message
from huatu.service import ImageService
from tests.helpers import (
    HuatuProcess,
    free_port,
    huatu_command,
    huatu_env,
    launch_huatu,
    serve_tiny,
    serving_app,
    wait_until,
)
from tests.standin_hf import (
    StandInHF,
    garbage,
    gone,
    hang,
    loading,
    not_found,
    rate_limited,
    reset_mid_body,
    unauthorized,
)
from tests.test_history import assert_consistent, files_left

AUDIT = os.environ.get("HUATU_AUDIT") == "1"
SMALL = {"prompt": "a dog", "steps": 2, "width": 64, "height": 64}
A1111_SMALL = {"prompt": "a dog", "steps": 2, "width": 64, "height": 64}
OPENAI_SMALL = {"prompt": "a dog", "size": "64x64", "steps": 2}
#: Each UNet call sleeps this long while a test makes a client leave mid-run: twice the
#: 0.25 s in which the server notices a client that left, so that the run's stop is counted
#: in steps, with room for a busy machine's scheduling delays.
SLOW_STEP_S = 0.5
#: A run whose client left stops within this many UNet calls (1 or 2 are needed at
#: :data:`SLOW_STEP_S`); it had about 95 steps left.
STOPS_WITHIN = 15


class FaultyUNet:
    """Wraps a pipeline UNet's ``forward``: counts calls, can sleep in each, and can raise
    an exception on a later call."""

    def __init__(self, unet) -> None:
        self.unet = unet
        self.original = unet.forward
        self.calls = 0
        self.delay_s = 0.0
        self.fail_on: int | None = None  # raise on this call number (counted from now)
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        unet.forward = self

    def __call__(self, *args, **kwargs):
        with self._lock:
            self.calls += 1
            calls = self.calls
        if self.fail_on is not None and calls >= self.fail_on and self.error is not None:
            error, self.fail_on = self.error, None
            raise error
        if self.delay_s:
            time.sleep(self.delay_s)
        return self.original(*args, **kwargs)

    def fail(self, error: BaseException, after: int = 1) -> None:
        """Raise ``error`` on the ``after``-th call from now (then work again)."""
        self.error, self.fail_on = error, self.calls + after

    def restore(self) -> None:
        self.unet.forward = self.original


@pytest.fixture(scope="module")
def faulty(base_settings, tmp_path_factory) -> Iterator[tuple[ImageService, FaultyUNet]]:
    """A tiny service of its own whose UNet can be made to fail or go slowly."""
    settings = replace(base_settings, outputs_dir=tmp_path_factory.mktemp("faulty-outputs"))
    service = ImageService.start(settings, model="tiny", backend="local")
    assert service.backend is not None, service.load_error
    unet = FaultyUNet(service.backend.pipe.unet)
    try:
        yield service, unet
    finally:
        unet.restore()


def slot_is_free(service: ImageService, wait_s: float = 5.0) -> bool:
    """Whether the service's generation slot can be had within ``wait_s``."""
    import threading

    from huatu.backends.base import CancelToken
    from huatu.errors import GenerationCancelled

    give_up = CancelToken()
    timer = threading.Timer(wait_s, give_up.cancel)
    timer.start()
    try:
        service._slots.acquire(give_up)
    except GenerationCancelled:
        return False
    finally:
        timer.cancel()
    service._slots.release()
    return True


def torch_oom() -> BaseException:
    import torch

    return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


# --------------------------------------------------------------------------------------------
# A failure inside the local pipeline


def test_a_pipeline_failure_fails_only_that_request_on_every_edge(faulty) -> None:
    service, unet = faulty
    with serving_app(service) as url:
        client = Client(url, verbose=False)
        http = httpx.Client(base_url=url, timeout=120)
        for make_error, oom in ((torch_oom, True), (lambda: RuntimeError("boom"), False)):
            # the studio: a sentence, no traceback
            unet.fail(make_error(), after=2)
            with pytest.raises(AppError) as caught:
                client.predict(**SMALL, api_name="/generate")
            text = str(caught.value)
            assert "Traceback" not in text
            if oom:
                assert "ran out of memory" in text and "smaller size" in text, text
            else:
                assert "internal error" in text, text
            assert slot_is_free(service)
            assert client.predict(**SMALL, api_name="/generate")[2]  # served again

            # AUTOMATIC1111: its error shape, 503 for memory (a server condition), else 500
            unet.fail(make_error(), after=2)
            answer = http.post("/sdapi/v1/txt2img", json=A1111_SMALL)
            body = answer.json()
            assert answer.status_code == (503 if oom else 500), answer.text
            assert set(body) == {"error", "detail", "body", "errors"}
            assert "Traceback" not in answer.text
            if oom:
                assert "ran out of memory" in body["detail"]
            assert slot_is_free(service)
            assert http.post("/sdapi/v1/txt2img", json=A1111_SMALL).status_code == 200

            # OpenAI: its error shape
            unet.fail(make_error(), after=2)
            answer = http.post("/v1/images/generations", json=OPENAI_SMALL)
            error = answer.json()["error"]
            assert error["type"] == "server_error" and "Traceback" not in answer.text
            if oom:
                assert answer.status_code == 503 and error["code"] == "out_of_memory"
                assert "ran out of memory" in error["message"]
            else:
                assert answer.status_code == 500
            assert slot_is_free(service)
            assert http.post("/v1/images/generations", json=OPENAI_SMALL).status_code == 200
    # nothing half-made was saved: every file has its row
    assert_consistent(service.settings.outputs_dir)


# --------------------------------------------------------------------------------------------
# A client that goes away mid-run


def test_a_studio_client_that_goes_away_frees_the_worker_within_a_step(faulty) -> None:
    service, unet = faulty
    unet.delay_s = SLOW_STEP_S
    try:
        with serving_app(service) as url:
            leaving = Client(url, verbose=False)
            job = leaving.submit(**{**SMALL, "steps": 100}, api_name="/generate")
            wait_until(
                lambda: any("Step" in str(out[0]) for out in job.outputs()),
                what="the long run to start",
            )
            job.cancel()
            cancelled_at = unet.calls
            leaving.close()
            other = Client(url, verbose=False)
            result = other.predict(**SMALL, api_name="/generate")
            other.close()
            assert result[2], result
            # the abandoned run stopped within a few steps (it had ~95 left) and did not hold
            # the worker: every call since the cancel, the next run's 2 included, fits in a few
            assert unet.calls - cancelled_at < STOPS_WITHIN, unet.calls - cancelled_at
            assert slot_is_free(service)
    finally:
        unet.delay_s = 0.0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sdapi/v1/txt2img", {**A1111_SMALL, "steps": 100}),
        ("/v1/images/generations", {**OPENAI_SMALL, "steps": 100}),
    ],
)
def test_an_api_client_that_goes_away_frees_the_worker(faulty, path, body) -> None:
    service, unet = faulty
    unet.delay_s = SLOW_STEP_S
    try:
        with serving_app(service) as url:
            before = unet.calls
            gone_at = leave_mid_run(url, path, body, unet)
            assert gone_at > before  # it was running when the client left
            wait_until(lambda: slot_is_free(service), timeout_s=120, what="the run to end")
            # stopped within a few steps, not the ~95 left
            assert unet.calls - gone_at < STOPS_WITHIN, unet.calls - gone_at
    finally:
        unet.delay_s = 0.0


def leave_mid_run(url: str, path: str, body: dict, unet: FaultyUNet) -> int:
    """POST ``body`` to ``path`` on a connection of its own and close that connection as
    soon as the run has called ``unet``; return the UNet's call count then.

    A client that goes away without waiting for a timeout of its own, whatever the speed of
    the machine.
    """
    port = int(url.rsplit(":", 1)[1])
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    before = unet.calls
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(head.encode() + payload)
        wait_until(lambda: unet.calls > before, what="the run to start")
        return unet.calls


# --------------------------------------------------------------------------------------------
# A failing hosted service, through the app


HOSTED_KEY = "hf_test_faults_0000"
HOSTED_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
#: (name, behaviour, words the studio's message must hold)
#: The hosted deadline of this test (``hosted_timeout_s``), and the waits its faults ask for:
#: a service that hangs, or asks to come back after, far longer. Giving up is a matter of the
#: deadline; :data:`GAVE_UP_WITHIN_S` is far above it and far below the waits asked for.
HOSTED_DEADLINE_S = 2.0
ASKED_WAIT_S = 600.0
GAVE_UP_WITHIN_S = 120.0
HOSTED_FAULTS = [
    ("401", unauthorized, "rejected the API key"),
    ("404", not_found, "not served"),
    ("410", gone, "not served"),
    ("429", lambda: rate_limited(str(int(ASKED_WAIT_S))), ""),
    ("503", lambda: loading(ASKED_WAIT_S), ""),
    ("hang", lambda: hang(ASKED_WAIT_S), ""),
    ("garbage", garbage, ""),
    ("reset", reset_mid_body, ""),
]


@pytest.mark.usefixtures("hub_reaches_stand_in")
def test_hosted_failures_through_the_app_leave_it_serving(settings) -> None:
    from huatu.ui.handlers import MAX_PER_SESSION

    internal_error = message("internal_error")
    with StandInHF() as stand_in:
        hosted = replace(
            settings,
            hf_api_key=HOSTED_KEY,
            hf_router=stand_in.url,
            hosted_timeout_s=HOSTED_DEADLINE_S,
        )
        service = ImageService.start(hosted, model=HOSTED_MODEL, backend="hosted")
        assert service.backend is not None, service.load_error
        with serving_app(service) as url:
            client = Client(url, verbose=False)  # one session for every failure
            messages = {}
            for name, behaviour, words in HOSTED_FAULTS:
                stand_in.enqueue(behaviour())
                started = time.monotonic()
                with pytest.raises(AppError) as caught:
                    client.predict(**SMALL, api_name="/generate")
                text = str(caught.value)
                messages[name] = text
                assert time.monotonic() - started < GAVE_UP_WITHIN_S, name
                assert words in text, (name, text)
                assert "Traceback" not in text and internal_error not in text, (name, text)
                assert HOSTED_KEY not in text
                stand_in.clear()
            assert len(HOSTED_FAULTS) > MAX_PER_SESSION  # the cap was not eaten by failures
            result = client.predict(**SMALL, api_name="/generate")
            assert result[2], result
            assert slot_is_free(service)
            # the HTTP APIs too: the service's failure in their shape, then a good answer
            stand_in.enqueue(garbage())
            answer = httpx.post(url + "/v1/images/generations", json=OPENAI_SMALL, timeout=30)
            assert answer.status_code == 502 and answer.json()["error"]["code"] == "upstream_error"
            stand_in.enqueue(hang(ASKED_WAIT_S))
            answer = httpx.post(
                url + "/sdapi/v1/txt2img", json=A1111_SMALL, timeout=GAVE_UP_WITHIN_S
            )
            assert answer.status_code == 504, answer.text
            assert httpx.post(url + "/sdapi/v1/txt2img", json=A1111_SMALL, timeout=30).is_success

        # nothing listens on the router's port: connection refused
        refused = replace(hosted, hf_router=f"http://127.0.0.1:{free_port()}")
        service = ImageService.start(refused, model=HOSTED_MODEL, backend="hosted")
        with serving_app(service) as url:
            client = Client(url, verbose=False)
            for _ in range(MAX_PER_SESSION + 1):
                with pytest.raises(AppError) as caught:
                    client.predict(**SMALL, api_name="/generate")
                assert "Traceback" not in str(caught.value)
                assert internal_error not in str(caught.value), str(caught.value)
            assert slot_is_free(service)
            answer = httpx.post(url + "/v1/images/generations", json=OPENAI_SMALL, timeout=30)
            assert answer.status_code in (502, 504), answer.text


# --------------------------------------------------------------------------------------------
# Storage


def test_a_full_disk_fails_the_request_clearly_and_leaves_nothing_behind(faulty, monkeypatch):
    service, _ = faulty
    outputs = service.settings.outputs_dir
    real_write = files.write_fully

    def disk_full(descriptor: int, data: bytes) -> None:
        os.write(descriptor, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    with serving_app(service) as url:
        http = httpx.Client(base_url=url, timeout=120)
        client = Client(url, verbose=False)
        with HistoryStore(outputs) as store:
            before = store.count()
        files_before = files_left(outputs)
        monkeypatch.setattr(files, "write_fully", disk_full)
        answer = http.post("/sdapi/v1/txt2img", json=A1111_SMALL)
        assert answer.status_code == 500 and "disk is full" in answer.json()["detail"]
        answer = http.post("/v1/images/generations", json=OPENAI_SMALL)
        assert answer.status_code == 500, answer.text
        assert "disk is full" in answer.json()["error"]["message"]
        with pytest.raises(AppError, match="disk is full"):
            client.predict(**SMALL, api_name="/generate")
        # no half row, no orphan file
        assert files_left(outputs) == files_before
        with HistoryStore(outputs) as store:
            assert store.count() == before
        assert_consistent(outputs)
        monkeypatch.setattr(files, "write_fully", real_write)
        assert http.post("/v1/images/generations", json=OPENAI_SMALL).status_code == 200
        assert slot_is_free(service)


def _integrity(outputs: Path) -> str:
    with sqlite3.connect(outputs / DB_NAME) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def kill_while_saving(server: HuatuProcess, rng: random.Random) -> list[int]:
    """Flood ``server`` with 4-image OpenAI requests from one client and ``kill -9`` it a
    random 0-0.3 s after two were answered (so that each kill lands at another point of a
    save); return the answers' status codes."""
    answers: list[int] = []
    stop = threading.Event()

    def flood() -> None:
        body = {"prompt": "kill me", "size": "64x64", "steps": 1, "n": 4}
        while not stop.is_set():
            try:
                answer = httpx.post(f"{server.url}/v1/images/generations", json=body, timeout=60)
                answers.append(answer.status_code)
            except httpx.HTTPError:
                return

    worker = threading.Thread(target=flood, daemon=True)
    worker.start()
    wait_until(lambda: len(answers) >= 2 or not worker.is_alive(), what="two answers")
    assert len(answers) >= 2, answers
    time.sleep(rng.uniform(0.0, 0.3))  # where the kill lands; no outcome depends on it
    server.kill()
    stop.set()
    worker.join(timeout=60)
    assert set(answers) == {200}, answers
    return answers


def check_recovered(outputs: Path, saved_before: int, answers: list[int]) -> int:
    """After a restart on ``outputs``: the database is whole, every file has its row and
    every row its file, no temporary file is left, and every answered image is there.
    Returns the number of saved images."""
    assert _integrity(outputs) == "ok"
    entries = assert_consistent(outputs)
    assert len(entries) >= saved_before + 4 * len(answers)
    assert not list(outputs.rglob("*.part"))
    return len(entries)


@pytest.fixture(scope="module", autouse=True)
def saving_server(
    cache_dir: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HuatuProcess]:
    """The ``huatu serve`` that :func:`test_kill_9_while_saving_then_restart_on_the_same_outputs`
    kills, launched when this module starts so that its start-up overlaps the tests before."""
    folder = tmp_path_factory.mktemp("kill-9")
    env = huatu_env(cache_dir, folder / "outputs")
    port = free_port()
    args = ("serve", "--model", "tiny", "--backend", "local", "--port", str(port))
    log_path = folder / "server.log"
    with launch_huatu(huatu_command(*args), env, port=port, log_path=log_path) as server:
        yield server


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_while_saving_then_restart_on_the_same_outputs(saving_server, base_settings) -> None:
    """One ``kill -9`` of a ``huatu serve`` that is saving, then a start on the same outputs
    folder, in process (the start-up the CLI runs: :meth:`ImageService.start`, which repairs
    what was cut, and the app): it serves and saves again."""
    outputs = saving_server.log_path.parent / "outputs"
    answers = kill_while_saving(saving_server.wait_ready(), random.Random(6))
    restarted = replace(base_settings, outputs_dir=outputs)
    service = ImageService.start(restarted, model="tiny", backend="local")
    assert service.backend is not None, service.load_error
    saved = check_recovered(outputs, 0, answers)
    with serving_app(service) as url:
        answer = httpx.post(url + "/v1/images/generations", json=OPENAI_SMALL, timeout=120)
        assert answer.status_code == 200, answer.text
    assert _integrity(outputs) == "ok"
    assert len(assert_consistent(outputs)) == saved + 1


@pytest.mark.skipif(not AUDIT, reason="make audit (HUATU_AUDIT=1): five kills, real restarts")
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_again_and_again_with_real_restarts(cli_env, tmp_path) -> None:
    """Five rounds of ``kill -9`` while saving, each followed by a real ``huatu serve`` on the
    same outputs folder, which starts cleanly and repairs what was cut."""
    outputs = Path(cli_env["HUATU_OUTPUTS"])
    rng = random.Random(6)
    saved = 0
    server = serve_tiny(cli_env, tmp_path / "server-0.log")
    try:
        for round_ in range(1, 6):
            answers = kill_while_saving(server, rng)
            server = serve_tiny(cli_env, tmp_path / f"server-{round_}.log")
            saved = check_recovered(outputs, saved, answers)
        answer = httpx.post(f"{server.url}/v1/images/generations", json=OPENAI_SMALL, timeout=120)
        assert answer.status_code == 200
    finally:
        server.kill()
    assert _integrity(outputs) == "ok"
    assert_consistent(outputs)
