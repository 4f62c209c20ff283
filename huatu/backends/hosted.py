"""Hugging Face hosted inference: ``InferenceClient`` and the tutorial's JSON/base64 endpoint.

Two ways to reach a hosted model, chosen by :class:`~huatu.config.Settings`:

* **Path A**, when ``HF_API_TTI_BASE`` is set (the tutorial's endpoint): a plain ``httpx``
  POST of ``{"inputs": prompt, "parameters": {...}}``. The answer is decided by its
  ``Content-Type``: ``image/*`` is the image itself, ``application/json`` carries a base64
  image (a bare JSON string, as in the tutorial, or an object/list holding it).
* **Path B** otherwise: ``huggingface_hub.InferenceClient(provider=...).text_to_image``. For
  the ``hf-inference`` provider the model is given as the full router URL
  (``{HUATU_HF_ROUTER}/hf-inference/models/{model}``), so nothing looks the model up on the Hub.

Both share one deadline (``HUATU_HOSTED_TIMEOUT``) for the whole request, all images and all
retries, and the same retry policy: 503 ("model is loading") and 429 ("too many requests") are
retried with bounded exponential backoff that honours ``Retry-After`` and ``estimated_time``.
Every error raised is a :class:`~huatu.errors.HostedError` whose message has been passed through
:meth:`Settings.redact`, so the key never reaches a person, a log or a traceback's message.

The module is split into small pure functions (payload building, ``Retry-After`` parsing,
backoff, response decoding), the two senders, and the retry loop in
:meth:`HostedBackend.generate`.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from huatu.backends.base import BackendOutput, CancelToken, ProgressCallback, ProgressEvent
from huatu.config import Settings
from huatu.errors import (
    GenerationCancelled,
    HostedAuthError,
    HostedError,
    HostedResponseError,
    HostedTimeoutError,
    ModelNotServedError,
)

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
#: HTTP statuses that are retried (the model is loading; too many requests).
RETRY_STATUSES = frozenset({429, 503})
#: First backoff wait, in seconds; doubled on each further attempt.
BACKOFF_BASE_S = 1.0
#: Longest backoff huatu chooses on its own, in seconds (a server's ``Retry-After`` may ask more).
BACKOFF_CAP_S = 30.0
#: Most HTTP attempts for one image before giving up.
MAX_ATTEMPTS = 8
#: How often waits and running calls look at the cancel token, in seconds.
POLL_S = 0.1
#: Extra time a running call gets past the deadline before it is abandoned, in seconds (the
#: HTTP client's own timeout normally fires first).
WATCHDOG_GRACE_S = 1.0
#: Longest server error text quoted in a message, in characters.
MAX_SERVER_TEXT = 200

_PNG = b"\x89PNG\r\n\x1a\n"
_IMAGE_MAGIC = (_PNG, b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_DATA_URI = re.compile(r"^\s*data:[\w/+.-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)
_T = TypeVar("_T")


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


def build_client_kwargs(request: GenerationRequest, seed: int, model: str) -> dict[str, Any]:
    """Build the keyword arguments of ``InferenceClient.text_to_image`` (all but the prompt).

    Args:
        request: the validated request.
        seed: the seed for this one image; always sent.
        model: what to pass as ``model=``: a router URL, an endpoint URL or a Hub id (see
            :func:`resolve_client_model`).

    Returns:
        A dict; ``negative_prompt`` is ``None`` when empty (``InferenceClient`` then omits it).
    """
    return {
        "negative_prompt": request.negative_prompt or None,
        "height": int(request.height),
        "width": int(request.width),
        "num_inference_steps": int(request.num_inference_steps),
        "guidance_scale": float(request.guidance_scale),
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
# Pure helpers: retry policy
# --------------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse an HTTP ``Retry-After`` header into seconds.

    Args:
        value: the header's value: seconds (``"5"``, ``"1.5"``) or an HTTP date; ``None`` when
            the header is missing.
        now: the current time for HTTP dates. Default: the real current time (UTC).

    Returns:
        Seconds to wait (never negative), or ``None`` when missing or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def parse_estimated_time(body: bytes) -> float | None:
    """Return ``estimated_time`` (seconds) from a 503 JSON body, or ``None`` when absent.

    Args:
        body: the response body, e.g.
            ``b'{"error": "Model ... is currently loading", "estimated_time": 20.0}'``.
    """
    data = _json_or_none(body)
    if not isinstance(data, dict):
        return None
    value = data.get("estimated_time")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value):
        return None
    return max(0.0, float(value))


def backoff_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    estimated_time: float | None = None,
    base: float = BACKOFF_BASE_S,
    cap: float = BACKOFF_CAP_S,
) -> float:
    """Seconds to wait before retry number ``attempt + 1``.

    Args:
        attempt: retries made so far (0 before the first retry).
        retry_after: the server's ``Retry-After`` in seconds, if any; the wait is never shorter
            (even past ``cap``: the deadline check then fails the request at once).
        estimated_time: a 503's ``estimated_time`` in seconds, if any; used when longer than
            the exponential wait, but capped at ``cap`` (it is only an estimate).
        base: the first exponential wait. Default 1 s.
        cap: the longest wait huatu chooses on its own. Default 30 s.

    Returns:
        ``min(base * 2**attempt, cap)``, raised to ``estimated_time`` (capped) and
        ``retry_after``.
    """
    wait = min(base * (2 ** max(0, attempt)), cap)
    if estimated_time is not None:
        wait = max(wait, min(estimated_time, cap))
    if retry_after is not None:
        wait = max(wait, retry_after)
    return float(wait)


def format_seconds(seconds: float) -> str:
    """Format a wait for people: ``"0.5"`` under 10 s with a fraction, else whole seconds."""
    if seconds < 10 and abs(seconds - round(seconds)) >= 0.05:
        return f"{seconds:.1f}"
    return f"{round(seconds):d}"


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
        raise HostedResponseError(
            "The hosted service answered with an empty body instead of an image."
        )
    if kind.startswith("image/"):
        return body
    if kind == "application/json" or kind.endswith("+json"):
        return decode_json_image(body)
    if "html" in kind or body.lstrip()[:1] == b"<":
        raise HostedResponseError(
            "The hosted service answered with a web page instead of an image; "
            "check HF_API_TTI_BASE or HUATU_HF_ROUTER."
        )
    if body.startswith(_IMAGE_MAGIC) or body[8:12] == b"WEBP":
        return body
    if body.lstrip()[:1] in (b'"', b"{", b"["):
        return decode_json_image(body)
    shown = kind or "no content type"
    raise HostedResponseError(
        f"The hosted service answered with something that is not an image ({shown})."
    )


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
        raise HostedResponseError(
            "The hosted service said it sent JSON, but the body is not valid JSON."
        )
    text = find_base64_image(data)
    if text is None:
        detail = server_error_text(body)
        suffix = f": {detail}" if detail else ""
        raise HostedResponseError(
            f"The hosted service answered with JSON that holds no image{suffix}."
        )
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
        raise HostedResponseError("The hosted service sent an empty image.")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(cleaned.encode("ascii"))
        return base64.b64decode(cleaned.encode("ascii"), validate=True)
    except (binascii.Error, ValueError):
        raise HostedResponseError(
            "The hosted service sent text that is not a base64 image."
        ) from None


def open_image(data: bytes) -> Image:
    """Decode image bytes into an RGB PIL image.

    Raises:
        HostedResponseError: the bytes are not a readable image (garbage, truncated ...).
    """
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(data)) as image:
            return _to_rgb(image)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise HostedResponseError(
            "The hosted service sent data that is not a readable image."
        ) from None


def server_error_text(body: bytes, limit: int = MAX_SERVER_TEXT) -> str:
    """Return a short, one-line server error text from an error body ("" when none).

    Args:
        body: the response body: JSON like ``{"error": "..."}`` or ``{"error": ["..."]}`` or
            ``{"message": "..."}``, or plain text. HTML pages give "".
        limit: longest text returned, in characters; longer text is cut with "…". Default 200.
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
        decoded = body[: limit * 4].decode("utf-8", errors="replace")
        if "<" not in decoded.lstrip()[:1]:
            text = decoded
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _to_rgb(image: Any) -> Image:
    image.load()
    return image.convert("RGB") if image.mode != "RGB" else image.copy()


