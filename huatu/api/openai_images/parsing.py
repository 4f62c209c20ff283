"""OpenAI's images body: its fields, their one mapping to the request, and its parsing.

:data:`FIELDS` names each body field after the :class:`~huatu.request.GenerationRequest`
field(s) it fills (``n`` → ``num_images``, ``size`` → ``width`` and ``height`` …); it builds
the request and names a refused field as the body does. The parsing is pure (no web
framework), apart from reading the body (:func:`json_body`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from huatu.api.openai_images.errors import OpenAIError, Refusal
from huatu.errors import ValidationError
from huatu.fields import FieldNames, describe
from huatu.messages import Notice
from huatu.request import (
    DEFAULT_SIDE,
    MAX_GUIDANCE,
    MAX_IMAGES,
    MAX_PROMPT_CHARS,
    MAX_SIDE,
    MAX_STEPS,
    MIN_GUIDANCE,
    MIN_IMAGES,
    MIN_SIDE,
    MIN_STEPS,
    RANDOM_SEED,
    SIDE_MULTIPLE,
    GenerationRequest,
)

if TYPE_CHECKING:
    from fastapi import Request

#: Prefixes of OpenAI image model names, all taken to mean the loaded model.
OPENAI_MODEL_PREFIXES = ("dall-e-", "gpt-image-", "chatgpt-image-")
#: Response formats, and the models whose default is ``url`` (OpenAI's DALL·E).
RESPONSE_FORMATS = ("b64_json", "url")
URL_DEFAULT_PREFIX = "dall-e-"


#: The body's fields (OpenAI's and huatu's extensions) → the request's.
FIELDS = FieldNames(
    {
        "prompt": "prompt",
        "n": "num_images",
        "size": ("width", "height"),
        "negative_prompt": "negative_prompt",
        "seed": "seed",
        "steps": "num_inference_steps",
        "guidance_scale": "guidance_scale",
        "scheduler": "scheduler",
        "step_cache": "step_cache",
        "fast_decode": "fast_decode",
    }
)


def _described(name: str, kind: str, **schema: Any) -> dict[str, Any]:
    """The OpenAPI schema of body field ``name``, described from the validator's limits."""
    target = FIELDS.names[name]
    assert isinstance(target, str)
    return {"type": kind, "description": describe(target), **schema}


_SIZE_DESCRIPTION = (
    f"WIDTHxHEIGHT, or 'auto' ({DEFAULT_SIDE}x{DEFAULT_SIDE}). {describe('width')} "
    f"{describe('height')}"
)
#: The body of ``POST /v1/images/generations`` for the OpenAPI page (parsed by hand, so that
#: every error keeps OpenAI's shape).
GENERATION_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {
                        "prompt": _described("prompt", "string", maxLength=MAX_PROMPT_CHARS),
                        "n": _described("n", "integer", minimum=MIN_IMAGES, maximum=MAX_IMAGES),
                        "size": {
                            "type": "string",
                            "example": "512x512",
                            "default": "auto",
                            "description": _SIZE_DESCRIPTION,
                        },
                        "response_format": {"enum": list(RESPONSE_FORMATS)},
                        "model": {"type": "string"},
                        "negative_prompt": _described("negative_prompt", "string"),
                        "seed": _described("seed", "integer", default=RANDOM_SEED),
                        "steps": _described(
                            "steps", "integer", minimum=MIN_STEPS, maximum=MAX_STEPS
                        ),
                        "guidance_scale": _described(
                            "guidance_scale", "number", minimum=MIN_GUIDANCE, maximum=MAX_GUIDANCE
                        ),
                        "scheduler": _described("scheduler", "string"),
                        "step_cache": _described("step_cache", "boolean", default=False),
                        "fast_decode": _described("fast_decode", "boolean", default=False),
                    },
                }
            }
        },
    }
}
_SIZE_RE = re.compile(r"\s*(\d{1,6})\s*[xX×]\s*(\d{1,6})\s*")


@dataclass(frozen=True)
class ImagesCall:
    """One parsed ``/v1/images/generations`` body.

    Attributes:
        request: the validated generation request.
        response_format: ``"b64_json"`` or ``"url"``.
        model: another listed model to switch to before generating (as A1111's
            ``options`` would), or ``None``: the served one. Default ``None``.
    """

    request: GenerationRequest
    response_format: str
    model: str | None = None


