"""AUTOMATIC1111-compatible HTTP API under ``/sdapi/v1``, for tools that already speak it.

Clients written for AUTOMATIC1111's web UI (A1111) — the ``webuiapi`` package, Krita and
Photoshop plug-ins, chat bots — can point at huatu instead. Every generation goes through
:meth:`~huatu.service.ImageService.generate`, so it is validated by
:meth:`~huatu.request.GenerationRequest.create` and saved to the outputs and the history
like a studio image.

Supported:

* ``POST /txt2img`` — ``prompt``, ``negative_prompt``, ``steps`` (default 50, as in A1111),
  ``cfg_scale`` (7), ``width``/``height`` (512), ``seed`` (-1: random), ``batch_size`` (1–4
  images per run), ``n_iter`` (1–25 runs), ``sampler_name`` (or the deprecated
  ``sampler_index``; default ``"Euler"`` as in A1111) with ``scheduler`` (A1111 >= 1.9's
  schedule type: ``Automatic``, ``Uniform`` or ``Karras``; the older combined names such as
  ``"DPM++ 2M Karras"`` work too) and ``send_images``. Image *k* of the request uses
  ``seed + k`` (run *i* starts at ``seed + i * batch_size``), as in A1111. The answer is
  ``{"images": [base64 PNG …], "parameters": {the request}, "info": "<JSON text>"}``; each PNG
  carries its A1111 ``parameters`` text chunk, and ``info`` has A1111's fields (``all_seeds``,
  ``infotexts``, …). No grid image is added (as A1111 with ``return_grid`` off).
* ``GET /progress`` (``?skip_current_image=true`` leaves the preview out), ``POST /interrupt``
  (stops the API run within one step; the answer holds the images of runs already finished)
  and ``POST /skip`` (stops the current run of an ``n_iter`` request, goes on with the next).
  These see and stop this API's own generations, not the studio's.
* ``GET /options`` and ``POST /options`` (``sd_model_checkpoint`` switches the model, blocking
  until it is loaded; if loading fails the old model stays), ``GET /sd-models``,
  ``/samplers``, ``/schedulers``, and empty lists or objects for ``/upscalers``, ``/loras``,
  ``/sd-vae``, ``/hypernetworks``, ``/embeddings``, ``/scripts``, ``/cmd-flags`` … which
  client libraries ask for when they start.

Accepted and ignored: every other A1111 field (``styles``, ``subseed``, ``restore_faces``,
``enable_hr`` and the other hires-fix fields, ``override_settings``, ``script_name``,
``alwayson_scripts`` …) and unknown fields; ``save_images`` (huatu always saves); every
option other than ``sd_model_checkpoint``. Not served: img2img, extras, png-info, training.

Errors: a bad field value answers **422** in FastAPI's validation shape — the shape A1111
itself answers when pydantic rejects a field, so clients already handle it::

    {"detail": [{"type": "value_error", "loc": ["body", "steps"],
                 "msg": "`steps` must be an integer from 1 to 100, but is 0.", "input": 0}]}

Broken JSON gets FastAPI's own 422 of that shape. Other failures answer in the shape of
A1111's API error handler, ``{"error": "<kind>", "detail": "<sentence>", "body": "",
"errors": "<sentence>"}``: 503 when too many API generations are already waiting
(``QueueFullError``), no model is loaded or the model ran out of memory, 400 for a model
that cannot be loaded or images all withheld by the safety checker, 502/504 when the hosted
service fails, 500 otherwise. Messages never hold a traceback or a secret.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from huatu import __version__
from huatu.api.gate import ApiGate
from huatu.api.http_errors import plain
from huatu.backends.base import CancelToken, ProgressEvent
from huatu.config import TINY_MODEL, is_hub_id
from huatu.errors import (
    BackendUnavailableError,
    GenerationCancelled,
    HostedError,
    HostedTimeoutError,
    HuatuError,
    ModelLoadError,
    QueueFullError,
    SafetyCheckerFlagged,
    ValidationError,
)
from huatu.messages import render
from huatu.metadata import png_bytes
from huatu.request import MAX_SEED, RANDOM_SEED, GenerationRequest
from huatu.runs import finish_unless_disconnected
from huatu.schedulers import SCHEDULERS, get_scheduler_spec, scheduler_id_from_label

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.service import GenerationResult, ImageService

log = logging.getLogger(__name__)

PREFIX = "/sdapi/v1"
#: A1111's defaults where they differ from huatu's.
A1111_STEPS = 50
A1111_SAMPLER = "Euler"
MAX_N_ITER = 25
#: A1111 >= 1.9 schedule types huatu can honour (name → label); ``automatic`` means the
#: sampler's own default.
SCHEDULE_TYPES = {"automatic": "Automatic", "uniform": "Uniform", "karras": "Karras"}
#: A1111's default schedule for a sampler, where it is not the plain one.
SAMPLER_DEFAULT_SCHEDULE = {"DPM++ 2M": "karras"}
#: huatu request fields → the A1111 field a client sent (for error messages).
A1111_FIELDS = {
    "num_inference_steps": "steps",
    "guidance_scale": "cfg_scale",
    "num_images": "batch_size",
    "model": "sd_model_checkpoint",
}
#: Exception kind → HTTP status (first match wins); anything else is 500.
STATUS = (
    (QueueFullError, 503),
    (BackendUnavailableError, 503),
    (MemoryError, 503),  # the model ran out of memory (huatu.errors.OutOfMemory)
    (ModelLoadError, 400),
    (SafetyCheckerFlagged, 400),
    (HostedTimeoutError, 504),
    (HostedError, 502),
)
#: Lists and objects A1111 clients fetch on start-up; huatu has none of these things.
EMPTY_GETS: dict[str, Any] = {
    "upscalers": [],
    "latent-upscale-modes": [],
    "loras": [],
    "sd-vae": [],
    "hypernetworks": [],
    "face-restorers": [],
    "realesrgan-models": [],
    "prompt-styles": [],
    "extensions": [],
    "script-info": [],
    "embeddings": {"loaded": {}, "skipped": {}},
    "scripts": {"txt2img": [], "img2img": []},
    "cmd-flags": {},
}


class Txt2ImgRequest(BaseModel):
    """A1111's ``StableDiffusionProcessingTxt2Img`` request body (the fields huatu reads).

    Values are taken as sent and checked by :meth:`GenerationRequest.create`, so every edge
    refuses the same values with the same sentence. ``null`` means the default.
    """

    model_config = ConfigDict(extra="ignore")

    prompt: Any = Field("", description="What to draw; 1–1,000 characters. Required.")
    negative_prompt: Any = Field("", description="What to avoid; ≤ 1,000 chars. Default ''.")
    steps: Any = Field(A1111_STEPS, description="Denoising steps, 1–100. Default 50.")
    cfg_scale: Any = Field(7.0, description="Guidance scale, 0–20. Default 7.")
    width: Any = Field(512, description="Pixels, 64–1024, a multiple of 8. Default 512.")
    height: Any = Field(512, description="Pixels, 64–1024, a multiple of 8. Default 512.")
    seed: Any = Field(-1, description="-1 for random, else 0–2**32-1. Default -1.")
    batch_size: Any = Field(1, description="Images per run, 1–4. Default 1.")
    n_iter: Any = Field(1, description=f"Runs one after another, 1–{MAX_N_ITER}. Default 1.")
    sampler_name: Any = Field(
        None, description="Sampler, a name from /samplers. Default: sampler_index."
    )
    sampler_index: Any = Field(
        A1111_SAMPLER, description="Deprecated; used when sampler_name is unset. 'Euler'."
    )
    scheduler: Any = Field(None, description="Schedule type from /schedulers. Default: Automatic.")
    send_images: Any = Field(True, description="Return the images. Default true.")
    save_images: Any = Field(False, description="Ignored: huatu always saves.")
    styles: Any = Field(None, description="Ignored.")
    subseed: Any = Field(-1, description="Ignored.")
    subseed_strength: Any = Field(0, description="Ignored.")
    restore_faces: Any = Field(None, description="Ignored.")
    enable_hr: Any = Field(False, description="Ignored (no hires fix).")
    override_settings: Any = Field(None, description="Ignored.")
    script_name: Any = Field(None, description="Ignored (no scripts).")
    alwayson_scripts: Any = Field(None, description="Ignored (no scripts).")


class Txt2ImgResponse(BaseModel):
    """A1111's ``TextToImageResponse``."""

    images: list[str] = Field(description="Base64 PNGs with their parameters text chunk.")
    parameters: dict[str, Any] = Field(description="The request, as A1111 echoes it.")
    info: str = Field(description="JSON text: prompts, seeds, sizes, infotexts …")


