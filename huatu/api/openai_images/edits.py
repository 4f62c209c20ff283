"""OpenAI's ``/v1/images/edits`` and ``/v1/images/variations``: multipart bodies read into
the one request.

An edit is OpenAI's convention: the fully transparent pixels of ``mask`` (or, without a mask,
of ``image`` itself) are repainted, everything else is kept (huatu's inpainting); an image
without transparency is varied by the prompt (image to image). A variation is image to image
with the picture's own prompt (from its metadata) or a neutral one. ``size`` defaults to the
picture's own size (within the limits). huatu's extensions (``negative_prompt``, ``seed``,
``steps``, ``guidance_scale``, ``scheduler``, ``strength``) may be sent as form fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from huatu.api.openai_images.errors import OpenAIError, Refusal
from huatu.api.openai_images.parsing import (
    FIELDS,
    RESPONSE_FORMATS,
    URL_DEFAULT_PREFIX,
    ImagesCall,
    chosen_model,
    parse_size,
    refused,
)
from huatu.errors import ValidationError
from huatu.images import (
    MAX_IMAGE_BYTES,
    InputImage,
    alpha_to_mask,
    flatten,
    natural_size,
    read_image,
)
from huatu.request import GenerationRequest

if TYPE_CHECKING:
    from fastapi import Request

#: The prompt of a variation of a picture that carries none.
VARIATION_PROMPT = "high quality, detailed"
#: How far a variation goes from the picture.
VARIATION_STRENGTH = 0.6
#: Form fields read as numbers.
_NUMBERS = ("n", "seed", "steps", "guidance_scale", "strength")


async def form_body(request: Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """The multipart body: text fields, and the first file of each file field (``image[]``
    counts as ``image``).

    Raises:
        OpenAIError: not ``multipart/form-data`` (400).
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        error = Refusal("openai_content_type_form", value=media_type or "no content type")
        raise OpenAIError(400, error, code="unsupported_content_type")
    form = await request.form()
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for name, value in form.multi_items():
        key = name.removesuffix("[]")
        if isinstance(value, str):
            fields.setdefault(key, value)
        elif key not in files:
            if (value.size or 0) > MAX_IMAGE_BYTES:  # refused before it is read into memory
                size = f"{value.size / 1024 / 1024:.1f} MB"
                refusal = ValidationError(key, size, "image_bytes", limit=MAX_IMAGE_BYTES // 2**20)
                raise OpenAIError(400, refusal, param=key, code="invalid_value")
            files[key] = await value.read(MAX_IMAGE_BYTES + 1)
    await form.close()
    return fields, files


def parse_edit(
    fields: dict[str, str], files: dict[str, bytes], models: Sequence[str], *, variation: bool
) -> ImagesCall:
    """An edit (or a variation) body as a validated :class:`ImagesCall`.

    Raises:
        OpenAIError: a 400 naming the first bad field (``image``, ``mask``, ``prompt`` …).
    """
    model = fields.get("model")
    switch_to = chosen_model(model, models)
    default_format = "url" if str(model or "").startswith(URL_DEFAULT_PREFIX) else "b64_json"
    response_format = fields.get("response_format") or default_format
    if response_format not in RESPONSE_FORMATS:
        error = ValidationError("response_format", response_format, "openai_response_format")
        raise OpenAIError(400, error, param="response_format")
    try:
        values, size = _values(fields, files, variation)
    except ValidationError as error:
        raise OpenAIError(400, error, param=error.field, code="invalid_value") from None
    try:
        request = GenerationRequest.create(**FIELDS.request_fields(values))
    except ValidationError as error:
        raise refused(error, size) from None
    return ImagesCall(request, response_format, switch_to)


def _values(
    fields: dict[str, str], files: dict[str, bytes], variation: bool
) -> tuple[dict[str, Any], Any]:
    """The body's values under its own names (pictures read, numbers parsed)."""
    if "image" not in files:
        raise ValidationError("image", None, "required")
    picture, _ = read_image("image", files["image"], alpha=True)
    values: dict[str, Any] = {name: fields.get(name) for name in FIELDS.names if name != "size"}
    for name in _NUMBERS:
        if isinstance(fields.get(name), str):
            values[name] = _number(name, fields[name])
    rgb = InputImage.of(flatten(picture.image))
    values["init_image"] = rgb
    size = fields.get("size")
    width, height = parse_size(size)
    values["size"] = (width, height) if width else natural_size(picture.size)
    if variation:
        from huatu.metadata import parse_parameters, read_parameters

        text = read_parameters(picture.image)
        values["prompt"] = (parse_parameters(text).prompt if text else "") or VARIATION_PROMPT
        if values.get("strength") is None:
            values["strength"] = VARIATION_STRENGTH
        return values, size
    if "mask" in files:
        given, _ = read_image("mask", files["mask"], alpha=True)
        mask = alpha_to_mask(given.image)
        if mask.getextrema()[1] == 0:
            raise ValidationError("mask", "a mask without transparent pixels", "openai_mask")
        values["mask"] = InputImage.of(mask)
    elif picture.image.getchannel("A").getextrema()[0] == 0:  # transparent: edit those
        values["mask"] = InputImage.of(alpha_to_mask(picture.image))
    return values, size


def _number(name: str, text: str) -> Any:
    """A form field's number (an int when whole), or the text itself for the validator to
    refuse."""
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number
