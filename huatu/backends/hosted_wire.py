"""The wire format of Hugging Face hosted inference, as pure functions.

Request building (the tutorial endpoint's JSON, ``InferenceClient`` arguments, the router
URL) and response decoding (raw image bytes or JSON carrying base64). No I/O here, so all of
it is unit-tested directly; the retry policy lives in :mod:`huatu.backends.hosted_calls`, the
sending in :mod:`huatu.backends.hosted`. Every error is a
:class:`~huatu.errors.HostedResponseError` with a ``hosted_*`` key of :mod:`huatu.catalog`.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from huatu.errors import HostedResponseError
from huatu.messages import Clipped, Notice

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.request import GenerationRequest

#: Keys under which JSON answers usually carry a base64 image, tried in this order.
IMAGE_KEYS = (
    "image",
    "images",
    "generated_image",
    "generated_images",
    "b64_json",
    "data",
    "output",
    "outputs",
    "artifacts",
    "base64",
    "result",
)
#: Longest server error text quoted in a message, in characters.
MAX_SERVER_TEXT = 200
#: The most of a plain-text error body read for its text (whole, before any secret is masked).
MAX_PLAIN_BODY = 64 * 1024

_PNG = b"\x89PNG\r\n\x1a\n"
_IMAGE_MAGIC = (_PNG, b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_DATA_URI = re.compile(r"^\s*data:[\w/+.-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Pure helpers: request building
# --------------------------------------------------------------------------------------------


def build_tti_payload(request: GenerationRequest, seed: int) -> dict[str, Any]:
    """Build the JSON body the tutorial's endpoint (``HF_API_TTI_BASE``) expects.

    Args:
        request: the validated request; its prompt, negative prompt, steps, guidance and size
            are sent.
        seed: the seed for this one image (``request.seed + i``); always sent, because the
            hosted service caches identical requests.

    Returns:
        ``{"inputs": prompt, "parameters": {...}}``; ``negative_prompt`` is left out when empty.
    """
    parameters: dict[str, Any] = {}
    if request.negative_prompt:
        parameters["negative_prompt"] = request.negative_prompt
    parameters.update(
        num_inference_steps=int(request.num_inference_steps),
        guidance_scale=float(request.guidance_scale),
        width=int(request.width),
        height=int(request.height),
        seed=int(seed),
    )
    return {"inputs": request.prompt, "parameters": parameters}


def build_client_kwargs(
    request: GenerationRequest, seed: int, model: str, *, unused: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Build the keyword arguments of ``InferenceClient.text_to_image`` (all but the prompt).

    Args:
        request: the validated request, fitted to the model
            (:func:`huatu.backends.hosted_families.fit_request`).
        seed: the seed for this one image; always sent.
        model: what to pass as ``model=``: a router URL, an endpoint URL or a Hub id (see
            :func:`resolve_client_model`).
        unused: request fields the model does not take (``negative_prompt``,
            ``guidance_scale``): not sent. Default none.

    Returns:
        A dict; a value is ``None`` when it is not sent (``InferenceClient`` then omits it):
        an empty negative prompt, or a field in ``unused``.
    """
    negative = request.negative_prompt or None
    return {
        "negative_prompt": None if "negative_prompt" in unused else negative,
        "height": int(request.height),
        "width": int(request.width),
        "num_inference_steps": int(request.num_inference_steps),
        "guidance_scale": None if "guidance_scale" in unused else float(request.guidance_scale),
        "seed": int(seed),
        "model": model,
    }


def resolve_client_model(model: str, provider: str, router: str) -> str:
    """Return what ``InferenceClient`` should be given as ``model=``.

    Args:
        model: the hosted model: a Hub id (``owner/name``) or a URL.
        provider: the inference provider, e.g. ``hf-inference``.
        router: base URL of Hugging Face's router, e.g. ``https://router.huggingface.co``.

    Returns:
        A URL unchanged; for ``hf-inference`` a Hub id becomes
        ``{router}/hf-inference/models/{model}`` (``InferenceClient`` then POSTs there directly
        without asking the Hub about the model); for other providers the Hub id unchanged.
    """
    if is_url(model):
        return model
    if provider == "hf-inference":
        return f"{router.rstrip('/')}/hf-inference/models/{model.strip('/')}"
    return model


def is_url(text: str) -> bool:
    """Whether ``text`` starts with ``http://`` or ``https://``."""
    return text.startswith(("http://", "https://"))


def host_of(url: str) -> str:
    """Return the ``host[:port]`` part of ``url`` (without any user info), or ``url`` itself."""
    netloc = urlsplit(url).netloc
    return netloc.rpartition("@")[2] or url


# --------------------------------------------------------------------------------------------
# Pure helpers: response decoding
# --------------------------------------------------------------------------------------------


