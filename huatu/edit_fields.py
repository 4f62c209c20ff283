"""The fields of the editing modes and of the hires fix, and their checks.

Image to image, inpainting (and outpainting) start from a checked picture
(:class:`huatu.images.InputImage`); the hires fix enlarges a text-to-image result. Their
limits and defaults are the only copy; :class:`huatu.request.GenerationRequest` calls
:func:`editing_fields` and :func:`hires_fields` when it validates.
"""

from __future__ import annotations

from typing import Any

from huatu.checks import (
    MAX_SIDE,
    MAX_STEPS,
    SIDE_MULTIPLE,
    check_integer,
    check_number,
    is_integral,
)
from huatu.errors import ValidationError
from huatu.images import RESIZE_MODES, InputImage

#: Text to image: a prompt in, images out.
TXT2IMG = "txt2img"
#: Image to image: a source picture varied by the prompt, as much as ``strength`` says.
IMG2IMG = "img2img"
#: Inpainting: the masked part of a source repainted (and outpainting: the canvas extended).
INPAINT = "inpaint"
#: The modes that start from a source picture.
EDIT_MODES = (IMG2IMG, INPAINT)

DEFAULT_STRENGTH = 0.75
MIN_MASK_BLUR, MAX_MASK_BLUR, DEFAULT_MASK_BLUR = 0, 64, 4
#: A1111's "masked content": start the masked area from the picture, or from noise.
MASKED_CONTENT = ("original", "latent_noise")
#: A1111's "inpaint area": repaint at the whole picture's scale, or only the masked part
#: (cropped with padding, repainted at full resolution, pasted back).
INPAINT_AREAS = ("whole", "only_masked")
MAX_INPAINT_PADDING, DEFAULT_INPAINT_PADDING = 256, 32
MIN_HIRES_SCALE, MAX_HIRES_SCALE = 1.0, 4.0
DEFAULT_HIRES_STRENGTH = 0.7
#: How hires fix enlarges the first image: in pixels (Lanczos) or in the latent space.
HIRES_UPSCALERS = ("Lanczos", "Latent")


def hires_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The size after a hires fix of ``scale``: each side scaled and rounded to a multiple
    of 8 (the size itself when ``scale`` is 1)."""
    if scale == 1:
        return width, height
    return (
        round(width * scale / SIDE_MULTIPLE) * SIDE_MULTIPLE,
        round(height * scale / SIDE_MULTIPLE) * SIDE_MULTIPLE,
    )


def outpaint_amounts(given: dict[str, Any]) -> tuple[Any, ...]:
    """The outpaint amounts among loosely given fields (to tell the mode)."""
    amounts = given.get("outpaint") or ()
    return tuple(amounts) if isinstance(amounts, (list, tuple)) else (amounts,)


def editing_fields(request: Any, width: int, height: int) -> dict[str, Any]:
    """The checked editing fields of ``request`` (by name)."""
    mode = request.mode
    if mode in EDIT_MODES and not isinstance(request.init_image, InputImage):
        raise ValidationError("init_image", request.init_image, "required_for_mode", mode=mode)
    if mode == TXT2IMG and (request.init_image is not None or request.mask is not None):
        raise ValidationError("init_image", request.init_image, "only_for_edits")
    if request.mask is not None and not isinstance(request.mask, InputImage):
        raise ValidationError("mask", request.mask, "image_unreadable")
    if request.mask is not None and mode != INPAINT:
        raise ValidationError("mask", request.mask, "only_for_inpaint")
    outpaint = _outpaint(request.outpaint, width, height)
    if any(outpaint) and mode != INPAINT:
        raise ValidationError("outpaint", list(request.outpaint), "only_for_inpaint")
    if mode == INPAINT and request.mask is None and not any(outpaint):
        raise ValidationError("mask", None, "required_for_mode", mode=mode)
    if request.resize_mode not in RESIZE_MODES:
        choices = ", ".join(RESIZE_MODES)
        raise ValidationError("resize_mode", request.resize_mode, "choice", choices=choices)
    if request.masked_content not in MASKED_CONTENT:
        choices = ", ".join(MASKED_CONTENT)
        raise ValidationError("masked_content", request.masked_content, "choice", choices=choices)
    if request.inpaint_area not in INPAINT_AREAS:
        choices = ", ".join(INPAINT_AREAS)
        raise ValidationError("inpaint_area", request.inpaint_area, "choice", choices=choices)
    if not isinstance(request.invert_mask, bool):
        raise ValidationError("invert_mask", request.invert_mask, "boolean")
    return {
        "strength": check_number("strength", request.strength, 0.0, 1.0),
        "mask_blur": check_integer("mask_blur", request.mask_blur, MIN_MASK_BLUR, MAX_MASK_BLUR),
        "inpaint_padding": check_integer(
            "inpaint_padding", request.inpaint_padding, 0, MAX_INPAINT_PADDING
        ),
        "outpaint": outpaint,
    }


def _outpaint(value: Any, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, right, up, down), each a multiple of 8, the result within the side limit."""
    amounts = tuple(value) if isinstance(value, (list, tuple)) else None
    if amounts is None or len(amounts) != 4 or not all(is_integral(a) for a in amounts):
        raise ValidationError("outpaint", value, "outpaint", multiple=SIDE_MULTIPLE)
    left, right, up, down = (int(amount) for amount in amounts)
    if min(left, right, up, down) < 0 or any(a % SIDE_MULTIPLE for a in (left, right, up, down)):
        raise ValidationError("outpaint", value, "outpaint", multiple=SIDE_MULTIPLE)
    if width + left + right > MAX_SIDE or height + up + down > MAX_SIDE:
        size = f"{width + left + right}×{height + up + down}"
        raise ValidationError("outpaint", list(amounts), "result_too_big", size=size, high=MAX_SIDE)
    return left, right, up, down


