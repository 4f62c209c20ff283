"""GenerationRequest: what a user asks for, validated in exactly one place.

Field names follow diffusers / Hugging Face (``num_inference_steps``, ``guidance_scale`` ...)
so that the same names work on every edge. Gradio checks slider ranges and dropdown choices
but not slider steps, numeric types or text length on direct API calls, so every edge (UI,
lessons, CLI, HTTP APIs) builds a request with :meth:`GenerationRequest.create` (or through
its :class:`~huatu.fields.FieldNames` table), which validates and normalises; nothing is
silently clamped.

A request has a ``mode`` (:data:`MODES`): text to image, image to image, inpainting (which
also outpaints); a new mode adds its fields here (with their validation), its id to
:data:`MODES`, and its run in the backends that declare it. Pictures arrive already checked
(:func:`huatu.images.read_image`).

The limits and defaults below are the only copy: help texts, API descriptions and errors are
generated from them (:mod:`huatu.fields`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields, replace
from typing import Any

from huatu.checks import (
    MAX_SIDE,
    MAX_STEPS,
    MIN_SIDE,
    MIN_STEPS,
    SIDE_MULTIPLE,
    check_integer,
    check_number,
    is_integral,
)
from huatu.edit_fields import (
    DEFAULT_HIRES_STRENGTH,
    DEFAULT_INPAINT_PADDING,
    DEFAULT_MASK_BLUR,
    DEFAULT_STRENGTH,
    EDIT_MODES,
    HIRES_UPSCALERS,
    IMG2IMG,
    INPAINT,
    INPAINT_AREAS,
    MASKED_CONTENT,
    MIN_HIRES_SCALE,
    TXT2IMG,
    editing_fields,
    hires_fields,
    hires_size,
    outpaint_amounts,
)
from huatu.errors import ValidationError
from huatu.images import DEFAULT_RESIZE_MODE, InputImage

_integer = check_integer
_number = check_number
_is_integral = is_integral

MAX_PROMPT_CHARS = 1000
MIN_GUIDANCE, MAX_GUIDANCE = 0.0, 20.0
MAX_SEED = 2**32 - 1
RANDOM_SEED = -1
MIN_IMAGES, MAX_IMAGES = 1, 4

#: The one default step count of every edge (the Balanced preset's); the A1111 API keeps
#: A1111's own 50 and the tutorial's lessons the tutorial's 25.
DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 7.0
DEFAULT_SIDE = 512
DEFAULT_SCHEDULER = "dpmpp_2m_karras"

#: The modes a request may ask for (a backend declares which of them it runs).
MODES = (TXT2IMG, IMG2IMG, INPAINT)


#: The request's on/off options of how a run goes (each a backend capability of the same
#: name): step caching and the fast decoder.
RUN_OPTIONS = ("step_cache", "fast_decode")


@dataclass(frozen=True)
class GenerationRequest:
    """One request for images.

    Attributes:
        prompt: what to draw; 1–1,000 characters. Required.
        negative_prompt: what to avoid; up to 1,000 characters. Default ``""``.
        num_inference_steps: denoising steps, an integer 1–100. Default 20.
        guidance_scale: how strongly the prompt steers the image, 0–20 (0 or 1 turns
            classifier-free guidance off). Default 7.
        width: image width in pixels, an integer 64–1024 and a multiple of 8. Default 512.
        height: image height in pixels, same rules as ``width``. Default 512.
        seed: ``-1`` for a random seed, else 0–2**32-1; image *i* of a run uses ``seed + i``.
            Default -1.
        num_images: how many images to make in this run, 1–4. Default 1.
        scheduler: scheduler id, see :data:`huatu.schedulers.SCHEDULERS`.
            Default ``"dpmpp_2m_karras"`` (DPM++ 2M Karras).
        mode: what to do, one of :data:`MODES`. Default: ``inpaint`` when a mask or an
            outpaint is given, ``img2img`` when a source picture is, else ``txt2img``.
        init_image: the source picture (image to image, inpainting). Default none.
        mask: what to repaint (white), same size as the source or resized to it. Default none.
        strength: denoising strength 0–1: how far from the source the result may go; the run
            takes about ``strength × steps`` steps. Default 0.75.
        resize_mode: when the source is not ``width``×``height``: ``just_resize``,
            ``crop_and_resize`` or ``resize_and_fill`` (A1111's). Default ``just_resize``.
        mask_blur: the mask's edge blur in pixels, 0–64. Default 4.
        masked_content: ``original`` or ``latent_noise``. Default ``original``.
        inpaint_area: ``whole`` or ``only_masked``. Default ``whole``.
        inpaint_padding: pixels around the masked part with ``only_masked``, 0–256.
            Default 32.
        invert_mask: repaint what the mask leaves black instead. Default off.
        outpaint: pixels added (left, right, up, down), each a multiple of 8; the new area is
            inpainted. Default none.
        hires_scale: hires fix (text to image): upscale the first image by 1–4 and refine it
            with an image-to-image pass. Default 1 (off).
        hires_steps: steps of that pass, 0–100 (0: as many as ``num_inference_steps``).
            Default 0.
        hires_strength: denoising strength of that pass, 0–1. Default 0.7.
        hires_upscaler: ``Lanczos`` (pixels) or ``Latent``. Default ``Lanczos``.
        step_cache: reuse the UNet's deep features between steps (DeepCache: a full UNet
            call every 3, the shallow layers only in between): faster, slightly different
            pictures; where the backend cannot, it is said and the run is not cached.
            Default off.
        fast_decode: decode with TAESD (a tiny decoder: a fraction of the VAE's time,
            slightly softer detail) instead of the model's VAE. Default off.
    """

    prompt: str
    negative_prompt: str = ""
    num_inference_steps: int = DEFAULT_STEPS
    guidance_scale: float = DEFAULT_GUIDANCE
    width: int = DEFAULT_SIDE
    height: int = DEFAULT_SIDE
    seed: int = RANDOM_SEED
    num_images: int = 1
    scheduler: str = DEFAULT_SCHEDULER
    mode: str = TXT2IMG
    init_image: InputImage | None = None
    mask: InputImage | None = None
    strength: float = DEFAULT_STRENGTH
    resize_mode: str = DEFAULT_RESIZE_MODE
    mask_blur: int = DEFAULT_MASK_BLUR
    masked_content: str = MASKED_CONTENT[0]
    inpaint_area: str = INPAINT_AREAS[0]
    inpaint_padding: int = DEFAULT_INPAINT_PADDING
    invert_mask: bool = False
    outpaint: tuple[int, int, int, int] = (0, 0, 0, 0)
    hires_scale: float = MIN_HIRES_SCALE
    hires_steps: int = 0
    hires_strength: float = DEFAULT_HIRES_STRENGTH
    hires_upscaler: str = HIRES_UPSCALERS[0]
    step_cache: bool = False
    fast_decode: bool = False

    @classmethod
    def create(cls, **fields: Any) -> GenerationRequest:
        """Build a request from loosely typed edge input and validate it.

        ``None`` for an optional field means "use the default". Numbers given as floats are
        accepted for integer fields only when they are whole (``25.0``, not ``10.7``).

        Raises:
            ValidationError: naming the first bad field and its value.
        """
        given = {name: value for name, value in fields.items() if value is not None}
        unknown = set(given) - set(cls.__dataclass_fields__)
        if unknown:
            name = sorted(unknown)[0]
            raise ValidationError(name, given[name], "unknown_field")
        if "prompt" not in given:
            raise ValidationError("prompt", None, "required")
        if "mode" not in given:
            if given.get("mask") is not None or any(outpaint_amounts(given)):
                given["mode"] = INPAINT
            elif given.get("init_image") is not None:
                given["mode"] = IMG2IMG
        return cls(**given).validate()

    def validate(self) -> GenerationRequest:
        """Check every field; return a copy with normalised types (``int``/``float``).

        Raises:
            ValidationError: naming the first bad field and its value.
        """
        from huatu.schedulers import scheduler_ids

        if self.mode not in MODES:
            raise ValidationError("mode", self.mode, "choice", choices=", ".join(MODES))
        prompt = _text("prompt", self.prompt, required=True)
        negative = _text("negative_prompt", self.negative_prompt, required=False)
        steps = _integer("num_inference_steps", self.num_inference_steps, MIN_STEPS, MAX_STEPS)
        guidance = _number("guidance_scale", self.guidance_scale, MIN_GUIDANCE, MAX_GUIDANCE)
        width = _side("width", self.width)
        height = _side("height", self.height)
        check_seed("seed", self.seed, 1)  # its range is checked before num_images
        num_images = _integer("num_images", self.num_images, MIN_IMAGES, MAX_IMAGES)
        seed = check_seed("seed", self.seed, num_images)
        if self.scheduler not in scheduler_ids():
            raise ValidationError(
                "scheduler", self.scheduler, "choice", choices=", ".join(scheduler_ids())
            )
        for option in RUN_OPTIONS:
            if not isinstance(getattr(self, option), bool):
                raise ValidationError(option, getattr(self, option), "boolean")
        editing = editing_fields(self, width, height)
        hires = hires_fields(self, width, height)
        return replace(
            self,
            **editing,
            **hires,
            prompt=prompt,
            negative_prompt=negative,
            num_inference_steps=steps,
            guidance_scale=guidance,
            width=width,
            height=height,
            seed=seed,
            num_images=num_images,
        )

    def with_seed(self, seed: int) -> GenerationRequest:
        """Return a copy whose ``seed`` is ``seed`` (used once a random seed is drawn)."""
        return replace(self, seed=seed)

    def with_drawn_seed(self) -> GenerationRequest:
        """This request with a random ``seed`` drawn when it is -1 (:func:`draw_seed`), else
        itself."""
        if self.seed != RANDOM_SEED:
            return self
        return self.with_seed(draw_seed(self.num_images))

    @property
    def seeds(self) -> list[int]:
        """The seed of each image of the run (:func:`image_seeds`); the seed must be drawn."""
        return image_seeds(self.seed, self.num_images)

    @property
    def is_edit(self) -> bool:
        """Whether it starts from a source picture."""
        return self.mode in EDIT_MODES

    @property
    def output_size(self) -> tuple[int, int]:
        """``(width, height)`` of the result: after an outpaint or a hires fix."""
        left, right, up, down = self.outpaint
        if self.mode == INPAINT and any(self.outpaint):
            return self.width + left + right, self.height + up + down
        return hires_size(self.width, self.height, self.hires_scale)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (JSON-serialisable): pictures by their
        ``sha256`` digest."""
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        for name in ("init_image", "mask"):
            if values[name] is not None:
                values[name] = f"sha256:{values[name].digest}"
        values["outpaint"] = list(self.outpaint)
        return values


