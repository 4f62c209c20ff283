"""Batching of compatible queued requests (on by default on CUDA), run here on the CPU with
``batch_images`` set: the real tiny pipeline, requests through the real service in threads."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from huatu.backends.base import BackendOutput, CancelToken
from huatu.backends.batching import CUDA_BATCH_IMAGES, Batcher, Job, batch_images_for
from huatu.config import load_settings
from huatu.device import DevicePlan
from huatu.errors import GenerationCancelled, SettingsError
from huatu.messages import Notice, render
from huatu.metadata import parse_parameters
from huatu.request import GenerationRequest
from huatu.service import ImageService

FAST = {"num_inference_steps": 3, "width": 128, "height": 128}
#: Largest difference of a pixel channel between an image made in a batch and alone: the
#: batch's larger matrices may round differently in the last float bit, nothing more.
ROUNDING = 2


def request(prompt: str = "a dog in a park", **fields) -> GenerationRequest:
    return GenerationRequest.create(**{"prompt": prompt, **FAST, **fields}).validate()


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.fixture(scope="module")
def batching(base_settings, tmp_path_factory) -> ImageService:
    """The tiny model with batches of up to 4 images (off by default on a CPU)."""
    settings = replace(
        base_settings, batch_images=4, outputs_dir=tmp_path_factory.mktemp("batching")
    )
    service = ImageService.start(settings, model="tiny", backend="local")
    assert service.backend is not None, service.load_error
    return service


class UnetCalls:
    """The batch size of every UNet call while recording."""

    def __init__(self, unet) -> None:
        self.sizes: list[int] = []
        self.recording = False
        self._handle = unet.register_forward_pre_hook(self._seen)

    def _seen(self, module, args) -> None:
        if self.recording:
            self.sizes.append(int(args[0].shape[0]))

    def close(self) -> None:
        self._handle.remove()


class Run:
    """``service.generate`` in a thread, with its own stop and its steps seen."""

    def __init__(self, service: ImageService, req: GenerationRequest, hold_at: int = 0) -> None:
        self.cancel = CancelToken()
        self.steps: list[int] = []
        self.result = None
        self.error: BaseException | None = None
        self.held = threading.Event()
        self.go_on = threading.Event()
        self.hold_at = hold_at
        self.stop_at = 0
        self._thread = threading.Thread(target=self._work, args=(service, req), daemon=True)
        self._thread.start()

    def _progress(self, event) -> None:
        if not event.total:
            return
        self.steps.append(event.step)
        if event.step == self.stop_at:
            self.cancel.cancel()
        if event.step == self.hold_at:
            self.held.set()
            assert self.go_on.wait(60)

    def _work(self, service: ImageService, req: GenerationRequest) -> None:
        try:
            self.result = service.generate(req, progress=self._progress, cancel=self.cancel)
        except BaseException as error:  # re-raised in the test
            self.error = error

    def join(self) -> None:
        self._thread.join(120)
        assert not self._thread.is_alive()


def _queued_behind_a_held_run(
    service: ImageService, *requests: GenerationRequest, first_stops_at: int = 0
):
    """A first run held after its first step; then ``requests`` queued behind it (each a
    :class:`Run`; the first of them asks to stop at step ``first_stops_at``, 0: never), and
    the UNet's calls recorded from the release on."""
    first = Run(service, request(seed=1), hold_at=1)
    assert first.held.wait(60)
    queued = [Run(service, req) for req in requests]
    queued[0].stop_at = first_stops_at
    batcher = service.backend.batcher
    for _ in range(600):
        if batcher.waiting == len(requests):
            break
        threading.Event().wait(0.05)
    assert batcher.waiting == len(requests)
    calls = UnetCalls(service.backend.pipe.unet)
    calls.recording = True
    first.go_on.set()
    for each in (first, *queued):
        each.join()
    calls.close()
    return first, queued, calls.sizes