def hires_fields(request: Any, width: int, height: int) -> dict[str, Any]:
    """The checked hires-fix fields of ``request`` (by name)."""
    scale = check_number("hires_scale", request.hires_scale, MIN_HIRES_SCALE, MAX_HIRES_SCALE)
    if scale != 1 and request.mode != TXT2IMG:
        raise ValidationError("hires_scale", request.hires_scale, "only_for_txt2img")
    final = hires_size(width, height, scale)
    if max(final) > MAX_SIDE:
        size = f"{final[0]}×{final[1]}"
        raise ValidationError(
            "hires_scale", request.hires_scale, "result_too_big", size=size, high=MAX_SIDE
        )
    if request.hires_upscaler not in HIRES_UPSCALERS:
        choices = ", ".join(HIRES_UPSCALERS)
        raise ValidationError("hires_upscaler", request.hires_upscaler, "choice", choices=choices)
    return {
        "hires_scale": scale,
        "hires_steps": check_integer("hires_steps", request.hires_steps, 0, MAX_STEPS),
        "hires_strength": check_number("hires_strength", request.hires_strength, 0.0, 1.0),
    }


# --------------------------------------------------------------------------------------------
# In the PNG's metadata (A1111's names)

#: ``masked_content`` / ``inpaint_area`` / ``resize_mode`` as A1111's infotext writes them.
_MASKED_CONTENT_LABELS = {"original": "original", "latent_noise": "latent noise"}
_RESIZE_LABELS = {"crop_and_resize": "Crop and resize", "resize_and_fill": "Resize and fill"}


def metadata_of(request: Any) -> dict[str, object]:
    """The A1111 settings a request's mode adds to the PNG's metadata, in A1111's names:
    ``Denoising strength``, ``Mask blur``, ``Masked content``, ``Inpaint area`` (with its
    padding), ``Mask mode``, ``Hires upscale``/``steps``/``upscaler``; plus huatu's
    ``Outpaint`` and ``Resize mode`` when used. Text to image without hires adds none."""
    found: dict[str, object] = {}
    if request.mode in EDIT_MODES:
        found["Denoising strength"] = request.strength
        if request.resize_mode in _RESIZE_LABELS:
            found["Resize mode"] = _RESIZE_LABELS[request.resize_mode]
    if request.mode == INPAINT:
        found["Mask blur"] = request.mask_blur
        found["Masked content"] = _MASKED_CONTENT_LABELS[request.masked_content]
        if request.inpaint_area == "only_masked":
            found["Inpaint area"] = "Only masked"
            found["Masked area padding"] = request.inpaint_padding
        if request.invert_mask:
            found["Mask mode"] = "Inpaint not masked"
        if any(request.outpaint):
            found["Outpaint"] = " ".join(str(amount) for amount in request.outpaint)
    if request.mode == TXT2IMG and request.hires_scale != 1:
        found["Denoising strength"] = request.hires_strength
        found["Hires upscale"] = request.hires_scale
        if request.hires_steps:
            found["Hires steps"] = request.hires_steps
        found["Hires upscaler"] = request.hires_upscaler
    return found


def fields_from_metadata(settings: dict[str, str]) -> dict[str, Any]:
    """The editing and hires request fields in an A1111 settings line (:func:`metadata_of`'s
    names, as huatu and A1111 write them); unreadable values are left out. ``mode`` says
    which mode the picture was made in (inpaint when a mask setting is there, img2img when
    only a denoising strength is, txt2img with a hires upscale)."""
    found: dict[str, Any] = {}
    strength = _float_or_none(settings.get("Denoising strength"))
    scale = _float_or_none(settings.get("Hires upscale"))
    if scale is not None:
        found.update(mode=TXT2IMG, hires_scale=scale)
        if strength is not None:
            found["hires_strength"] = strength
        if (steps := _float_or_none(settings.get("Hires steps"))) is not None:
            found["hires_steps"] = int(steps)
        if settings.get("Hires upscaler") in HIRES_UPSCALERS:
            found["hires_upscaler"] = settings["Hires upscaler"]
        return found
    if strength is None:
        return found
    found.update(mode=IMG2IMG, strength=strength)
    if "Mask blur" in settings or "Masked content" in settings:
        found["mode"] = INPAINT
        if (blur := _float_or_none(settings.get("Mask blur"))) is not None:
            found["mask_blur"] = int(blur)
        labels = {label: name for name, label in _MASKED_CONTENT_LABELS.items()}
        if settings.get("Masked content") in labels:
            found["masked_content"] = labels[settings["Masked content"]]
        if settings.get("Inpaint area") == "Only masked":
            found["inpaint_area"] = "only_masked"
            padding = _float_or_none(settings.get("Masked area padding"))
            if padding is not None:
                found["inpaint_padding"] = int(padding)
        found["invert_mask"] = settings.get("Mask mode") == "Inpaint not masked"
    amounts = (settings.get("Outpaint") or "").split()
    if len(amounts) == 4 and all(amount.isdigit() for amount in amounts):
        found.update(mode=INPAINT, outpaint=tuple(int(amount) for amount in amounts))
    resize = {label: name for name, label in _RESIZE_LABELS.items()}
    if settings.get("Resize mode") in resize:
        found["resize_mode"] = resize[settings["Resize mode"]]
    return found


def _float_or_none(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