# --------------------------------------------------------------------------------------------
# Progress of the API runs


@dataclass(eq=False)  # compared by identity
class _Job:
    """One ``/txt2img`` request in flight.

    Attributes:
        n_iter: its runs. token: stops the current run. job_no: the current run (from 0).
        step / steps: denoising progress of the current run. preview: the latest preview.
        started / last_event: ``time.time()`` of its first and latest progress event.
        interrupted / skipped: ``/interrupt`` or ``/skip`` asked it to stop.
        message: the backend's latest words (e.g. a hosted wait), for ``textinfo``.
    """

    n_iter: int
    token: CancelToken = field(default_factory=CancelToken)
    job_no: int = 0
    step: int = 0
    steps: int = 0
    preview: Image | None = None
    started: float | None = None
    last_event: float = 0.0
    interrupted: bool = False
    skipped: bool = False
    message: str | None = None
    timestamp: str = field(default_factory=lambda: datetime.now().strftime("%Y%m%d%H%M%S"))


IDLE_STATE = {
    "skipped": False,
    "interrupted": False,
    "stopping_generation": False,
    "job": "",
    "job_count": 0,
    "job_timestamp": "0",
    "job_no": 0,
    "sampling_step": 0,
    "sampling_steps": 0,
}


class ProgressTracker:
    """The API generations in flight, fed by their progress callbacks (thread-safe).

    The *current* job is the one that reported a step last (the one the model is working
    on), else the oldest still waiting for the model.
    """

    def __init__(self) -> None:
        self._jobs: list[_Job] = []
        self._lock = threading.Lock()

    def begin(self, n_iter: int) -> _Job:
        """Register a request of ``n_iter`` runs."""
        job = _Job(n_iter)
        with self._lock:
            self._jobs.append(job)
        return job

    def end(self, job: _Job) -> None:
        """Forget a finished request."""
        with self._lock:
            self._jobs.remove(job)

    def next_run(self, job: _Job, job_no: int) -> CancelToken | None:
        """The cancel token for run ``job_no`` of ``job``, or ``None`` once interrupted."""
        with self._lock:
            if job.interrupted:
                return None
            job.job_no, job.step, job.steps, job.skipped = job_no, 0, 0, False
            job.token = CancelToken()
            return job.token

    def report(self, job: _Job, event: ProgressEvent) -> None:
        """Record a backend progress event of ``job``."""
        now = time.time()
        with self._lock:
            job.started = job.started or now
            job.last_event = now
            job.step, job.steps = event.step, event.total
            job.message = render(event.message) if event.message is not None else None
            if event.preview is not None:
                job.preview = event.preview

    def _current(self) -> _Job | None:
        running = [job for job in self._jobs if job.started is not None]
        if running:
            return max(running, key=lambda job: job.last_event)
        return self._jobs[0] if self._jobs else None

    def interrupt(self, job: _Job) -> None:
        """Stop ``job`` within one step, and its later runs (its client went away)."""
        with self._lock:
            job.interrupted = True
            job.token.cancel()

    def stop(self, *, skip: bool) -> None:
        """Stop the current job (``skip``: only its current run, as A1111's ``/skip``)."""
        with self._lock:
            job = self._current()
            if job is None:
                return
            if skip:
                job.skipped = True
            else:
                job.interrupted = True
            job.token.cancel()

    def progress(self, *, with_image: bool) -> dict[str, Any]:
        """A1111's ``ProgressResponse`` for the current job (progress 0 when idle)."""
        with self._lock:
            job = self._current()
            if job is None:
                return {
                    "progress": 0.0,
                    "eta_relative": 0.0,
                    "state": dict(IDLE_STATE),
                    "current_image": None,
                    "textinfo": None,
                    "current_task": None,
                }
            state = {
                "skipped": job.skipped,
                "interrupted": job.interrupted,
                "stopping_generation": False,
                "job": "scripts_txt2img",
                "job_count": job.n_iter,
                "job_timestamp": job.timestamp,
                "job_no": job.job_no,
                "sampling_step": job.step,
                "sampling_steps": job.steps,
            }
            preview, started, message = job.preview, job.started, job.message
        # A1111's formula: 0.01 as soon as a job runs, then its share of runs and steps.
        progress = 0.0
        eta = 0.0
        if started is not None:
            progress = 0.01 + state["job_no"] / job.n_iter
            if state["sampling_steps"]:
                progress += state["sampling_step"] / state["sampling_steps"] / job.n_iter
            elapsed = time.time() - started
            eta = max(elapsed / progress - elapsed, 0.0)
            progress = min(progress, 1.0)
        image = _b64_png(preview) if with_image and preview is not None else None
        return {
            "progress": progress,
            "eta_relative": eta,
            "state": state,
            "current_image": image,
            "textinfo": message,
            "current_task": None,
        }


