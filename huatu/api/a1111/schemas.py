"""AUTOMATIC1111's request and response bodies, and their one mapping to the request.

:data:`FIELDS` names each A1111 field after the :class:`~huatu.request.GenerationRequest`
field it fills; it builds the request (:func:`plan`) and names a refused field as A1111 does
(``cfg_scale``, not ``guidance_scale``). The bodies' field descriptions are written from the
validator's limits (:func:`huatu.fields.describe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from huatu.errors import ValidationError
from huatu.fields import FieldNames, describe
from huatu.request import (
    DEFAULT_GUIDANCE,
    DEFAULT_SIDE,
    RANDOM_SEED,
    GenerationRequest,
    check_integer,
    check_seed,
    draw_seed,
    image_seeds,
)
from huatu.schedulers import a1111_scheduler_id

#: A1111's defaults where they differ from huatu's.
A1111_STEPS = 50
A1111_SAMPLER = "Euler"
MAX_N_ITER = 25
#: A1111's field names → the request's. ``sampler_name`` carries the scheduler id read from
#: the sampler name and schedule type; ``sd_model_checkpoint`` (``POST /options``) names the
#: model the service switches to.
FIELDS = FieldNames(
    {
        "prompt": "prompt",
        "negative_prompt": "negative_prompt",
        "steps": "num_inference_steps",
        "cfg_scale": "guidance_scale",
        "width": "width",
        "height": "height",
        "seed": "seed",
        "batch_size": "num_images",
        "sampler_name": "scheduler",
        "sd_model_checkpoint": "model",
        "step_cache": "step_cache",  # huatu's own: DeepCache, TAESD
        "fast_decode": "fast_decode",
    }
)
#: Lists and objects A1111 clients fetch on start-up; huatu has none of these things.
EMPTY_GETS: dict[str, Any] = {
    "latent-upscale-modes": [],
    "hypernetworks": [],
    "face-restorers": [],
    "realesrgan-models": [],
    "prompt-styles": [],
    "extensions": [],
    "script-info": [],
    "scripts": {"txt2img": [], "img2img": []},
    "cmd-flags": {},
}


def _described(name: str, default: Any) -> Any:
    """A body field named as A1111 names it, described from the validator's limits."""
    return Field(default, description=describe(FIELDS.names[name], default=default))


class Txt2ImgRequest(BaseModel):
    """A1111's ``StableDiffusionProcessingTxt2Img`` request body (the fields huatu reads).

    Values are taken as sent and checked by :meth:`GenerationRequest.create`, so every edge
    refuses the same values with the same sentence. ``null`` means the default.
    """

    model_config = ConfigDict(extra="ignore")

    prompt: Any = _described("prompt", "")
    negative_prompt: Any = _described("negative_prompt", "")
    steps: Any = _described("steps", A1111_STEPS)
    cfg_scale: Any = _described("cfg_scale", DEFAULT_GUIDANCE)
    width: Any = _described("width", DEFAULT_SIDE)
    height: Any = _described("height", DEFAULT_SIDE)
    seed: Any = _described("seed", RANDOM_SEED)
    batch_size: Any = _described("batch_size", 1)
    n_iter: Any = Field(
        1, description=f"Runs one after another, an integer from 1 to {MAX_N_ITER}. Default 1."
    )
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
    enable_hr: Any = Field(False, description="Hires fix: upscale and refine. Default false.")
    hr_scale: Any = Field(2.0, description=describe("hires_scale", default=2.0))
    hr_upscaler: Any = Field(
        "Latent", description="Latent (any 'Latent …' name), Lanczos or None. Default Latent."
    )
    hr_second_pass_steps: Any = Field(0, description=describe("hires_steps"))
    denoising_strength: Any = Field(None, description=describe("hires_strength"))
    step_cache: Any = _described("step_cache", False)
    fast_decode: Any = _described("fast_decode", False)
    override_settings: Any = Field(None, description="Ignored.")
    script_name: Any = Field(None, description="Ignored (no scripts).")
    alwayson_scripts: Any = Field(None, description="Ignored (no scripts).")


class Txt2ImgResponse(BaseModel):
    """A1111's ``TextToImageResponse``."""

    images: list[str] = Field(description="Base64 PNGs with their parameters text chunk.")
    parameters: dict[str, Any] = Field(description="The request, as A1111 echoes it.")
    info: str = Field(description="JSON text: prompts, seeds, sizes, infotexts …")


@dataclass(frozen=True)
class Plan:
    """A validated ``/txt2img``: ``n_iter`` runs of ``request`` from ``first_seed`` on.

    Attributes:
        request: the first run's request (its seed is ``first_seed``).
        n_iter: how many runs, one after another.
        first_seed: the seed of the first image; image *k* of the whole plan uses
            ``first_seed + k``.
        names: the body's A1111 names (a refusal names the field as the body did).
            Default txt2img's.
    """

    request: GenerationRequest
    n_iter: int
    first_seed: int
    names: FieldNames = FIELDS

    @property
    def seeds(self) -> list[int]:
        """Every image's seed, in order (run *i*, image *j*: ``first_seed + i*batch + j``)."""
        return image_seeds(self.first_seed, self.request.num_images * self.n_iter)

    def run(self, index: int) -> GenerationRequest:
        """The request of run ``index`` (from 0): its first seed follows the run before."""
        return self.request.with_seed(self.seeds[index * self.request.num_images])


def or_default(value: Any, default: Any) -> Any:
    """``value``, or ``default`` when it is ``None`` (a client's ``null``)."""
    return default if value is None else value


def plan(
    body: Txt2ImgRequest, fields: FieldNames = FIELDS, edits: dict[str, Any] | None = None
) -> Plan:
    """Validate ``body`` into a :class:`Plan`, drawing the first seed when it is -1.

    Args:
        body: the request body. fields: its A1111 names → the request's. Default txt2img's.
        edits: the editing (or hires) values already read, under A1111's names.

    Raises:
        ValidationError: the first bad field, named as A1111 names it.
    """
    sampler = next(
        (name for name in (body.sampler_name, body.sampler_index) if name not in (None, "")),
        A1111_SAMPLER,
    )
    scheduler = a1111_scheduler_id(sampler, body.scheduler)
    n_iter = check_integer("n_iter", or_default(body.n_iter, 1), 1, MAX_N_ITER)
    if not isinstance(or_default(body.send_images, True), bool):
        raise ValidationError("send_images", body.send_images, "choice", choices="true, false")
    values = {name: getattr(body, name) for name in FIELDS.names if name in type(body).model_fields}
    values.update(steps=or_default(body.steps, A1111_STEPS), sampler_name=scheduler)
    values.update(edits or {})
    request = fields.request(values)
    total = request.num_images * n_iter
    seed = check_seed(fields.edge_name("seed"), or_default(body.seed, RANDOM_SEED), total)
    first = draw_seed(total) if seed == RANDOM_SEED else seed
    return Plan(request.with_seed(first), n_iter, first, fields)