async def json_body(request: Request) -> Any:
    """The request's JSON body.

    Raises:
        OpenAIError: not sent as ``application/json``, or not valid JSON (400).
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        error = Refusal("openai_content_type", value=media_type or "no content type")
        raise OpenAIError(400, error, code="unsupported_content_type")
    try:
        return json.loads(await request.body())
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        refusal = Refusal("openai_invalid_json", detail=str(error))
        raise OpenAIError(400, refusal, code="invalid_json") from None


def parse_generation(body: Any, models: Sequence[str]) -> ImagesCall:
    """Check an images body and turn it into a validated :class:`ImagesCall`.

    Args:
        body: the decoded JSON body.
        models: the served model's id, then the others ``model`` may name.

    Raises:
        OpenAIError: a 400 naming the first bad field (as the body names it) and its value.
    """
    if not isinstance(body, dict):
        raise OpenAIError(400, Refusal("openai_body_object", value=body))
    model = body.get("model")
    switch_to = chosen_model(model, models)
    if body.get("stream"):
        raise OpenAIError(400, Refusal("openai_stream"), param="stream")
    default_format = "url" if str(model or "").startswith(URL_DEFAULT_PREFIX) else "b64_json"
    response_format = body.get("response_format") or default_format
    if response_format not in RESPONSE_FORMATS:
        error = ValidationError("response_format", response_format, "openai_response_format")
        raise OpenAIError(400, error, param="response_format")
    values = {name: body.get(name) for name in FIELDS.names}
    values["size"] = parse_size(body.get("size"))
    try:
        request = GenerationRequest.create(**FIELDS.request_fields(values))
    except ValidationError as error:
        raise refused(error, body.get("size")) from None
    return ImagesCall(request, response_format, switch_to)


def chosen_model(model: Any, models: Sequence[str]) -> str | None:
    """The listed model other than the served one (``models[0]``) that ``model`` names, or
    ``None`` when it names the served one (or is not given).

    Raises:
        OpenAIError: ``model`` names no model here (400, ``param="model"``).
    """
    if model is None:
        return None
    if not (isinstance(model, str) and accepts_model(model, models)):
        listed = ", ".join(models[1:]) or "-"
        error = ValidationError("model", model, "openai_model", served=models[0], listed=listed)
        raise OpenAIError(400, error, param="model", code="model_not_found")
    return model if model in models[1:] else None


def accepts_model(name: str, models: Sequence[str]) -> bool:
    """Whether ``name`` is one of ``models`` or an OpenAI image model name (meaning the
    served model, ``models[0]``)."""
    return name in models or name.startswith(OPENAI_MODEL_PREFIXES)


def size_rule() -> Notice:
    """What ``size`` must be, from the validator's limits."""
    return Notice(
        "openai_size_rule", {"low": MIN_SIDE, "high": MAX_SIDE, "multiple": SIDE_MULTIPLE}
    )


def parse_size(size: Any) -> tuple[int | None, int | None]:
    """``(width, height)`` from ``"WIDTHxHEIGHT"``; ``(None, None)`` (huatu's default) for a
    missing size or ``"auto"``. The numbers are range-checked later by the validator.

    Raises:
        OpenAIError: ``size`` is not text of that shape (400, ``param="size"``).
    """
    if size is None or size == "auto":
        return None, None
    match = _SIZE_RE.fullmatch(size) if isinstance(size, str) else None
    if match is None:
        raise OpenAIError(400, Refusal("openai_size", rule=size_rule(), value=size), param="size")
    return int(match[1]), int(match[2])


def refused(error: ValidationError, size: Any = None) -> OpenAIError:
    """A refused request field as a 400 naming the body field (:data:`FIELDS`); a refused
    ``width`` or ``height`` quotes ``size``, the body field they came from."""
    named = FIELDS.refusal(error)
    if named.field != "size":
        return OpenAIError(400, named, param=named.field, code="invalid_value")
    refusal = Refusal(
        "openai_size_side", rule=size_rule(), value=size, field=error.field, number=error.value
    )
    return OpenAIError(400, refusal, param="size", code="invalid_value")
