"""The studio's generate form: its fields in order, and the handlers that only set its values.

The form's fields are :data:`huatu.fields.FORM`'s short names, in that table's order, which is
also the order of the Gradio API's ``/generate`` parameters; the layout keys its components by
these names, and the handlers pass the values on by name (never as a positional list).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gradio as gr

from huatu.errors import ValidationError
from huatu.fields import FORM
from huatu.messages import message
from huatu.presets import aspect_by_id
from huatu.request import RANDOM_SEED, GenerationRequest
from huatu.ui.common import request_language

#: The form's fields (``prompt``, ``negative_prompt``, ``steps`` …), in the API's order.
FIELDS: tuple[str, ...] = tuple(FORM.names)
#: The generate event's inputs: the form's fields, then the editable English translation.
INPUTS: tuple[str, ...] = (*FIELDS, "english_prompt")


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


def send_to_generate(fields: Mapping[str, Any] | None, request: gr.Request | None = None) -> Any:
    """Fill the form from parsed parameters and switch to the Generate tab.

    Values the generator would refuse (an SDXL image's 1216×832, 150 steps …) are left out
    and named in a warning, so the form never holds what the sliders reject.

    Args:
        fields: request fields (``num_inference_steps`` …) read from an image or the
            history; ``None`` when there is nothing to send.
        request: the person's request (for their language). Default: English.

    Returns:
        Updates for the tabs, each of :data:`FIELDS` (unchanged where ``fields`` has no
        usable value) and the English prompt (emptied); or one ``gr.skip()`` for all of
        them when there is nothing to send.
    """
    language = request_language(request)
    if not fields:
        gr.Warning(message("info_nothing", language))
        return gr.skip()
    usable, refused = usable_fields(fields)
    if refused:
        gr.Warning(message("info_fields_skipped", language, fields=", ".join(refused)))
    values = {FORM.edge_name(name): value for name, value in usable.items()}
    keep = gr.skip()
    return (gr.update(selected="generate"), *(values.get(name, keep) for name in FIELDS), "")


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
