"""How each edge names the request's fields, and the one description of each field.

Every edge maps its own field names to :class:`~huatu.request.GenerationRequest`'s in one
:class:`FieldNames` table in its own module (A1111's ``cfg_scale``, OpenAI's ``n`` …); the
studio, its Gradio API, the MCP tool, the CLI, the lessons and prompt files share the short
names of :data:`FORM`. :func:`describe` writes a field's help text from the validator's own
limits and defaults, so no edge types a limit again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from huatu.errors import ValidationError
from huatu.request import (
    MAX_GUIDANCE,
    MAX_IMAGES,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MIN_GUIDANCE,
    MIN_IMAGES,
    MIN_SIDE,
    MIN_STEPS,
    MODES,
    RANDOM_SEED,
    SIDE_MULTIPLE,
    GenerationRequest,
)


@dataclass(frozen=True)
class FieldNames:
    """One edge's names for the request's fields.

    Attributes:
        names: edge name → request field name, or a tuple of them when one edge field fills
            several (OpenAI's ``size`` → ``("width", "height")``: its value is then a tuple
            of theirs). Names not in the table are passed on unchanged (the validator refuses
            the unknown ones).
        rename_errors: name a refused field as the edge does (``cfg_scale``) rather than as
            the request does (``guidance_scale``). Default ``True``.
    """

    names: Mapping[str, str | tuple[str, ...]]
    rename_errors: bool = True

    def request_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` (edge names) under the request's field names."""
        fields: dict[str, Any] = {}
        for name, value in values.items():
            target = self.names.get(name, name)
            if isinstance(target, tuple):
                fields.update(zip(target, value, strict=True))
            else:
                fields[target] = value
        return fields

    def request(self, values: Mapping[str, Any], **fixed: Any) -> GenerationRequest:
        """Validate ``values`` (edge names) and ``fixed`` (request names) into a request.

        Raises:
            ValidationError: the first bad field, named as this edge names it.
        """
        try:
            return GenerationRequest.create(**{**self.request_fields(values), **fixed})
        except ValidationError as error:
            raise self.refusal(error) from None

    def edge_name(self, field: str) -> str:
        """The edge's name for request field ``field`` (itself when the edge has none)."""
        for edge, target in self.names.items():
            if field == target or (isinstance(target, tuple) and field in target):
                return edge
        return field

    def refusal(self, error: ValidationError) -> ValidationError:
        """``error`` naming the field as this edge does (unchanged unless ``rename_errors``)."""
        if not self.rename_errors:
            return error
        name = self.edge_name(error.field)
        return error if name == error.field else error.renamed(name)


#: The studio's, Gradio API's, MCP tool's, CLI's, lessons' and prompt files' names.
FORM = FieldNames(
    {
        "prompt": "prompt",
        "negative_prompt": "negative_prompt",
        "steps": "num_inference_steps",
        "guidance": "guidance_scale",
        "width": "width",
        "height": "height",
        "seed": "seed",
        "num_images": "num_images",
        "scheduler": "scheduler",
    },
    rename_errors=False,
)

_DEFAULTS = {field.name: field.default for field in fields(GenerationRequest)}


def _rules() -> dict[str, str]:
    from huatu.schedulers import scheduler_ids

    side = f"an integer from {MIN_SIDE} to {MAX_SIDE} and a multiple of {SIDE_MULTIPLE}"
    return {
        "prompt": f"What to draw; 1 to {MAX_PROMPT_CHARS:,} characters",
        "negative_prompt": f"What to keep out of the image; up to {MAX_PROMPT_CHARS:,} characters",
        "num_inference_steps": f"Denoising steps, an integer from {MIN_STEPS} to {MAX_STEPS}",
        "guidance_scale": (
            f"How strongly the image follows the prompt (classifier-free guidance), "
            f"{MIN_GUIDANCE:g} to {MAX_GUIDANCE:g}; 0 or 1 turns guidance off"
        ),
        "width": f"Image width in pixels, {side}",
        "height": f"Image height in pixels, {side}",
        "seed": (
            f"{RANDOM_SEED} picks a random seed, else an integer from 0 to {MAX_SEED}; image i "
            "of a run uses seed + i"
        ),
        "num_images": f"How many images to make, an integer from {MIN_IMAGES} to {MAX_IMAGES}",
        "scheduler": f"Sampler, one of {', '.join(scheduler_ids())}",
        "mode": f"What to do, one of {', '.join(MODES)}",
        **_edit_rules(),
    }