# --------------------------------------------------------------------------------------------
# Sending: internal failures, normalised across httpx / huggingface_hub
# --------------------------------------------------------------------------------------------


class _StatusFailure(Exception):
    """An HTTP error status from either path (internal; never leaves this module)."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.headers = {str(k).lower(): str(v) for k, v in headers.items()}
        self.body = body


class _TransportFailure(Exception):
    """A failure below HTTP, ``kind`` one of: timeout, connect, reset, url, offline, other."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _classify_transport(error: Exception, module: Any) -> _TransportFailure:
    """Map an ``httpx``/``httpx2`` exception onto a :class:`_TransportFailure` kind."""
    if isinstance(error, module.TimeoutException):
        return _TransportFailure("timeout")
    if isinstance(error, (module.UnsupportedProtocol, module.InvalidURL)):
        return _TransportFailure("url")
    if isinstance(error, module.ConnectError):
        return _TransportFailure("connect")
    if isinstance(error, (module.RemoteProtocolError, module.ReadError, module.WriteError)):
        return _TransportFailure("reset")
    return _TransportFailure("other")


@dataclass(frozen=True)
class _Call:
    """One HTTP attempt for one image."""

    request: GenerationRequest
    seed: int
    timeout_s: float


def _send_tutorial(settings: Settings, call: _Call) -> Image:
    """Path A: POST the tutorial's JSON to ``HF_API_TTI_BASE`` with ``httpx``."""
    import httpx

    assert settings.hf_api_tti_base is not None
    headers = {
        "Authorization": f"Bearer {settings.hf_api_key}",
        "Content-Type": "application/json",
        "Accept": "image/png, application/json",
    }
    try:
        response = httpx.post(
            settings.hf_api_tti_base,
            json=build_tti_payload(call.request, call.seed),
            headers=headers,
            timeout=httpx.Timeout(call.timeout_s),
            follow_redirects=True,
        )
    except httpx.HTTPError as error:
        raise _classify_transport(error, httpx) from None
    except (OSError, ValueError):  # e.g. a URL httpx cannot even parse
        raise _TransportFailure("url") from None
    if response.status_code >= 400:
        raise _StatusFailure(response.status_code, response.headers, response.content)
    data = decode_image_body(response.content, response.headers.get("content-type"))
    return open_image(data)