# --------------------------------------------------------------------------------------------
# Request → huatu


@dataclass(frozen=True)
class _Plan:
    """A validated ``/txt2img``: ``n_iter`` runs of ``request`` from ``first_seed`` on."""

    request: GenerationRequest
    n_iter: int
    first_seed: int

    @property
    def seeds(self) -> list[int]:
        """Every image's seed, in order (run *i*, image *j*: ``first_seed + i*batch + j``)."""
        total = self.request.num_images * self.n_iter
        return [self.first_seed + index for index in range(total)]


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _scheduler_id(sampler: Any, schedule: Any) -> str:
    """huatu's scheduler id for an A1111 sampler name and schedule type.

    ``"DPM++ 2M Karras"`` (the old combined name) and ``"DPM++ 2M"`` with schedule type
    ``Karras`` both give ``dpmpp_2m_karras``; as in A1111, a type named inside the sampler
    name wins, and ``Automatic`` means the sampler's default (Karras for DPM++ 2M).

    Raises:
        ValidationError: on ``sampler_name`` or ``scheduler``, listing what is accepted.
    """
    labels = ", ".join(spec.label for spec in SCHEDULERS.values())
    if isinstance(schedule, str) and not schedule.strip():
        schedule = None
    if not isinstance(sampler, str) or not sampler.strip():
        raise ValidationError("sampler_name", sampler, "choice", choices=labels)
    if schedule is not None and (
        not isinstance(schedule, str) or schedule.strip().lower() not in SCHEDULE_TYPES
    ):
        choices = ", ".join(SCHEDULE_TYPES.values())
        raise ValidationError("scheduler", schedule, "choice", choices=choices)
    name = sampler.strip()
    kind = (schedule or "automatic").strip().lower()
    field, value = "scheduler", schedule  # what an unknown combination is blamed on
    for type_name, label in SCHEDULE_TYPES.items():
        if type_name != "automatic" and name.lower().endswith(" " + type_name):
            name, kind = name[: -len(label) - 1].strip(), type_name
            field, value = "sampler_name", sampler
    base = scheduler_id_from_label(name)
    if base is None:
        raise ValidationError("sampler_name", sampler, "choice", choices=labels)
    if kind == "automatic":
        kind = SAMPLER_DEFAULT_SCHEDULE.get(get_scheduler_spec(base).label, "uniform")
    scheduler = base if kind == "uniform" else scheduler_id_from_label(f"{name} {kind}")
    if scheduler is None and field == "sampler_name":
        raise ValidationError(field, value, "choice", choices=labels)
    if scheduler is None:
        choices = ", ".join(
            label
            for type_name, label in SCHEDULE_TYPES.items()
            if type_name in ("automatic", "uniform")
            or scheduler_id_from_label(f"{name} {type_name}")
        )
        raise ValidationError(field, value, "choice", choices=choices)
    return scheduler