def _edit_rules() -> dict[str, str]:
    """The editing and hires-fix fields' rules."""
    from huatu.edit_fields import (
        HIRES_UPSCALERS,
        INPAINT_AREAS,
        MASKED_CONTENT,
        MAX_HIRES_SCALE,
        MAX_INPAINT_PADDING,
        MAX_MASK_BLUR,
        MIN_HIRES_SCALE,
    )
    from huatu.images import RESIZE_MODES

    return {
        "init_image": "The source picture (image to image, inpainting, outpainting)",
        "mask": "What to repaint: white repaints, black keeps; resized to the picture if needed",
        "strength": (
            "Denoising strength, 0 to 1: how far the result may go from the source; the run "
            "takes about strength × steps steps"
        ),
        "resize_mode": f"When the source is not the size asked: one of {', '.join(RESIZE_MODES)}",
        "mask_blur": f"Blur of the mask's edge in pixels, 0 to {MAX_MASK_BLUR}",
        "masked_content": f"What the masked area starts from, one of {', '.join(MASKED_CONTENT)}",
        "inpaint_area": f"What is repainted at full size, one of {', '.join(INPAINT_AREAS)}",
        "inpaint_padding": (
            f"Pixels kept around the mask with only_masked, 0 to {MAX_INPAINT_PADDING}"
        ),
        "invert_mask": "Repaint what the mask leaves black instead",
        "outpaint": (
            f"Pixels to add left, right, up, down (each a multiple of {SIDE_MULTIPLE}); the new "
            "area is painted"
        ),
        "hires_scale": (
            f"Hires fix: upscale the image by {MIN_HIRES_SCALE:g} to {MAX_HIRES_SCALE:g} and "
            "refine it; 1 is off"
        ),
        "hires_steps": f"Steps of the hires pass, 0 to {MAX_STEPS} (0: as many as steps)",
        "hires_strength": "Denoising strength of the hires pass, 0 to 1",
        "hires_upscaler": f"How the hires fix enlarges, one of {', '.join(HIRES_UPSCALERS)}",
        "step_cache": (
            "Step caching (DeepCache): the UNet's deep layers run every third step only (on "
            "a CPU with bf16, token merging too: ToMe 0.5); faster, the picture slightly "
            "different"
        ),
        "fast_decode": (
            "Decode with TAESD, a tiny decoder: a fraction of the VAE's time, slightly softer "
            "detail"
        ),
    }


def shown_default(field: str, default: Any = None) -> str:
    """How a default is written in help texts ("none", "-1 (random)", "7" …)."""
    value = _DEFAULTS[field] if default is None else default
    if value == "" or value is None:
        return "none"
    if isinstance(value, bool):
        return "off" if not value else "on"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    if field == "seed" and value == RANDOM_SEED:
        return f"{RANDOM_SEED} (random)"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe(field: str, *, default: Any = None) -> str:
    """A request field's help text: what it does, its limits and its default.

    Args:
        field: a request field name (``num_inference_steps``).
        default: the edge's own default, where it differs from the request's (A1111's 50
            steps). Default: the request's.

    Example: ``describe("num_inference_steps")`` is "Denoising steps, an integer from 1 to
    100. Default 20."
    """
    rule = _rules()[field]
    if field == "prompt":
        return f"{rule}. Required."
    return f"{rule}. Default {shown_default(field, default)}."
