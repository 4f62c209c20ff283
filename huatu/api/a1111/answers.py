"""AUTOMATIC1111's answers: base64 PNGs, model items, the ``info`` text, and error bodies.

Errors answer in the shapes A1111 clients already handle: a refused field is FastAPI's 422
validation list (what A1111 answers when pydantic refuses a field); any other failure is the
body of A1111's API error handler, ``{"error", "detail", "body", "errors"}``, with the status
of the one table (:func:`huatu.api.http_errors.failure_of`).
"""

from __future__ import annotations

import base64
import io
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse

from huatu import __version__
from huatu.api.a1111.models import checkpoint
from huatu.api.http_errors import API_LANGUAGE, failure_of, plain, sentence
from huatu.errors import HuatuError, Secrets, ValidationError
from huatu.messages import message
from huatu.metadata import png_bytes
from huatu.schedulers import get_scheduler_spec

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.api.a1111.schemas import Plan
    from huatu.service import GenerationResult, ImageService


def b64_png(image: Image, parameters: str | None = None) -> str:
    """``image`` as base64 PNG text (with the ``parameters`` chunk when given)."""
    if parameters is not None:
        data = png_bytes(image, parameters)
    else:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data = buffer.getvalue()
    return base64.b64encode(data).decode("ascii")


def error_response(error: BaseException, secrets: Secrets) -> JSONResponse:
    """The HTTP answer for ``error``; ``secrets`` (the settings) are kept out of it.

    A :class:`ValidationError` must already name the field as A1111 does
    (:meth:`huatu.fields.FieldNames.refusal`).
    """
    if isinstance(error, ValidationError):
        text = sentence(error, secrets)
        detail: dict[str, Any] = {"type": "value_error", "loc": ["body", error.field], "msg": text}
        value = error.masked(secrets.mask).value
        if value is None or isinstance(value, (str, int, float)):
            detail["input"] = plain(value)
        return JSONResponse(status_code=422, content={"detail": [detail]})
    if isinstance(error, HuatuError):
        text = sentence(error, secrets)
    else:
        text = message("api_unexpected_failure", API_LANGUAGE, kind=type(error).__name__)
    failure = failure_of(error)
    content = {"error": type(error).__name__, "detail": text, "body": "", "errors": text}
    return JSONResponse(status_code=failure.status, content=content, headers=failure.headers)


def info(
    service: ImageService,
    plan: Plan,
    results: list[GenerationResult],
    styles: Any,
) -> str:
    """A1111's ``Processed.js()`` JSON text for the runs of ``plan`` made (``results``);
    ``styles`` is the request's, echoed when it is a list."""
    request = plan.request
    backend = service.backend
    sampler = (
        backend.sampler_label(request)
        if backend is not None
        else get_scheduler_spec(request.scheduler).label
    )
    seeds = plan.seeds
    count = len(seeds)
    fields = {
        "prompt": request.prompt,
        "all_prompts": [request.prompt] * count,
        "negative_prompt": request.negative_prompt,
        "all_negative_prompts": [request.negative_prompt] * count,
        "seed": plan.first_seed,
        "all_seeds": seeds,
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
        "sd_model_name": checkpoint(service.choice.model, service.settings)["model_name"],
        "sd_model_hash": backend.model_hash if backend is not None else None,
        "sd_vae_name": None,
        "sd_vae_hash": None,
        "seed_resize_from_w": -1,
        "seed_resize_from_h": -1,
        "denoising_strength": (
            request.strength
            if request.is_edit
            else (request.hires_strength if request.hires_scale != 1 else None)
        ),
        "extra_generation_params": {},
        "index_of_first_image": 0,
        "infotexts": [text for result in results for text in result.parameters],
        "styles": plain(styles) if isinstance(styles, list) else [],
        "job_timestamp": datetime.now().strftime("%Y%m%d%H%M%S"),
        "clip_skip": 1,
        "is_using_inpainting_conditioning": False,
        "version": f"huatu {__version__}",
    }
    return json.dumps(fields, ensure_ascii=False)