def _plan(body: Txt2ImgRequest) -> _Plan:
    """Validate ``body`` into a :class:`_Plan` (drawing the seed when it is -1).

    Raises:
        ValidationError: the first bad field, named as A1111 names it.
    """
    sampler = next(
        (name for name in (body.sampler_name, body.sampler_index) if name not in (None, "")),
        A1111_SAMPLER,
    )
    scheduler = _scheduler_id(sampler, body.scheduler)
    n_iter = _or(body.n_iter, 1)
    if (
        isinstance(n_iter, bool)
        or not isinstance(n_iter, (int, float))
        or not math.isfinite(n_iter)
        or n_iter != int(n_iter)
        or not 1 <= n_iter <= MAX_N_ITER
    ):
        raise ValidationError("n_iter", n_iter, "integer_range", low=1, high=MAX_N_ITER)
    n_iter = int(n_iter)
    if not isinstance(_or(body.send_images, True), bool):
        raise ValidationError("send_images", body.send_images, "choice", choices="true, false")
    request = GenerationRequest.create(
        prompt=body.prompt,
        negative_prompt=body.negative_prompt,
        num_inference_steps=_or(body.steps, A1111_STEPS),
        guidance_scale=body.cfg_scale,
        width=body.width,
        height=body.height,
        seed=body.seed,
        num_images=body.batch_size,
        scheduler=scheduler,
    )
    total = request.num_images * n_iter
    if request.seed == RANDOM_SEED:
        first = secrets.randbelow(MAX_SEED - total + 2)
    elif request.seed + total - 1 > MAX_SEED:
        raise ValidationError(
            "seed", body.seed, "seed_room", high=MAX_SEED - total + 1, count=total
        )
    else:
        first = request.seed
    return _Plan(request.with_seed(first), n_iter, first)