def _send_inference_client(settings: Settings, call: _Call) -> Image:
    """Path B: ``InferenceClient.text_to_image`` through the chosen provider."""
    import httpx2
    from huggingface_hub import InferenceClient
    from huggingface_hub.errors import (
        HfHubHTTPError,
        InferenceTimeoutError,
        OfflineModeIsEnabled,
    )
    from PIL import UnidentifiedImageError

    model = resolve_client_model(
        settings.effective_hosted_model, settings.hosted_provider, settings.hf_router
    )
    client = InferenceClient(
        provider=settings.hosted_provider,  # type: ignore[arg-type]
        api_key=settings.hf_api_key,
        timeout=call.timeout_s,
    )
    try:
        image = client.text_to_image(
            call.request.prompt, **build_client_kwargs(call.request, call.seed, model)
        )
    except HfHubHTTPError as error:
        response = error.response
        try:
            body = response.content
        except Exception:  # an unread stream: fall back to what huggingface_hub kept
            body = (error.server_message or "").encode()
        raise _StatusFailure(response.status_code, response.headers, body) from None
    except InferenceTimeoutError:
        raise _TransportFailure("timeout") from None
    except OfflineModeIsEnabled:
        raise _TransportFailure("offline") from None
    except httpx2.HTTPError as error:
        raise _classify_transport(error, httpx2) from None
    except UnidentifiedImageError:
        raise HostedResponseError(
            "The hosted service sent data that is not a readable image."
        ) from None
    except ValueError as error:  # unknown provider or task, bad model id ...
        raise HostedError(f"InferenceClient refused the request: {_one_line(str(error))}") from None
    finally:
        client.close()
    try:
        return _to_rgb(image)
    except (OSError, ValueError, SyntaxError):
        raise HostedResponseError(
            "The hosted service sent data that is not a readable image."
        ) from None


