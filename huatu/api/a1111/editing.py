"""AUTOMATIC1111's editing bodies: ``/img2img``, txt2img's hires fix, ``/extra-single-image``
and ``/png-info``, and their one mapping to the request.

A1111's values are read as A1111 means them (``inpainting_fill`` 0–3, ``resize_mode`` 0–2,
``inpaint_full_res`` true/false, ``hr_upscaler`` names) and refused naming A1111's field.
Pictures arrive as base64 (a ``data:`` URI is accepted) and are checked by
:func:`huatu.images.read_image`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from huatu.api.a1111.schemas import FIELDS, Plan, Txt2ImgRequest, or_default, plan
from huatu.checks import check_integer
from huatu.edit_fields import (
    DEFAULT_HIRES_STRENGTH,
    DEFAULT_MASK_BLUR,
    DEFAULT_STRENGTH,
)
from huatu.errors import ValidationError
from huatu.fields import FieldNames, describe
from huatu.images import RESIZE_MODES, UPSCALERS, InputImage, fit, read_image
from huatu.upscaling import Upscaled, upscale_picture

#: ``inpainting_fill``: A1111's fill, original, latent noise, latent nothing → huatu's
#: masked content (fill starts from the picture, as original does; latent nothing from
#: noise, as latent noise does).
INPAINTING_FILL = ("original", "original", "latent_noise", "latent_noise")
#: A1111's names for its hires upscalers → huatu's two (every "Latent …" is the latent one).
A1111_HIRES_DEFAULT = "Latent"
#: A1111's field names of ``/img2img`` → the request's (besides txt2img's).
IMG2IMG_FIELDS = FieldNames(
    {
        **FIELDS.names,
        "init_images": "init_image",
        "mask": "mask",
        "denoising_strength": "strength",
        "mask_blur": "mask_blur",
        "inpainting_fill": "masked_content",
        "inpaint_full_res": "inpaint_area",
        "inpaint_full_res_padding": "inpaint_padding",
        "inpainting_mask_invert": "invert_mask",
        "resize_mode": "resize_mode",
    }
)
#: txt2img with ``enable_hr``: the hires fields → the request's.
HIRES_FIELDS = FieldNames(
    {
        **FIELDS.names,
        "hr_scale": "hires_scale",
        "hr_second_pass_steps": "hires_steps",
        "denoising_strength": "hires_strength",
        "hr_upscaler": "hires_upscaler",
    }
)


class Img2ImgRequest(Txt2ImgRequest):
    """A1111's ``StableDiffusionProcessingImg2Img`` body (the fields huatu reads)."""

    init_images: Any = Field(None, description="The source picture: a list of one base64 image.")
    mask: Any = Field(None, description="What to repaint (white), base64. Default: none.")
    denoising_strength: Any = Field(DEFAULT_STRENGTH, description=describe("strength"))
    mask_blur: Any = Field(DEFAULT_MASK_BLUR, description=describe("mask_blur"))
    inpainting_fill: Any = Field(
        1, description="0 fill, 1 original, 2 latent noise, 3 latent nothing. Default 1."
    )
    inpaint_full_res: Any = Field(
        False, description="true: repaint only the masked part, at full size. Default false."
    )
    inpaint_full_res_padding: Any = Field(32, description=describe("inpaint_padding"))
    inpainting_mask_invert: Any = Field(0, description="1: repaint what the mask leaves black.")
    resize_mode: Any = Field(
        0, description="0 just resize, 1 crop and resize, 2 resize and fill. Default 0."
    )
    include_init_images: Any = Field(False, description="Ignored.")


class ExtraSingleImageRequest(BaseModel):
    """A1111's ``ExtrasSingleImageRequest`` (upscaling; face restoration is not offered)."""

    model_config = ConfigDict(extra="ignore")

    image: Any = Field(None, description="The picture, base64.")
    resize_mode: Any = Field(0, description="0: by upscaling_resize; 1: to upscaling_resize_w/h.")
    upscaling_resize: Any = Field(2, description="How many times bigger, 1 to 4. Default 2.")
    upscaling_resize_w: Any = Field(512, description="Width with resize_mode 1.")
    upscaling_resize_h: Any = Field(512, description="Height with resize_mode 1.")
    upscaling_crop: Any = Field(True, description="Crop to fit with resize_mode 1.")
    upscaler_1: Any = Field("None", description=f"One of {', '.join(UPSCALERS)} (None: Lanczos).")


class PngInfoRequest(BaseModel):
    """A1111's ``PNGInfoRequest``."""

    model_config = ConfigDict(extra="ignore")

    image: Any = Field(None, description="The picture, base64.")


def upscalers() -> list[dict[str, Any]]:
    """A1111's ``/upscalers`` list: huatu's upscalers (``None`` resizes with Lanczos)."""
    return [
        {"name": name, "model_name": None, "model_path": None, "model_url": None, "scale": 4}
        for name in ("None", *UPSCALERS)
    ]