# --------------------------------------------------------------------------------------------
# Answers


def _b64_png(image: Image, parameters: str | None = None) -> str:
    """``image`` as base64 PNG text (with the ``parameters`` chunk when given)."""
    if parameters is not None:
        data = png_bytes(image, parameters)
    else:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data = buffer.getvalue()
    return base64.b64encode(data).decode("ascii")


def _error_response(service: ImageService, error: Exception) -> JSONResponse:
    """The HTTP answer for ``error`` (see the module docstring for the shapes)."""
    redact = service.settings.redact
    if isinstance(error, ValidationError):
        name = A1111_FIELDS.get(error.field, error.field)
        # masked before the message shortens it, so no part of a secret is left
        value = service.settings.mask(error.value)
        message = redact(str(ValidationError(name, value, error.reason, **error.params)))
        detail: dict[str, Any] = {"type": "value_error", "loc": ["body", name], "msg": message}
        if value is None or isinstance(value, (str, int, float)):
            detail["input"] = plain(value)
        return JSONResponse(status_code=422, content={"detail": [detail]})
    if isinstance(error, HuatuError):
        message = redact(str(error))
    else:
        message = f"Generation failed unexpectedly ({type(error).__name__}); see the server log."
    status = next((code for kind, code in STATUS if isinstance(error, kind)), 500)
    content = {"error": type(error).__name__, "detail": message, "body": "", "errors": message}
    return JSONResponse(status_code=status, content=content)


def _checkpoint(model: str) -> dict[str, Any]:
    """A1111's ``SDModelItem`` for a huatu model (Hub id, folder or ``tiny``)."""
    name = Path(model.rstrip("/\\")).name or model
    return {
        "title": model,
        "model_name": name,
        "hash": None,
        "sha256": None,
        "filename": model,
        "config": None,
    }


