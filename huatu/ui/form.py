"""The studio's generate form: its fields in order, and the handlers that only set its values.

The form's fields are :data:`huatu.fields.FORM`'s short names, in that table's order, which is
also the order of the Gradio API's ``/generate`` parameters; the layout keys its components by
these names, and the handlers pass the values on by name (never as a positional list).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gradio as gr

from huatu.edit_fields import INPAINT, TXT2IMG
from huatu.errors import ValidationError
from huatu.fields import FORM
from huatu.messages import message
from huatu.presets import aspect_by_id
from huatu.request import RANDOM_SEED, RUN_OPTIONS, GenerationRequest
from huatu.ui.common import request_language
from huatu.ui.modes import SHOWN_IN

#: The form's fields (``prompt``, ``negative_prompt``, ``steps`` …), in the API's order.
FIELDS: tuple[str, ...] = tuple(FORM.names)
#: The outpaint controls, in the request's order (left, right, up, down).
OUTPAINT_SIDES = ("outpaint_left", "outpaint_right", "outpaint_up", "outpaint_down")
#: The mode controls whose values a request takes (:mod:`huatu.ui.modes`), in order; each is
#: the request field of its name, but for the four outpaint sides, which make ``outpaint``.
EDIT_CONTROLS = (
    "strength",
    "resize_mode",
    "mask_blur",
    "masked_content",
    "inpaint_area",
    "invert_mask",
    *OUTPAINT_SIDES,
    "hires_scale",
    "hires_steps",
    "hires_strength",
    "hires_upscaler",
)
#: The request fields the mode controls hold (not the form's own): the mode and the controls'.
EDIT_KEYS = (
    "mode",
    "outpaint",
    *(name for name in EDIT_CONTROLS if name not in OUTPAINT_SIDES),
)
#: The mode controls among the generate event's inputs: the mode, the picture, the mask
#: upload, the request's controls, the upscale factor and upscaler.
EDIT_INPUTS: tuple[str, ...] = (
    "mode",
    "source",
    "mask_upload",
    *EDIT_CONTROLS,
    "upscale_scale",
    "upscaler",
)
#: The generate event's inputs: the form's fields, the editable English translation, the
#: mode and its controls, then the run's options.
INPUTS: tuple[str, ...] = (*FIELDS, "english_prompt", *EDIT_INPUTS, *RUN_OPTIONS)
#: The Gradio API ``/generate``'s inputs and outputs (text to image, as before the modes).
API_INPUTS: tuple[str, ...] = (*FIELDS, "english_prompt")
API_OUTPUTS = ("progress", "preview", "gallery", "info", "last_seeds", "english_prompt")


def named_inputs(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The generate event's inputs by name (:data:`INPUTS`), picked out of a handler's
    arguments (its ``locals()``), so a handler whose signature is the API passes them on as
    one mapping."""
    return {name: arguments[name] for name in INPUTS}


def new_random_seed() -> int:
    """The dice: back to a random seed for each run (A1111's -1)."""
    return RANDOM_SEED


def reuse_seed(last_seeds: list[int] | None) -> int:
    """The recycle button: the first seed of the last run, or random when there was none."""
    return last_seeds[0] if last_seeds else RANDOM_SEED


def apply_aspect(aspect_id: str) -> tuple[Any, Any]:
    """An aspect preset's (width, height); unchanged for "custom"."""
    aspect = aspect_by_id(aspect_id)
    if aspect is None:
        return gr.skip(), gr.skip()
    return aspect.width, aspect.height


def send_to_generate(
    fields: Mapping[str, Any] | None,
    request: gr.Request | None = None,
    *,
    picture: Any = None,
    mask: Any = None,
) -> Any:
    """Fill the form from parsed parameters and switch to the Generate tab — and the mode
    they were made in, with its controls' values (strength, mask blur, hires fix …).

    Values the generator would refuse (an SDXL image's 1216×832, 150 steps …) are left out
    and named in a warning, so the form never holds what the sliders reject.

    Args:
        fields: request fields (``num_inference_steps``, ``mode``, ``strength`` …) read from
            an image or the history; ``None`` when there is nothing to send.
        request: the person's request (for their language). Default: English.
        picture: the picture an image-to-image or inpainting run starts from (the history's
            source, or the image itself); without one such a mode is left as it is.
        mask: the mask that goes with ``picture``. Default: none.

    Returns:
        Updates for the tabs, each of :data:`FIELDS` (unchanged where ``fields`` has no
        usable value), the English prompt (emptied), :data:`EDIT_FILL` and
        :data:`RUN_OPTIONS`; or one
        ``gr.skip()`` for all of them when there is nothing to send.
    """
    language = request_language(request)
    if not fields:
        gr.Warning(message("info_nothing", language))
        return gr.skip()
    plain = {name: value for name, value in fields.items() if name not in EDIT_KEYS}
    usable, refused = usable_fields(plain)
    if refused:
        gr.Warning(message("info_fields_skipped", language, fields=", ".join(refused)))
    values = {FORM.edge_name(name): value for name, value in usable.items()}
    keep = gr.skip()
    filled = (values.get(name, keep) for name in FIELDS)
    options = (bool(usable.get(name, False)) for name in RUN_OPTIONS)  # as the image ran
    return (
        gr.update(selected="generate"),
        *filled,
        "",
        *edit_fill(fields, picture, mask),
        *options,
    )