# --------------------------------------------------------------------------------------------
# Seeds: the one rule for drawing a seed and for the seeds of several images


def draw_seed(count: int = 1) -> int:
    """A random first seed for ``count`` images, leaving room for ``seed + count - 1``."""
    return secrets.randbelow(MAX_SEED - count + 2)


def image_seeds(first: int, count: int) -> list[int]:
    """The seeds of ``count`` images starting at ``first``: image *i* uses ``first + i``."""
    if first == RANDOM_SEED:
        raise ValueError("draw the seed first (GenerationRequest.with_drawn_seed)")
    return [first + index for index in range(count)]


def check_seed(field: str, seed: Any, count: int) -> int:
    """``seed`` as an int when it is -1 or leaves room for ``count`` images.

    Raises:
        ValidationError: naming ``field``: not -1 or 0–2**32-1, or ``seed + count - 1``
            past 2**32-1.
    """
    if _is_integral(seed) and int(seed) == RANDOM_SEED:
        return RANDOM_SEED
    number = _integer(field, seed, 0, MAX_SEED, reason="seed_range")
    if number + count - 1 > MAX_SEED:
        raise ValidationError(field, seed, "seed_room", high=MAX_SEED - count + 1, count=count)
    return number


# --------------------------------------------------------------------------------------------
# Field checks


def _text(field: str, value: Any, *, required: bool) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, value, "text")
    if required and not value.strip():
        raise ValidationError(field, value, "empty")
    if len(value) > MAX_PROMPT_CHARS:
        raise ValidationError(field, value, "too_long", limit=MAX_PROMPT_CHARS)
    if "\x00" in value:
        raise ValidationError(field, value, "nul")
    return value


def _side(field: str, value: Any) -> int:
    number = int(value) if _is_integral(value) else None
    if number is None or not MIN_SIDE <= number <= MAX_SIDE or number % SIDE_MULTIPLE:
        raise ValidationError(
            field, value, "side", low=MIN_SIDE, high=MAX_SIDE, multiple=SIDE_MULTIPLE
        )
    return number