def _info(
    service: ImageService,
    plan: _Plan,
    results: list[GenerationResult],
    body: Txt2ImgRequest,
) -> str:
    """A1111's ``Processed.js()`` JSON text for the runs made."""
    request = plan.request
    backend = service.backend
    sampler = (
        backend.sampler_label(request)
        if backend is not None
        else get_scheduler_spec(request.scheduler).label
    )
    count = len(plan.seeds)
    info = {
        "prompt": request.prompt,
        "all_prompts": [request.prompt] * count,
        "negative_prompt": request.negative_prompt,
        "all_negative_prompts": [request.negative_prompt] * count,
        "seed": plan.first_seed,
        "all_seeds": plan.seeds,
        "subseed": -1,
        "all_subseeds": [-1] * count,
        "subseed_strength": 0,
        "width": request.width,
        "height": request.height,
        "sampler_name": sampler,
        "cfg_scale": request.guidance_scale,
        "steps": request.num_inference_steps,
        "batch_size": request.num_images,
        "restore_faces": False,
        "face_restoration_model": None,
        "sd_model_name": _checkpoint(service.choice.model)["model_name"],
        "sd_model_hash": None,
        "sd_vae_name": None,
        "sd_vae_hash": None,
        "seed_resize_from_w": -1,
        "seed_resize_from_h": -1,
        "denoising_strength": None,
        "extra_generation_params": {},
        "index_of_first_image": 0,
        "infotexts": [text for result in results for text in result.parameters],
        "styles": plain(body.styles) if isinstance(body.styles, list) else [],
        "job_timestamp": datetime.now().strftime("%Y%m%d%H%M%S"),
        "clip_skip": 1,
        "is_using_inpainting_conditioning": False,
        "version": f"huatu {__version__}",
    }
    return json.dumps(info, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# The router


def create_router(service: ImageService, gate: ApiGate) -> APIRouter:
    """The ``/sdapi/v1`` routes over ``service``.

    Args:
        service: generates, saves and switches models; shared with every other edge.
        gate: bounds the API generations waiting or running at once (shared with the other
            HTTP APIs); a request over the bound answers 503.
    """
    router = APIRouter(prefix=PREFIX, tags=["AUTOMATIC1111 API"])
    tracker = ProgressTracker()
    known_models = [service.choice.model, TINY_MODEL, *service.settings.models]
    known_lock = threading.Lock()

    def models() -> list[str]:
        with known_lock:
            names = [service.choice.model, *known_models]
        return list(dict.fromkeys(names))

    def run(plan: _Plan, job: _Job) -> list[GenerationResult]:
        results = []
        for index in range(plan.n_iter):
            token = tracker.next_run(job, index)
            if token is None:
                break
            request = plan.request.with_seed(plan.first_seed + index * plan.request.num_images)
            try:
                result = service.generate(
                    request,
                    progress=lambda event: tracker.report(job, event),
                    cancel=token,
                    save=True,
                    preview_every=1,
                )
            except GenerationCancelled:
                if job.interrupted:
                    break
                continue  # /skip: on to the next run
            results.append(result)
        return results

    @router.post("/txt2img", response_model=Txt2ImgResponse)
    async def txt2img(body: Txt2ImgRequest, request: Request) -> Any:
        """Generate ``batch_size`` × ``n_iter`` images (A1111's txt2img); a client that goes
        away interrupts its run within one step."""
        jobs: list[_Job] = []
        work = run_in_threadpool(txt2img_blocking, body, jobs)
        return await finish_unless_disconnected(
            work, request.is_disconnected, lambda: [tracker.interrupt(job) for job in jobs]
        )

    def txt2img_blocking(body: Txt2ImgRequest, jobs: list[_Job]) -> Any:
        try:
            plan = _plan(body)
            with gate.enter():
                job = tracker.begin(plan.n_iter)
                jobs.append(job)
                try:
                    results = run(plan, job)
                finally:
                    tracker.end(job)
            images = [
                _b64_png(image, text)
                for result in (results if _or(body.send_images, True) else [])
                for image, text in zip(result.images, result.parameters, strict=True)
            ]
            info = _info(service, plan, results, body)
        except HuatuError as error:
            return _error_response(service, error)
        except Exception as error:  # never a traceback to the client
            log.exception("A1111 txt2img failed")
            return _error_response(service, error)
        try:
            parameters = plain(body.model_dump())
        except RecursionError:
            parameters = {}
        return {"images": images, "parameters": parameters, "info": info}

    @router.get("/progress")
    async def progress(skip_current_image: bool = False) -> dict[str, Any]:
        """How far the API run is (A1111's ProgressResponse); progress 0 when idle."""
        return tracker.progress(with_image=not skip_current_image)

    @router.post("/interrupt")
    async def interrupt() -> dict[str, Any]:
        """Stop the current API generation within one step."""
        tracker.stop(skip=False)
        return {}

    @router.post("/skip")
    async def skip() -> None:
        """Stop the current run of the API generation; the next run goes on."""
        tracker.stop(skip=True)

    @router.get("/options")
    async def get_options() -> dict[str, Any]:
        """The A1111 options huatu has: the model, PNG output, live previews."""
        return {
            "sd_model_checkpoint": service.choice.model,
            "sd_checkpoint_hash": None,
            "sd_vae": "Automatic",
            "samples_format": "png",
            "samples_save": True,
            "return_grid": False,
            "CLIP_stop_at_last_layers": 1,
            "live_previews_enable": True,
            "show_progress_every_n_steps": 1,
        }

    @router.post("/options")
    async def set_options(options: dict[str, Any]) -> Any:
        """Switch the model when ``sd_model_checkpoint`` is given (a title from /sd-models
        or any model huatu can load); other options are ignored. Answers ``null``."""
        wanted = options.get("sd_model_checkpoint")
        if wanted is None:
            return None
        if not isinstance(wanted, str) or not wanted.strip():
            error = ValidationError("sd_model_checkpoint", wanted, "text")
            return _error_response(service, error)
        target = wanted.strip()
        for model in models():
            item = _checkpoint(model)
            if target.lower() in (item["title"].lower(), item["model_name"].lower()):
                target = model
                break
        else:  # not listed: a Hub id may be fetched, a path on this machine may not
            if not is_hub_id(target) or Path(target).expanduser().exists():
                listed = ", ".join(_checkpoint(model)["title"] for model in models())
                choices = f"{listed}, or a Hugging Face Hub id (owner/name)"
                error = ValidationError("sd_model_checkpoint", wanted, "choice", choices=choices)
                return _error_response(service, error)
        try:
            await run_in_threadpool(service.switch_model, target)
        except HuatuError as error:
            return _error_response(service, error)
        except Exception as error:
            log.exception("A1111 options: switching to %r failed", target)
            return _error_response(service, error)
        with known_lock:
            if target not in known_models:
                known_models.append(target)
        return None

    @router.get("/sd-models")
    async def sd_models() -> list[dict[str, Any]]:
        """The loaded model, the built-in tiny test model and the models used before."""
        return [_checkpoint(model) for model in models()]

    @router.get("/samplers")
    async def samplers() -> list[dict[str, Any]]:
        """huatu's schedulers under their A1111 sampler names."""
        return [
            {
                "name": spec.label,
                "aliases": [spec.id],
                "options": {"scheduler": SAMPLER_DEFAULT_SCHEDULE[spec.label]}
                if spec.label in SAMPLER_DEFAULT_SCHEDULE
                else {},
            }
            for spec in SCHEDULERS.values()
        ]

    @router.get("/schedulers")
    async def schedulers() -> list[dict[str, Any]]:
        """The A1111 >= 1.9 schedule types huatu honours."""
        return [
            {
                "name": name,
                "label": label,
                "aliases": None,
                "default_rho": None,
                "need_inner_model": None,
            }
            for name, label in SCHEDULE_TYPES.items()
        ]

    @router.post("/refresh-checkpoints")
    async def refresh_checkpoints() -> None:
        """Nothing to refresh: huatu lists the models it has loaded."""

    def empty(value: Any) -> Any:
        async def endpoint() -> Any:
            return json.loads(json.dumps(value))

        return endpoint

    for path, value in EMPTY_GETS.items():
        router.add_api_route(
            f"/{path}", empty(value), methods=["GET"], summary=f"{path} (none in huatu)"
        )
    return router
