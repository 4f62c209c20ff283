"""The studio's mode switch and the controls of each mode, laid out.

Text to image · image to image · inpaint · upscale, in one page: the prompt, the options and
the results stay where they are; a mode shows its own controls (the source picture with a
brush for the mask, strength, mask options, outpaint, the hires fix, the upscale factor).
Which control shows in which mode is :data:`SHOWN_IN`, the one rule :func:`shown` applies.
"""

from __future__ import annotations

import gradio as gr

from huatu.edit_fields import (
    DEFAULT_HIRES_STRENGTH,
    DEFAULT_INPAINT_PADDING,
    DEFAULT_MASK_BLUR,
    DEFAULT_STRENGTH,
    HIRES_UPSCALERS,
    IMG2IMG,
    INPAINT,
    INPAINT_AREAS,
    MASKED_CONTENT,
    MAX_HIRES_SCALE,
    MAX_MASK_BLUR,
    MIN_HIRES_SCALE,
    TXT2IMG,
)
from huatu.images import DEFAULT_RESIZE_MODE, RESIZE_MODES, UPSCALERS
from huatu.request import MAX_SIDE, MAX_STEPS, SIDE_MULTIPLE
from huatu.ui.i18n import t
from huatu.upscaling import DEFAULT_UPSCALE, MAX_UPSCALE, MIN_UPSCALE

#: The studio's modes: the request's three, and upscaling an existing picture.
UPSCALE = "upscale"
STUDIO_MODES = (TXT2IMG, IMG2IMG, INPAINT, UPSCALE)
#: Each mode-dependent group of controls → the modes it shows in.
SHOWN_IN = {
    "source_group": (IMG2IMG, INPAINT, UPSCALE),
    "strength_group": (IMG2IMG, INPAINT),
    "inpaint_group": (INPAINT,),
    "hires_group": (TXT2IMG,),
    "upscale_group": (UPSCALE,),
}

Parts = dict[str, gr.blocks.Block]


def shown(mode: str) -> tuple[dict, ...]:
    """One visibility update per :data:`SHOWN_IN` group (in its order) for ``mode``."""
    return tuple(gr.update(visible=mode in modes) for modes in SHOWN_IN.values())


def mode_switch() -> gr.Radio:
    """The mode switch (its labels in the person's language)."""
    return gr.Radio(
        label=t("mode"),
        choices=[(t(f"mode_{mode}"), mode) for mode in STUDIO_MODES],
        value=TXT2IMG,
        elem_id="mode",
    )


def mode_controls() -> Parts:
    """The source picture (with the brush), strength, inpainting and outpainting, the hires
    fix and the upscale factor; each group starts shown as in text to image."""
    parts: Parts = {}
    with gr.Group(visible=False, elem_id="source-group") as parts["source_group"]:
        parts["source"] = gr.ImageEditor(
            label=t("source"),
            type="pil",
            image_mode="RGBA",
            sources=("upload", "clipboard"),
            brush=gr.Brush(colors=["#ffffff"], color_mode="fixed", default_size=24),
            eraser=gr.Eraser(default_size=24),
            transforms=(),
            layers=False,
            height=360,
            elem_id="source",
        )
    with gr.Row(visible=False, elem_id="strength-group") as parts["strength_group"]:
        parts["strength"] = gr.Slider(
            label=t("strength"),
            info=t("strength_info"),
            minimum=0.0,
            maximum=1.0,
            step=0.05,
            value=DEFAULT_STRENGTH,
            elem_id="strength",
        )
        parts["resize_mode"] = gr.Dropdown(
            label=t("resize_mode"),
            choices=[(t(f"resize_{mode}"), mode) for mode in RESIZE_MODES],
            value=DEFAULT_RESIZE_MODE,
            elem_id="resize-mode",
        )
    with gr.Group(visible=False, elem_id="inpaint-group") as parts["inpaint_group"]:
        parts |= inpaint_controls()
    with gr.Accordion(t("hires"), open=False, elem_id="hires-group") as parts["hires_group"]:
        parts |= hires_controls()
    with gr.Row(visible=False, elem_id="upscale-group") as parts["upscale_group"]:
        parts["upscale_scale"] = gr.Slider(
            label=t("upscale_scale"),
            minimum=MIN_UPSCALE,
            maximum=MAX_UPSCALE,
            step=0.5,
            value=DEFAULT_UPSCALE,
            elem_id="upscale-scale",
        )
        parts["upscaler"] = gr.Dropdown(
            label=t("upscaler"), choices=list(UPSCALERS), value=UPSCALERS[0], elem_id="upscaler"
        )
    return parts


def inpaint_controls() -> Parts:
    """Mask upload, blur, masked content, inpaint area, invert, outpaint amounts."""
    parts: Parts = {
        "mask_upload": gr.Image(
            label=t("mask_upload"),
            type="pil",
            image_mode="L",
            sources=("upload",),
            height=160,
            elem_id="mask-upload",
        )
    }
    with gr.Row():
        parts["mask_blur"] = gr.Slider(
            label=t("mask_blur"),
            minimum=0,
            maximum=MAX_MASK_BLUR,
            step=1,
            value=DEFAULT_MASK_BLUR,
            elem_id="mask-blur",
        )
        parts["masked_content"] = gr.Radio(
            label=t("masked_content"),
            choices=[(t(f"masked_{name}"), name) for name in MASKED_CONTENT],
            value=MASKED_CONTENT[0],
            elem_id="masked-content",
        )
    with gr.Row():
        parts["inpaint_area"] = gr.Radio(
            label=t("inpaint_area"),
            choices=[(t(f"area_{name}"), name) for name in INPAINT_AREAS],
            value=INPAINT_AREAS[0],
            elem_id="inpaint-area",
        )
        parts["invert_mask"] = gr.Checkbox(label=t("invert_mask"), value=False, elem_id="invert")
    with gr.Row():
        for side in ("left", "right", "up", "down"):
            parts[f"outpaint_{side}"] = gr.Number(
                label=t(f"outpaint_{side}"),
                value=0,
                minimum=0,
                maximum=MAX_SIDE,
                step=SIDE_MULTIPLE,
                precision=0,
                elem_id=f"outpaint-{side}",
            )
    parts["inpaint_padding"] = gr.State(DEFAULT_INPAINT_PADDING)
    return parts


def hires_controls() -> Parts:
    """The hires fix: scale (1 is off), steps, strength, upscaler."""
    parts: Parts = {}
    with gr.Row():
        parts["hires_scale"] = gr.Slider(
            label=t("hires_scale"),
            info=t("hires_scale_info"),
            minimum=MIN_HIRES_SCALE,
            maximum=MAX_HIRES_SCALE,
            step=0.25,
            value=MIN_HIRES_SCALE,
            elem_id="hires-scale",
        )
        parts["hires_steps"] = gr.Slider(
            label=t("hires_steps"),
            minimum=0,
            maximum=MAX_STEPS,
            step=1,
            value=0,
            elem_id="hires-steps",
        )
    with gr.Row():
        parts["hires_strength"] = gr.Slider(
            label=t("hires_strength"),
            minimum=0.0,
            maximum=1.0,
            step=0.05,
            value=DEFAULT_HIRES_STRENGTH,
            elem_id="hires-strength",
        )
        parts["hires_upscaler"] = gr.Dropdown(
            label=t("hires_upscaler"),
            choices=list(HIRES_UPSCALERS),
            value=HIRES_UPSCALERS[0],
            elem_id="hires-upscaler",
        )
    return parts
