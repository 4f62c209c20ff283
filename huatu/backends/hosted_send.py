"""Sending one text-to-image call to a hosted service (no retries here), so that a cancel or
the deadline can stop it.

* :func:`send_tutorial`: the tutorial's endpoint (``HF_API_TTI_BASE``), a plain ``httpx`` POST
  whose answer is an image or JSON carrying base64 (decided by its ``Content-Type``);
* :func:`send_inference_client`: ``huggingface_hub.InferenceClient.text_to_image`` through the
  chosen provider (whose answer may be the image's bytes, or JSON with a URL the client then
  fetches, as fal-ai's is).

Each returns an RGB image or raises what :mod:`huatu.backends.hosted_calls` expects: a
:class:`~huatu.backends.hosted_calls.StatusFailure` for an HTTP error answer, a
:class:`~huatu.backends.hosted_calls.TransportFailure` below HTTP, or a
:class:`~huatu.errors.HostedError` with a catalog key when the answer is not an image.
:class:`~huatu.backends.hosted.HostedBackend` retries and words them, running each call
with :func:`run_interruptible` and waiting with :func:`sleep_unless_cancelled`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from huatu.backends.hosted_calls import (
    StatusFailure,
    TransportFailure,
    classify_transport,
    hub_errors,
)
from huatu.backends.hosted_wire import (
    build_client_kwargs,
    build_tti_payload,
    decode_image_body,
    open_image,
    resolve_client_model,
    to_rgb,
)
from huatu.backends.hub_lookup import point_library_at
from huatu.errors import GenerationCancelled, HostedError, HostedResponseError
from huatu.messages import Clipped

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.backends.base import CancelToken
    from huatu.config import Settings
    from huatu.request import GenerationRequest

#: How often waits and running calls look at the cancel token, in seconds.
POLL_S = 0.1
#: Extra time a running call gets past the deadline before it is abandoned, in seconds (the
#: HTTP client's own timeout normally fires first).
WATCHDOG_GRACE_S = 1.0
_T = TypeVar("_T")


@dataclass(frozen=True)
class ImageCall:
    """One HTTP attempt for one image.

    Attributes:
        request: the validated request, as it is sent. seed: this image's seed (always sent).
        timeout_s: the HTTP client's timeout for this attempt, in seconds.
        provider: the inference provider (the client's path only). Default ``hf-inference``.
        unused: request fields not sent (the client's path only). Default none.
        source: the source picture as PNG bytes for image to image (the client's path only),
            or ``None`` for text to image. Default ``None``.
    """

    request: GenerationRequest
    seed: int
    timeout_s: float
    provider: str = "hf-inference"
    unused: frozenset[str] = frozenset()
    source: bytes | None = None


def send_tutorial(settings: Settings, call: ImageCall) -> Image:
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
        raise classify_transport(error, httpx) from None
    except (OSError, ValueError):  # e.g. a URL httpx cannot even parse
        raise TransportFailure("url") from None
    if response.status_code >= 400:
        raise StatusFailure(response.status_code, response.headers, response.content)
    data = decode_image_body(response.content, response.headers.get("content-type"))
    return open_image(data)


def source_png(request: GenerationRequest) -> bytes:
    """The request's source picture, fitted to its size, as PNG bytes."""
    import io

    from huatu.images import fit

    assert request.init_image is not None
    fitted = fit(request.init_image.image, request.width, request.height, request.resize_mode)
    buffer = io.BytesIO()
    fitted.save(buffer, format="PNG")
    return buffer.getvalue()


def image_to_image_kwargs(kwargs: dict[str, Any], call: ImageCall) -> dict[str, Any]:
    """``text_to_image``'s arguments as ``image_to_image`` takes them: the size as
    ``target_size``, with the prompt, the denoising strength and the seed."""
    width, height = kwargs.pop("width"), kwargs.pop("height")
    return {
        **kwargs,
        "prompt": call.request.prompt,
        "target_size": {"width": width, "height": height},
        "strength": float(call.request.strength),
    }


def send_inference_client(settings: Settings, call: ImageCall) -> Image:
    """Path B: ``InferenceClient.text_to_image`` (or ``image_to_image`` with a source)
    through the chosen provider."""
    from huggingface_hub import InferenceClient
    from PIL import UnidentifiedImageError

    point_library_at(settings)
    model = resolve_client_model(settings.effective_hosted_model, call.provider, settings.hf_router)
    client = InferenceClient(
        provider=call.provider,  # type: ignore[arg-type]
        api_key=settings.hf_api_key,
        timeout=call.timeout_s,
    )
    kwargs = build_client_kwargs(call.request, call.seed, model, unused=call.unused)
    try:
        with hub_errors():
            if call.source is None:
                image = client.text_to_image(call.request.prompt, **kwargs)
            else:
                image = client.image_to_image(call.source, **image_to_image_kwargs(kwargs, call))
    except UnidentifiedImageError:
        raise HostedResponseError("hosted_unreadable_image") from None
    except ValueError as error:  # unknown provider or task, bad model id ...
        raise HostedError("hosted_client_refused", detail=Clipped(str(error))) from None
    finally:
        client.close()
    try:
        return to_rgb(image)
    except (OSError, ValueError, SyntaxError):
        raise HostedResponseError("hosted_unreadable_image") from None


# --------------------------------------------------------------------------------------------
# Waiting and running with cancel + deadline
# --------------------------------------------------------------------------------------------


def check_cancel(cancel: CancelToken | None) -> None:
    """Raise :class:`~huatu.errors.GenerationCancelled` when ``cancel`` is set."""
    if cancel is not None and cancel.cancelled:
        raise GenerationCancelled()


def sleep_unless_cancelled(
    seconds: float, cancel: CancelToken | None, *, poll_s: float = POLL_S
) -> None:
    """Sleep ``seconds`` in slices of ``poll_s`` (default 0.1 s), raising
    :class:`~huatu.errors.GenerationCancelled` as soon as ``cancel`` is set."""
    end = time.monotonic() + seconds
    while True:
        check_cancel(cancel)
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(poll_s, left))


def run_interruptible(
    fn: Callable[[], _T],
    *,
    deadline: float,
    cancel: CancelToken | None,
    grace_s: float = WATCHDOG_GRACE_S,
    poll_s: float = POLL_S,
) -> _T:
    """Run ``fn`` in a daemon thread; return its result or re-raise its exception.

    Stops waiting (the thread is left to end on its own HTTP timeout) when ``cancel`` is set,
    raising :class:`~huatu.errors.GenerationCancelled`, or when ``deadline + grace_s``
    (default 1 s) passes, raising a ``timeout`` :class:`TransportFailure`. ``poll_s``: how
    often it looks (default 0.1 s).
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
        check_cancel(cancel)
        if time.monotonic() > deadline + grace_s:
            raise TransportFailure("timeout")
    if "error" in box:
        error = box.pop("error")
        try:
            raise error
        finally:
            del error
    return box["value"]