def test_requests_waiting_together_run_as_one_batch_and_each_image_as_alone(batching, tiny_service):
    fox, castle = request("a red fox", seed=7), request("a castle on a hill", seed=20, num_images=2)
    first, (fox_run, castle_run), sizes = _queued_behind_a_held_run(batching, fox, castle)
    # the held run's last two steps (CFG: 2 rows), then one call for 3 images (6 rows) a step
    assert sizes == [2, 2, 6, 6, 6]
    assert first.error is None and fox_run.error is None and castle_run.error is None
    assert fox_run.steps == [1, 2, 3] and castle_run.steps == [1, 2, 3]
    assert fox_run.result.seeds == [7] and castle_run.result.seeds == [20, 21]
    # each image as it comes alone (the session's service does not batch)
    for run, req in ((fox_run, fox), (castle_run, castle)):
        alone = tiny_service.generate(req, save=False)
        assert len(run.result.images) == len(alone.images)
        for batched, single in zip(run.result.images, alone.images, strict=True):
            assert np.abs(pixels(batched) - pixels(single)).max() <= ROUNDING
        fields = parse_parameters(run.result.parameters[0])
        assert fields.prompt == req.prompt and fields.settings["Seed"] == str(req.seed)
        assert all(path.is_file() for path in run.result.paths)
    assert np.abs(pixels(fox_run.result.images[0]) - pixels(castle_run.result.images[0])).mean() > 1


def test_fast_requests_batch_with_the_lcm_lora_on_and_taesd_decoding(batching, tiny_service):
    fast = {"scheduler": "lcm", "num_inference_steps": 4, "guidance_scale": 1.0}
    fox = request("a red fox", seed=7, **fast)
    castle = request("a castle on a hill", seed=20, num_images=2, **fast)
    _, runs, sizes = _queued_behind_a_held_run(batching, fox, castle)
    assert sizes == [2, 2, 3, 3, 3, 3]  # no CFG: one row per image, three images at once
    for run, req in zip(runs, (fox, castle), strict=True):
        assert run.error is None and run.steps == [1, 2, 3, 4]
        fields = parse_parameters(run.result.parameters[0]).settings
        assert fields["VAE"] == "TAESD" and fields["Sampler"] == "LCM"
        alone = tiny_service.generate(req, save=False)
        for batched, single in zip(run.result.images, alone.images, strict=True):
            assert np.abs(pixels(batched) - pixels(single)).max() <= ROUNDING


def test_requests_that_differ_in_size_or_mode_run_one_after_another(batching, tiny_service):
    wide = request("a red fox", seed=7, width=192)
    hires = request("a castle", seed=20, hires_scale=1.5, hires_steps=2)
    plain = request("a boat", seed=30)
    _, runs, sizes = _queued_behind_a_held_run(batching, wide, hires, plain)
    assert all(run.error is None for run in runs)
    assert max(sizes) == 2  # never more than one image's CFG pair at once
    assert len(sizes) > 2 + 3 + 3 + 3  # held run, wide, hires (both passes), plain
    sizes_made = [run.result.images[0].size for run in runs]
    assert sizes_made == [(192, 128), (192, 192), (128, 128)]  # hires: 128 × 1.5


def test_a_stop_takes_one_request_out_of_its_batch_and_the_others_go_on(batching, tiny_service):
    fox, castle = request("a red fox", seed=7), request("a castle on a hill", seed=20)
    _, (fox_run, castle_run), sizes = _queued_behind_a_held_run(
        batching, fox, castle, first_stops_at=1
    )
    assert sizes == [2, 2, 4, 4, 4]  # the batch keeps its shape to the end
    assert isinstance(fox_run.error, GenerationCancelled) and fox_run.steps == [1]
    assert castle_run.error is None and castle_run.steps == [1, 2, 3]
    alone = tiny_service.generate(castle, save=False)
    assert np.abs(pixels(castle_run.result.images[0]) - pixels(alone.images[0])).max() <= ROUNDING


class OutOfMemoryError(RuntimeError):
    """Named as torch's CUDA out-of-memory error, which cannot happen on this machine."""