def decode_image_body(body: bytes, content_type: str | None) -> bytes:
    """Return the encoded image (PNG, JPEG ...) carried by a successful response body.

    Args:
        body: the response body.
        content_type: the ``Content-Type`` header, or ``None``. ``image/*`` means the body is
            the image; ``application/json`` (or ``+json``) means it carries a base64 image (see
            :func:`find_base64_image`). Anything else is sniffed: image magic bytes, then JSON.

    Raises:
        HostedResponseError: the body is empty, an HTML page, JSON without an image, or
            something else that is not an image.
    """
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if not body:
        raise HostedResponseError("hosted_empty_body")
    if kind.startswith("image/"):
        return body
    if kind == "application/json" or kind.endswith("+json"):
        return decode_json_image(body)
    if "html" in kind or body.lstrip()[:1] == b"<":
        raise HostedResponseError("hosted_web_page")
    if body.startswith(_IMAGE_MAGIC) or body[8:12] == b"WEBP":
        return body
    if body.lstrip()[:1] in (b'"', b"{", b"["):
        return decode_json_image(body)
    shown: str | Notice = kind or Notice("hosted_no_content_type")
    raise HostedResponseError("hosted_not_image", kind=shown)


def decode_json_image(body: bytes) -> bytes:
    """Decode a JSON body carrying a base64 image into the image's bytes.

    Args:
        body: JSON text: a bare string (the tutorial's format), or an object/list holding the
            string under a usual key (see :data:`IMAGE_KEYS`). A ``data:image/...;base64,``
            prefix is accepted.

    Raises:
        HostedResponseError: the body is not JSON, holds no image, or holds bad base64.
    """
    data = _json_or_none(body)
    if data is None:
        raise HostedResponseError("hosted_bad_json")
    text = find_base64_image(data)
    if text is None:
        detail = server_error_text(body)
        if detail:
            raise HostedResponseError("hosted_json_no_image_detail", detail=detail)
        raise HostedResponseError("hosted_json_no_image")
    return decode_base64_image(text)


def find_base64_image(data: Any, *, _depth: int = 0) -> str | None:
    """Find the base64 image text in decoded JSON.

    Args:
        data: a string (returned as is), a dict (looked up under :data:`IMAGE_KEYS`, then a
            single-valued dict's value), or a list (its first item).

    Returns:
        The base64 text, or ``None`` when there is none.
    """
    if _depth > 4:
        return None
    if isinstance(data, str):
        return data if data.strip() else None
    if isinstance(data, list):
        return find_base64_image(data[0], _depth=_depth + 1) if data else None
    if isinstance(data, dict):
        lowered = {str(key).lower(): value for key, value in data.items()}
        for key in IMAGE_KEYS:
            if key in lowered:
                found = find_base64_image(lowered[key], _depth=_depth + 1)
                if found is not None:
                    return found
    return None


def decode_base64_image(text: str) -> bytes:
    """Decode base64 text (standard or URL-safe, padding optional) into bytes.

    Args:
        text: the base64 text, optionally prefixed ``data:image/png;base64,``; whitespace and
            line breaks are ignored.

    Raises:
        HostedResponseError: the text is not base64.
    """
    cleaned = _DATA_URI.sub("", text, count=1)
    cleaned = "".join(cleaned.split())
    if not cleaned:
        raise HostedResponseError("hosted_empty_image")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(cleaned.encode("ascii"))
        return base64.b64decode(cleaned.encode("ascii"), validate=True)
    except (binascii.Error, ValueError):
        raise HostedResponseError("hosted_not_base64") from None


def open_image(data: bytes) -> Image:
    """Decode image bytes into an RGB PIL image.

    Raises:
        HostedResponseError: the bytes are not a readable image (garbage, truncated ...).
    """
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(data)) as image:
            return to_rgb(image)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise HostedResponseError("hosted_unreadable_image") from None


def server_error_text(body: bytes, limit: int = MAX_SERVER_TEXT) -> Clipped:
    """A server's error text from an error body, as a :class:`~huatu.messages.Clipped`
    parameter (false when there is none): cut to one short line only when rendered, after
    secrets were taken out of it.

    Args:
        body: the response body: JSON like ``{"error": "..."}`` or ``{"error": ["..."]}`` or
            ``{"message": "..."}``, or plain text. HTML pages give none.
        limit: the most characters shown; longer text is cut with "…". Default 200.
    """
    data = _json_or_none(body)
    text = ""
    if isinstance(data, dict):
        for key in ("error", "message", "detail", "error_description"):
            value = data.get(key)
            if isinstance(value, list):
                value = "; ".join(str(item) for item in value)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                text = value
                break
    elif isinstance(data, str):
        text = data
    elif data is None:
        decoded = body[:MAX_PLAIN_BODY].decode("utf-8", errors="replace")
        if "<" not in decoded.lstrip()[:1]:
            text = decoded
    return Clipped(text, limit)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def to_rgb(image: Any) -> Image:
    """Load ``image`` fully and return it in RGB mode (a copy when it already is)."""
    image.load()
    return image.convert("RGB") if image.mode != "RGB" else image.copy()
