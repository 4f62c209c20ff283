"""GenerationRequest: what a user asks for, validated in exactly one place.

Field names follow diffusers / Hugging Face (``num_inference_steps``, ``guidance_scale`` ...)
so that the same names work on every edge. Gradio checks slider ranges and dropdown choices
but not slider steps, numeric types or text length on direct API calls, so every edge (UI,
lessons, CLI, HTTP APIs) builds a request with :meth:`GenerationRequest.create` (or through
its :class:`~huatu.fields.FieldNames` table), which validates and normalises; nothing is
silently clamped.

A request has a ``mode`` (:data:`MODES`): text to image today; a new mode adds its fields
here (with their validation), its id to :data:`MODES`, and a backend method.

The limits and defaults below are the only copy: help texts, API descriptions and errors are
generated from them (:mod:`huatu.fields`).
"""

from __future__ import annotations

import math
import numbers
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

from huatu.errors import ValidationError

MAX_PROMPT_CHARS = 1000
MIN_STEPS, MAX_STEPS = 1, 100
MIN_GUIDANCE, MAX_GUIDANCE = 0.0, 20.0
MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE = 64, 1024, 8
MAX_SEED = 2**32 - 1
RANDOM_SEED = -1
MIN_IMAGES, MAX_IMAGES = 1, 4

#: The one default step count of every edge (the Balanced preset's); the A1111 API keeps
#: A1111's own 50 and the tutorial's lessons the tutorial's 25.
DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 7.0
DEFAULT_SIDE = 512
DEFAULT_SCHEDULER = "dpmpp_2m_karras"

#: Text to image: a prompt in, images out.
TXT2IMG = "txt2img"
#: The modes a request may ask for (a backend declares which of them it runs).
MODES = (TXT2IMG,)


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
        mode: what to do, one of :data:`MODES`. Default ``"txt2img"``.
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
        return replace(
            self,
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

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (JSON-serialisable)."""
        return asdict(self)


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


def _is_integral(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


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


def check_integer(
    field: str, value: Any, low: int, high: int, *, reason: str = "integer_range"
) -> int:
    """``value`` as an int when it is a whole number from ``low`` to ``high``.

    Raises:
        ValidationError: naming ``field`` and the value.
    """
    if not _is_integral(value) or not low <= int(value) <= high:
        raise ValidationError(field, value, reason, low=low, high=high)
    return int(value)


_integer = check_integer


def _number(field: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(field, value, "number_range", low=low, high=high)
    try:
        number = float(value)
    except OverflowError:  # a whole number too large for a float
        raise ValidationError(field, value, "number_range", low=low, high=high) from None
    if not (math.isfinite(number) and low <= number <= high):
        raise ValidationError(field, value, "number_range", low=low, high=high)
    return number


def _side(field: str, value: Any) -> int:
    number = int(value) if _is_integral(value) else None
    if number is None or not MIN_SIDE <= number <= MAX_SIDE or number % SIDE_MULTIPLE:
        raise ValidationError(
            field, value, "side", low=MIN_SIDE, high=MAX_SIDE, multiple=SIDE_MULTIPLE
        )
    return number
