"""The ``/sdapi/v1`` routes (see :mod:`huatu.api.a1111` for what they serve)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from huatu.api.a1111.answers import b64_png, error_response, info
from huatu.api.a1111.editing import (
    ExtraSingleImageRequest,
    Img2ImgRequest,
    PngInfoRequest,
    plan_img2img,
    plan_txt2img,
    read_png_info,
    upscale_body,
    upscalers,
)
from huatu.api.a1111.models import checkpoint, embedding_items, lora_items, matching_model
from huatu.api.a1111.progress import Job, ProgressTracker
from huatu.api.a1111.schemas import (
    EMPTY_GETS,
    FIELDS,
    Plan,
    Txt2ImgRequest,
    Txt2ImgResponse,
    or_default,
)
from huatu.api.http_errors import plain
from huatu.clients import http_client
from huatu.errors import GenerationCancelled, HuatuError, ValidationError
from huatu.messages import render
from huatu.runs import finish_unless_disconnected
from huatu.schedulers import a1111_samplers, a1111_schedule_types

if TYPE_CHECKING:
    from huatu.api.gate import ApiGate
    from huatu.service import GenerationResult, ImageService

log = logging.getLogger(__name__)

#: What ``sd_vae`` says for the model's own VAE, and the values that ask for it.
AUTOMATIC_VAE = "Automatic"
OWN_VAE = (AUTOMATIC_VAE, "None", "")

PREFIX = "/sdapi/v1"


def create_router(service: ImageService, gate: ApiGate) -> APIRouter:
    """The ``/sdapi/v1`` routes over ``service``.

    Args:
        service: generates, saves and switches models; shared with every other edge.
        gate: bounds the API generations waiting or running at once (shared with the other
            HTTP APIs); a request over the bound answers 503 with ``Retry-After``.
    """
    router = APIRouter(prefix=PREFIX, tags=["AUTOMATIC1111 API"])
    tracker = ProgressTracker()

    def failed(error: BaseException) -> Any:
        return error_response(error, service.settings)

    def run(plan: Plan, job: Job, client: str) -> list[GenerationResult]:
        results = []
        for index in range(plan.n_iter):
            token = tracker.next_run(job, index)
            if token is None:
                break
            try:
                result = service.generate(
                    plan.run(index),
                    progress=lambda event: tracker.report(job, event),
                    cancel=token,
                    save=True,
                    preview_every=1,
                    client=client,
                )
            except GenerationCancelled:
                if job.interrupted:
                    break
                continue  # /skip: on to the next run
            except ValidationError as error:  # the service's own check, e.g. the mode
                raise plan.names.refusal(error) from None
            results.append(result)
        return results

    @router.post("/txt2img", response_model=Txt2ImgResponse)
    async def txt2img(body: Txt2ImgRequest, request: Request) -> Any:
        """Generate ``batch_size`` × ``n_iter`` images (A1111's txt2img, with its hires fix
        when ``enable_hr``); a client that goes away interrupts its run within one step."""
        return await generate_unless_disconnected(body, request, plan_txt2img)

    @router.post("/img2img", response_model=Txt2ImgResponse)
    async def img2img(body: Img2ImgRequest, request: Request) -> Any:
        """A1111's img2img: ``init_images[0]`` varied by the prompt, or with ``mask`` its
        white part repainted (every pixel outside the blurred mask kept)."""
        return await generate_unless_disconnected(body, request, plan_img2img)

    async def generate_unless_disconnected(body: Any, request: Request, planner: Any) -> Any:
        jobs: list[Job] = []
        work = run_in_threadpool(generate_blocking, body, jobs, planner, http_client(request))
        return await finish_unless_disconnected(
            work, request.is_disconnected, lambda: [tracker.interrupt(job) for job in jobs]
        )

    def generate_blocking(body: Any, jobs: list[Job], planner: Any, client: str) -> Any:
        try:
            planned = planner(body)
            with gate.enter():
                job = tracker.begin(planned.n_iter)
                jobs.append(job)
                try:
                    results = run(planned, job, client)
                finally:
                    tracker.end(job)
            images = [
                b64_png(image, text)
                for result in (results if or_default(body.send_images, True) else [])
                for image, text in zip(result.images, result.parameters, strict=True)
            ]
            text = info(service, planned, results, body.styles)
        except HuatuError as error:
            return failed(error)
        except Exception as error:  # never a traceback to the client
            log.exception("A1111 generation failed")
            return failed(error)
        try:
            parameters = plain(body.model_dump(exclude={"init_images", "mask"}))
        except RecursionError:
            parameters = {}
        return {"images": images, "parameters": parameters, "info": text}

    @router.post("/extra-single-image")
    async def extra_single_image(body: ExtraSingleImageRequest) -> Any:
        """A1111's extras: the picture upscaled (``upscaling_resize`` times, or to
        ``upscaling_resize_w``×``upscaling_resize_h``), its parameters kept."""
        try:
            done = await run_in_threadpool(upscale_body, body, service.settings.outputs_dir)
        except HuatuError as error:
            return failed(error)
        except Exception as error:
            log.exception("A1111 extra-single-image failed")
            return failed(error)
        return {"html_info": "", "image": b64_png(done.image, done.parameters)}

    @router.post("/png-info")
    async def png_info(body: PngInfoRequest) -> Any:
        """A1111's png-info: the picture's parameters text, and its settings by name."""
        try:
            return read_png_info(body)
        except HuatuError as error:
            return failed(error)

    @router.get("/upscalers")
    async def list_upscalers() -> list[dict[str, Any]]:
        """The upscalers ``/extra-single-image`` takes."""
        return upscalers()

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
        loaded = checkpoint(service.choice.model, service.settings)
        return {
            "sd_model_checkpoint": loaded["title"],
            "sd_checkpoint_hash": loaded["sha256"],
            "sd_vae": service.vae_name or AUTOMATIC_VAE,
            "samples_format": "png",
            "samples_save": True,
            "return_grid": False,
            "CLIP_stop_at_last_layers": 1,
            "live_previews_enable": True,
            "show_progress_every_n_steps": 1,
            # huatu's own: which backend and how it runs (on Ray: how many replicas are up)
            "huatu_backend": render(service.backend.detail) if service.backend else None,
        }

    @router.post("/options")
    async def set_options(options: dict[str, Any]) -> Any:
        """Switch the model when ``sd_model_checkpoint`` is given (a title or model name from
        /sd-models, or a Hugging Face Hub id), then the VAE when ``sd_vae`` is (a name from
        /sd-vae, or ``Automatic``/``None``: the model's own); other options are ignored.
        Answers ``null``."""
        wanted = options.get("sd_model_checkpoint")
        if wanted is not None:
            if not isinstance(wanted, str) or not wanted.strip():
                return failed(ValidationError("sd_model_checkpoint", wanted, "text"))
            listed = service.known_models()  # A1111 clients name a model by title or name
            target = matching_model(wanted, listed, service.settings) or wanted.strip()
            refused = await attempt(service.switch_model, target, wanted)
            if refused is not None:
                return refused
        vae = options.get("sd_vae")
        if vae is not None:
            if not isinstance(vae, str):
                return failed(ValidationError("sd_vae", vae, "text"))
            chosen = None if vae.strip() in OWN_VAE else vae.strip()
            return await attempt(service.switch_vae, chosen, vae)
        return None

    async def attempt(change: Any, target: str | None, wanted: str) -> Any:
        """Run a model or VAE change; its refusal as A1111 answers it, or ``None``."""
        try:
            await run_in_threadpool(change, target)
        except ValidationError as error:  # name what the client sent
            refused = ValidationError(error.field, wanted, error.reason, **error.params)
            return failed(FIELDS.refusal(refused))
        except HuatuError as error:
            return failed(error)
        except Exception as error:
            log.exception("A1111 options: changing to %r failed", target)
            return failed(error)
        return None

    @router.get("/sd-vae")
    async def sd_vae() -> list[dict[str, Any]]:
        """The VAEs of the models folders' ``VAE/`` (``options`` ``sd_vae`` takes them)."""
        return [{"model_name": name, "filename": name} for name in service.vae_names()]

    @router.get("/sd-models")
    async def sd_models() -> list[dict[str, Any]]:
        """The loaded model, the checkpoints of the models folders, the built-in tiny test
        model and the models used before."""
        return [checkpoint(model, service.settings) for model in service.known_models()]

    @router.get("/samplers")
    async def samplers() -> list[dict[str, Any]]:
        """huatu's schedulers under their A1111 sampler names."""
        return a1111_samplers()

    @router.get("/schedulers")
    async def schedulers() -> list[dict[str, Any]]:
        """The A1111 >= 1.9 schedule types huatu honours."""
        return a1111_schedule_types()

    @router.post("/refresh-checkpoints")
    async def refresh_checkpoints() -> None:
        """Scan the models folders again."""
        await run_in_threadpool(service.refresh_models)

    @router.post("/refresh-loras")
    async def refresh_loras() -> None:
        """Scan the models folders again (LoRAs and everything else)."""
        await run_in_threadpool(service.refresh_models)

    @router.get("/loras")
    async def loras() -> list[dict[str, Any]]:
        """The LoRAs of the models folders, by the name ``<lora:name:weight>`` writes."""
        return await run_in_threadpool(lora_items, service.settings)

    @router.get("/embeddings")
    async def embeddings() -> dict[str, Any]:
        """The embeddings of the models folders: those that fit the loaded model, and the
        others."""
        width = service.capabilities.embedding_width
        return await run_in_threadpool(embedding_items, service.settings, width)

    def empty(value: Any) -> Any:
        async def endpoint() -> Any:
            return json.loads(json.dumps(value))

        return endpoint

    for path, value in EMPTY_GETS.items():
        router.add_api_route(
            f"/{path}", empty(value), methods=["GET"], summary=f"{path} (none in huatu)"
        )
    return router