def edit_fill(fields: Mapping[str, Any], picture: Any, mask: Any) -> tuple:
    """The :data:`EDIT_FILL` updates for ``fields``: their mode (an editing one only with a
    ``picture``), the picture and mask in the editor, the controls' values, which controls
    show."""
    from huatu.ui.modes import shown

    keep = gr.skip()
    mode = fields.get("mode")
    if mode in (None, "") or (mode != TXT2IMG and picture is None):
        return (keep,) * len(EDIT_FILL)
    controls = {name: fields[name] for name in EDIT_KEYS if name in fields and name != "mode"}
    amounts = tuple(controls.pop("outpaint", None) or (keep,) * len(OUTPAINT_SIDES))
    controls.update(zip(OUTPAINT_SIDES, amounts, strict=True))
    source = editor_value(picture, mask) if picture is not None else keep
    values = (controls.get(name, keep) for name in EDIT_CONTROLS)
    return (mode, source, *values, *shown(mode))


def usable_fields(fields: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Split parsed request fields into those the validator accepts and the names of the rest."""
    usable: dict[str, Any] = {}
    refused: list[str] = []
    for name, value in fields.items():
        probe = {"prompt": "probe", name: value} if name != "prompt" else {name: value}
        try:
            GenerationRequest.create(**probe)
        except ValidationError:
            refused.append(name)
        else:
            usable[name] = value
    return usable, refused


# --------------------------------------------------------------------------------------------
# The editing modes' controls → the request


#: What :meth:`StudioHandlers.generate` yields, in order (components of the Generate tab).
GENERATE_OUTPUTS = (
    "progress",
    "preview",
    "gallery",
    "info",
    "last_seeds",
    "english_prompt",
    "translation_note",
    "used",
)


def outputs(**given: Any) -> tuple:
    """One yield of the generate handler: the outputs named, the rest unchanged."""
    return tuple(given.get(name, gr.skip()) for name in GENERATE_OUTPUTS)


#: What a restore fills besides the form's fields: the mode, the picture (with its mask) in
#: the image editor, the mode controls' values, and which mode's controls show
#: (:data:`huatu.ui.modes.SHOWN_IN`).

EDIT_FILL = ("mode", "source", *EDIT_CONTROLS, *SHOWN_IN)
#: What :func:`send_to_generate` fills, in order: the tabs, the form's fields, the English
#: prompt, the mode's controls (:data:`EDIT_FILL`) and the run's options.
FILL = ("tabs", *FIELDS, "english_prompt", *EDIT_FILL, *RUN_OPTIONS)


def editor_value(picture: Any, mask: Any = None) -> dict[str, Any]:
    """The image editor's value for ``picture``, with ``mask`` (white repaints) as a brush
    layer."""
    from PIL import Image as PILImage

    layers = []
    if mask is not None:
        layer = PILImage.new("RGBA", picture.size, (255, 255, 255, 0))
        alpha = mask.convert("L").resize(picture.size).point(lambda v: 255 if v else 0)
        layer.putalpha(alpha)
        layers.append(layer)
    return {"background": picture, "layers": layers, "composite": picture}


#: A refused request field → the control that holds it.
CONTROL_OF = {
    "init_image": "source",
    "mask": "mask_upload",
    "outpaint": "outpaint_left",
    "inpaint_padding": "mask_blur",
}


def editor_pictures(value: Any) -> tuple[Any, Any]:
    """The picture in the image editor (its background) and the mask painted on it with the
    brush (white wherever a stroke is), either ``None`` when there is none."""
    from PIL import ImageChops

    if value is None:
        return None, None
    if not isinstance(value, dict):
        return value, None
    background = value.get("background")
    mask = None
    for layer in value.get("layers") or []:
        if layer is None or "A" not in layer.getbands():
            continue
        strokes = layer.getchannel("A").point(lambda alpha: 255 if alpha else 0)
        if strokes.getbbox() is not None:
            mask = strokes if mask is None else ImageChops.lighter(mask, strokes)
    return background, mask


def edit_values(form: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """The request values of the mode controls in ``form`` (under the request's names), and
    the notices reading the pictures gave.

    Raises:
        ValidationError: no picture in an editing mode, or a picture that cannot be used.
    """
    from huatu.images import read_image

    mode = form.get("mode") or TXT2IMG
    values: dict[str, Any] = {}
    if mode == TXT2IMG:
        if form.get("hires_scale") not in (None, 1, 1.0):
            for name in ("hires_scale", "hires_steps", "hires_strength", "hires_upscaler"):
                values[name] = form.get(name)
        return values, []
    background, painted = editor_pictures(form.get("source"))
    if background is None:
        raise ValidationError("init_image", None, "required_for_mode", mode=mode)
    source, notices = read_image("init_image", background)
    values.update(init_image=source, strength=form.get("strength"))
    values["resize_mode"] = form.get("resize_mode")
    if mode == INPAINT:
        mask = form.get("mask_upload") or painted
        if mask is not None:
            values["mask"], said = read_image("mask", mask, mask=True)
            notices += said
        for name in ("mask_blur", "masked_content", "inpaint_area", "invert_mask"):
            values[name] = form.get(name)
        values["outpaint"] = tuple(int(form.get(side) or 0) for side in OUTPAINT_SIDES)
    values["mode"] = mode
    return values, notices