def picture(field: str, value: Any, *, mask: bool = False) -> Any:
    """A base64 picture field checked (``None`` stays ``None``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, value, "image_unreadable")
    checked, _ = read_image(field, value, mask=mask)
    return checked


def img2img_values(body: Img2ImgRequest) -> dict[str, Any]:
    """``body``'s editing fields under A1111's names, as the request takes them.

    Raises:
        ValidationError: naming the A1111 field.
    """
    images = body.init_images
    if not isinstance(images, list) or not images:
        raise ValidationError("init_images", images, "required_for_mode", mode="img2img")
    fill = _index("inpainting_fill", or_default(body.inpainting_fill, 1), INPAINTING_FILL)
    full = or_default(body.inpaint_full_res, False)
    invert = or_default(body.inpainting_mask_invert, 0)
    if full not in (True, False, 0, 1):
        raise ValidationError("inpaint_full_res", full, "boolean")
    if invert not in (True, False, 0, 1):
        raise ValidationError("inpainting_mask_invert", invert, "boolean")
    return {
        "init_images": picture("init_images", images[0]),
        "mask": picture("mask", body.mask, mask=True),
        "denoising_strength": or_default(body.denoising_strength, DEFAULT_STRENGTH),
        "mask_blur": or_default(body.mask_blur, DEFAULT_MASK_BLUR),
        "inpainting_fill": fill,
        "inpaint_full_res": "only_masked" if full else "whole",
        "inpaint_full_res_padding": or_default(body.inpaint_full_res_padding, 32),
        "inpainting_mask_invert": bool(invert),
        "resize_mode": _index("resize_mode", or_default(body.resize_mode, 0), RESIZE_MODES),
    }


def hires_values(body: Txt2ImgRequest) -> dict[str, Any]:
    """txt2img's hires-fix fields under A1111's names (none without ``enable_hr``)."""
    if not or_default(body.enable_hr, False):
        return {}
    upscaler = or_default(body.hr_upscaler, A1111_HIRES_DEFAULT)
    if isinstance(upscaler, str) and upscaler.startswith("Latent"):
        upscaler = "Latent"
    elif upscaler in (None, "", "None"):
        upscaler = "Lanczos"
    return {
        "hr_scale": or_default(body.hr_scale, 2.0),
        "hr_second_pass_steps": or_default(body.hr_second_pass_steps, 0),
        "denoising_strength": or_default(body.denoising_strength, DEFAULT_HIRES_STRENGTH),
        "hr_upscaler": upscaler,
    }


def _index(field: str, value: Any, choices: tuple[str, ...]) -> str:
    """A1111's number for a choice → huatu's name."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(choices):
        shown = ", ".join(str(index) for index in range(len(choices)))
        raise ValidationError(field, value, "choice", choices=shown)
    return choices[value]


def plan_txt2img(body: Txt2ImgRequest) -> Plan:
    """``/txt2img``'s plan, with the hires fix when ``enable_hr``."""
    edits = hires_values(body)
    return plan(body, HIRES_FIELDS if edits else FIELDS, edits)


def plan_img2img(body: Img2ImgRequest) -> Plan:
    """``/img2img``'s plan: image to image, or inpainting when a mask is given."""
    return plan(body, IMG2IMG_FIELDS, img2img_values(body))


def upscale_body(body: ExtraSingleImageRequest, outputs_dir: Path) -> Upscaled:
    """``/extra-single-image``: the picture upscaled and saved.

    Raises:
        ValidationError: naming A1111's field.
    """
    source = picture("image", body.image)
    if source is None:
        raise ValidationError("image", None, "required")
    name = or_default(body.upscaler_1, "None")
    upscaler = "Lanczos" if name == "None" else name
    mode = _index("resize_mode", or_default(body.resize_mode, 0), ("by", "to"))
    if mode == "by":
        return upscale_picture(
            source, or_default(body.upscaling_resize, 2), upscaler, outputs_dir=outputs_dir
        )
    width = check_integer("upscaling_resize_w", body.upscaling_resize_w, 1, 4096)
    height = check_integer("upscaling_resize_h", body.upscaling_resize_h, 1, 4096)
    scale = max(width / source.size[0], height / source.size[1])
    if or_default(body.upscaling_crop, True):
        scale = max(scale, 1.0)
    done = upscale_picture(source, scale, upscaler, outputs_dir=outputs_dir, save=False)
    mode_name = "crop_and_resize" if or_default(body.upscaling_crop, True) else "just_resize"
    fitted = fit(done.image, width, height, mode_name)
    return upscale_picture(InputImage.of(fitted), 1.0, upscaler, outputs_dir=outputs_dir)


def read_png_info(body: PngInfoRequest) -> dict[str, Any]:
    """``/png-info``: A1111's ``{"info", "items", "parameters"}`` for the picture."""
    from huatu.metadata import parse_parameters, read_parameters

    source = picture("image", body.image)
    if source is None:
        raise ValidationError("image", None, "required")
    text = read_parameters(source.image) or ""
    parsed = parse_parameters(text) if text else None
    parameters: dict[str, Any] = {}
    if parsed is not None:
        parameters = {"Prompt": parsed.prompt, "Negative prompt": parsed.negative_prompt}
        parameters.update(parsed.settings)
    return {"info": text, "items": {"parameters": text} if text else {}, "parameters": parameters}