def test_a_batch_that_runs_out_of_memory_runs_again_request_by_request(batching, tiny_service):
    def no_room_for_two_images(module, args) -> None:
        if args[0].shape[0] > 2:
            raise OutOfMemoryError("CUDA out of memory (injected by the test)")

    handle = batching.backend.pipe.unet.register_forward_pre_hook(no_room_for_two_images)
    try:
        fox, castle = request("a red fox", seed=7), request("a castle on a hill", seed=20)
        _, runs, sizes = _queued_behind_a_held_run(batching, fox, castle)
    finally:
        handle.remove()
    assert sizes == [2] * (2 + 3 + 3)  # the held run's last steps, then each request alone
    for run, req in zip(runs, (fox, castle), strict=True):
        assert run.error is None and run.steps == [1, 2, 3]
        alone = tiny_service.generate(req, save=False)
        assert np.abs(pixels(run.result.images[0]) - pixels(alone.images[0])).max() <= ROUNDING


def test_a_cpu_does_not_batch_unless_asked_and_cuda_does():
    def plan(device: str) -> DevicePlan:
        return DevicePlan(device, "float32", Notice("device_reason_cpu"))

    assert batch_images_for(plan("cpu")) == 1
    assert batch_images_for(plan("cuda")) == CUDA_BATCH_IMAGES > 1
    assert batch_images_for(plan("cpu"), 3) == 3 and batch_images_for(plan("cuda"), 1) == 1
    assert load_settings({"HUATU_BATCH_IMAGES": "2"}, dotenv=False).batch_images == 2
    for bad in ("0", "two", "-1"):
        with pytest.raises(SettingsError) as refused:
            load_settings({"HUATU_BATCH_IMAGES": bad}, dotenv=False)
        said = render(refused.value.notice)
        assert "HUATU_BATCH_IMAGES" in said and bad in said


def test_the_default_cpu_service_runs_one_request_at_a_time(tiny_service, batching):
    assert tiny_service.backend.batcher is None
    assert tiny_service.max_concurrency == 1
    assert "batches" not in tiny_service.status
    assert "batches of up to 4 images" in batching.status  # the status line says it
    assert batching.max_concurrency == 4  # the four reach the batcher together


def test_the_batcher_serves_the_line_in_order_within_its_image_cap():
    batches: list[list[str]] = []
    release = threading.Event()

    def run(jobs: list[Job]) -> None:
        if not batches:
            release.wait(30)  # the first batch runs while the others come
        batches.append([job.request.prompt for job in jobs])
        for job in jobs:
            job.finish(BackendOutput(images=[], seeds=[]))

    batcher = Batcher(run, max_images=4)
    line = [
        ("first", "a", 1),
        ("b1", "b", 1),
        ("c-alone", None, 1),
        ("b2", "b", 2),
        ("b3", "b", 2),  # would make 5 images with b1 and b2
        ("b4", "b", 1),
    ]
    threads = []
    for prompt, key, count in line:
        job = Job(request(prompt, num_images=count), key)
        threads.append(threading.Thread(target=batcher.submit, args=(job,), daemon=True))
        threads[-1].start()
        for _ in range(200):  # in line (the first: taken into its batch) before the next
            if batcher.waiting == len(threads) - 1:
                break
            threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(30)
    assert batches == [["first"], ["b1", "b2", "b4"], ["c-alone"], ["b3"]]


def test_a_request_stopped_while_waiting_in_line_leaves_it():
    entered = threading.Event()
    release = threading.Event()

    def run(jobs: list[Job]) -> None:
        entered.set()
        release.wait(30)
        for job in jobs:
            job.finish(BackendOutput(images=[], seeds=[]))

    batcher = Batcher(run, max_images=4)
    threading.Thread(target=batcher.submit, args=(Job(request("a"), "k"),), daemon=True).start()
    assert entered.wait(30)
    stop = CancelToken()
    outcome: list[BaseException] = []

    def waiting() -> None:
        try:
            batcher.submit(Job(request("b"), "k", cancel=stop))
        except GenerationCancelled as error:
            outcome.append(error)

    thread = threading.Thread(target=waiting, daemon=True)
    thread.start()
    stop.cancel()
    thread.join(30)
    assert outcome and batcher.waiting == 0
    release.set()


def test_serve_refuses_a_batch_of_no_images(cli_env, tmp_path: Path):
    from tests.helpers import invoke_huatu

    refused = invoke_huatu("serve", "--batch-images", "0", env=cli_env, cwd=tmp_path)
    assert refused.returncode == 2
    assert "--batch-images" in refused.stderr and "0" in refused.stderr
    assert "Traceback" not in refused.stderr