def _one_line(text: str, limit: int = MAX_SERVER_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------------------------
# The backend
# --------------------------------------------------------------------------------------------


class HostedBackend:
    """Generate images with Hugging Face hosted inference (or the tutorial's endpoint).

    Args:
        settings: where and how to call: ``hf_api_key`` (required at generate time),
            ``hf_api_tti_base`` (chooses the tutorial's endpoint), ``hosted_provider``,
            ``effective_hosted_model``, ``hf_router`` and ``hosted_timeout_s`` (the overall
            deadline of one :meth:`generate`, retries included).

    Attributes:
        id: ``"hosted"``.
        model: the model asked of the hosted service (``settings.effective_hosted_model``).
        description: one line for people; never contains the key.
        max_concurrency: 4 generations at once (the work happens on the server).
    """

    id = "hosted"
    max_concurrency = 4

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = settings.effective_hosted_model
        if settings.hf_api_tti_base:
            text = f"hosted · tutorial endpoint {host_of(settings.hf_api_tti_base)}"
        else:
            shown = host_of(self.model) if is_url(self.model) else self.model
            text = f"hosted · {shown} via {settings.hosted_provider}"
        self.description = settings.redact(text)

    def __repr__(self) -> str:
        return f"HostedBackend({self.description!r})"

    def token_count(self, text: str) -> int | None:
        """Always ``None``: the hosted service's tokenizer is unknown here."""
        return None

    def sampler_label(self, request: GenerationRequest) -> str:
        """Always ``"Hosted default"``: the hosted service picks its own scheduler."""
        return "Hosted default"

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> BackendOutput:
        """Make ``request.num_images`` hosted calls, image *i* with seed ``request.seed + i``.

        Args:
            request: a validated request whose ``seed`` is not -1.
            progress: called with a :class:`ProgressEvent` before each call and before each
                retry wait (``wait_s`` set). Default: none.
            cancel: checked between calls, while waiting and while a call runs. Default: none.

        Returns:
            The RGB images and their seeds.

        Raises:
            HostedAuthError: no key is configured, or the service rejected it (401/403).
            ModelNotServedError: the service does not serve the model (404/410).
            HostedTimeoutError: no image before ``settings.hosted_timeout_s``.
            HostedResponseError: the answer was not an image.
            HostedError: anything else (unreachable service, other HTTP errors).
            GenerationCancelled: ``cancel`` was set.
        """
        if not self.settings.hf_api_key:
            raise HostedAuthError(
                "No Hugging Face key is configured: set HF_API_KEY in .env or the environment, "
                "or generate locally with `--backend local` (or `--model tiny`)."
            )
        try:
            return self._generate(request, progress, cancel)
        except (HostedError, GenerationCancelled) as error:
            text = str(error)
            redacted = self.settings.redact(text)
            if redacted == text:
                raise
            raise type(error)(redacted) from None

    # -- internals -----------------------------------------------------------------------

    def _generate(
        self,
        request: GenerationRequest,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> BackendOutput:
        deadline = time.monotonic() + self.settings.hosted_timeout_s
        send = _send_tutorial if self.settings.hf_api_tti_base else _send_inference_client
        images: list[Image] = []
        seeds: list[int] = []
        for index in range(request.num_images):
            _check_cancel(cancel)
            seed = request.seed + index
            if progress is not None:
                which = (
                    f" (image {index + 1} of {request.num_images})"
                    if request.num_images > 1
                    else ""
                )
                message = self.settings.redact(f"Waiting for {self._where()}{which}…")
                progress(ProgressEvent(step=0, total=0, message=message))
            images.append(self._one_image(send, request, seed, deadline, progress, cancel))
            seeds.append(seed)
        return BackendOutput(images=images, seeds=seeds)

    def _one_image(
        self,
        send: Callable[[Settings, _Call], Image],
        request: GenerationRequest,
        seed: int,
        deadline: float,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> Image:
        """Get one image, retrying 429/503 until it arrives or the deadline/attempts run out."""
        started = time.monotonic()
        last: _StatusFailure | None = None
        for attempt in range(MAX_ATTEMPTS):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout_error()
            call = _Call(request=request, seed=seed, timeout_s=remaining)
            try:
                return _run_interruptible(
                    lambda call=call: send(self.settings, call), deadline=deadline, cancel=cancel
                )
            except _TransportFailure as failure:
                raise self._transport_error(failure.kind) from None
            except _StatusFailure as failure:
                if failure.status not in RETRY_STATUSES:
                    raise self._status_error(failure) from None
                last = failure
            wait = backoff_delay(
                attempt,
                retry_after=parse_retry_after(last.headers.get("retry-after")),
                estimated_time=parse_estimated_time(last.body) if last.status == 503 else None,
            )
            if attempt + 1 >= MAX_ATTEMPTS:
                break
            if time.monotonic() + wait > deadline:
                raise self._retry_timeout_error(
                    last.status, time.monotonic() - started, attempt + 1, wait
                )
            reason = (
                "The model is loading on the hosted service"
                if last.status == 503
                else "The hosted service is rate-limiting requests (429)"
            )
            if progress is not None:
                progress(
                    ProgressEvent(
                        step=0,
                        total=0,
                        message=self.settings.redact(
                            f"{reason}, retrying in {format_seconds(wait)} s…"
                        ),
                        wait_s=wait,
                    )
                )
            _sleep(wait, cancel)
        status = last.status if last is not None else 503
        raise self._retry_timeout_error(status, time.monotonic() - started, MAX_ATTEMPTS, None)

    def _where(self) -> str:
        if self.settings.hf_api_tti_base:
            return f"the endpoint at {host_of(self.settings.hf_api_tti_base)}"
        if is_url(self.model):
            return f"the endpoint at {host_of(self.model)}"
        return f"Hugging Face ({self.settings.hosted_provider})"

    def _address(self) -> str:
        if self.settings.hf_api_tti_base:
            return host_of(self.settings.hf_api_tti_base)
        if is_url(self.model):
            return host_of(self.model)
        if self.settings.hosted_provider == "hf-inference":
            return host_of(self.settings.hf_router)
        return f"provider {self.settings.hosted_provider}"

    def _make(self, cls: type[HostedError], text: str) -> HostedError:
        """Build ``cls`` with ``text`` made a sentence and redacted."""
        return cls(self.settings.redact(text[:1].upper() + text[1:]))

    def _timeout_error(self) -> HostedError:
        return self._make(
            HostedTimeoutError,
            f"{self._where()} sent no image within {self.settings.hosted_timeout_s:g} s "
            "(HUATU_HOSTED_TIMEOUT). Try again, raise HUATU_HOSTED_TIMEOUT, "
            "or generate locally with `--backend local`.",
        )

    def _retry_timeout_error(
        self, status: int, waited: float, attempts: int, next_wait: float | None
    ) -> HostedError:
        why = (
            "was still loading the model"
            if status == 503
            else "was still rate-limiting requests (429)"
        )
        over = f"after {attempts} tries over {format_seconds(waited)} s"
        limit = f"the {self.settings.hosted_timeout_s:g} s limit (HUATU_HOSTED_TIMEOUT)"
        if next_wait is None:
            detail = f"{why} {over}, so huatu gave up"
        elif attempts == 1:
            now = "is loading the model" if status == 503 else "is rate-limiting requests (429)"
            detail = f"{now}; waiting {format_seconds(next_wait)} s would pass {limit}"
        else:
            detail = f"{why} {over}; waiting {format_seconds(next_wait)} s more would pass {limit}"
        return self._make(
            HostedTimeoutError,
            f"{self._where()} {detail}. Try again in a minute, raise HUATU_HOSTED_TIMEOUT, "
            "or generate locally with `--backend local`.",
        )

    def _transport_error(self, kind: str) -> HostedError:
        address = self._address()
        if kind == "timeout":
            return self._timeout_error()
        if kind == "connect":
            return self._make(
                HostedError,
                f"Could not reach the hosted service at {address}: the connection failed. "
                "Check your network (and HF_API_TTI_BASE / HUATU_HF_ROUTER), "
                "or generate locally with `--backend local`.",
            )
        if kind == "reset":
            return self._make(
                HostedError,
                f"The connection to the hosted service at {address} was cut before the image "
                "arrived. Try again, or generate locally with `--backend local`.",
            )
        if kind == "url":
            return self._make(
                HostedError,
                "The hosted service's address is not a valid http(s) URL; "
                "check HF_API_TTI_BASE / HUATU_HF_ROUTER / HUATU_HOSTED_MODEL.",
            )
        if kind == "offline":
            return self._make(
                HostedError,
                "Hosted generation is off because HF_HUB_OFFLINE is set; unset it, "
                "or generate locally with `--backend local`.",
            )
        return self._make(
            HostedError,
            f"Could not talk to the hosted service at {address}. Try again, "
            "or generate locally with `--backend local`.",
        )

    def _status_error(self, failure: _StatusFailure) -> HostedError:
        status = failure.status
        if status in (401, 403):
            return self._make(
                HostedAuthError,
                f"Hugging Face rejected the API key ({status}). Check HF_API_KEY in .env or the "
                "environment (a token allowed to call Inference Providers), "
                "or generate locally with `--backend local`.",
            )
        if status in (404, 410):
            gone = ", that address is gone" if status == 410 else ""
            if self.settings.hf_api_tti_base:
                first = (
                    "The model is not served by the endpoint at "
                    f"{host_of(self.settings.hf_api_tti_base)} ({status}{gone})."
                )
            else:
                first = (
                    f"The model {self.model} is not served by the "
                    f"{self.settings.hosted_provider} provider ({status}{gone})."
                )
            return self._make(
                ModelNotServedError,
                f"{first} Stable Diffusion 1.5 may no longer be served by any provider: "
                "choose another model with `--model` or HUATU_HOSTED_MODEL, "
                "or generate locally with `--backend local`.",
            )
        detail = server_error_text(failure.body)
        suffix = f": {detail}" if detail else "."
        return self._make(HostedError, f"{self._where()} answered HTTP {status}{suffix}")


# --------------------------------------------------------------------------------------------
# Waiting and running with cancel + deadline
# --------------------------------------------------------------------------------------------


def _check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise GenerationCancelled("Stopped.")


def _sleep(seconds: float, cancel: CancelToken | None, *, poll_s: float = POLL_S) -> None:
    """Sleep ``seconds`` in slices of ``poll_s``, raising GenerationCancelled when cancelled."""
    end = time.monotonic() + seconds
    while True:
        _check_cancel(cancel)
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(poll_s, left))


def _run_interruptible(
    fn: Callable[[], _T],
    *,
    deadline: float,
    cancel: CancelToken | None,
    grace_s: float = WATCHDOG_GRACE_S,
    poll_s: float = POLL_S,
) -> _T:
    """Run ``fn`` in a daemon thread; return its result or re-raise its exception.

    Stops waiting (the thread is left to end on its own HTTP timeout) when ``cancel`` is set,
    raising GenerationCancelled, or when ``deadline + grace_s`` passes, raising a timeout
    :class:`_TransportFailure`.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as error:  # handed over to the waiting thread
            box["error"] = error
        finally:
            done.set()

    worker = threading.Thread(target=target, name="huatu-hosted-call", daemon=True)
    worker.start()
    while not done.wait(poll_s):
        _check_cancel(cancel)
        if time.monotonic() > deadline + grace_s:
            raise _TransportFailure("timeout")
    if "error" in box:
        error = box.pop("error")
        try:
            raise error
        finally:
            del error
    return box["value"]
