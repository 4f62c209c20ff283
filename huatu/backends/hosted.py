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

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from huatu.backends.base import (
    BackendOutput,
    CancelToken,
    Capabilities,
    ProgressCallback,
    ProgressEvent,
)
from huatu.backends.hosted_wire import (
    MAX_SERVER_TEXT,
    StatusFailure,
    backoff_delay,
    build_client_kwargs,
    build_tti_payload,
    decode_image_body,
    format_seconds,
    host_of,
    is_url,
    open_image,
    parse_estimated_time,
    parse_retry_after,
    resolve_client_model,
    server_error_text,
    to_rgb,
)
from huatu.config import Settings
from huatu.errors import (
    GenerationCancelled,
    HostedAuthError,
    HostedError,
    HostedResponseError,
    HostedTimeoutError,
    ModelLoadError,
    ModelNotServedError,
)
from huatu.presets import quality_presets
from huatu.request import TXT2IMG

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.request import GenerationRequest

#: HTTP statuses that are retried (the model is loading; too many requests).
RETRY_STATUSES = frozenset({429, 503})
#: Most HTTP attempts for one image before giving up.
MAX_ATTEMPTS = 8
#: How often waits and running calls look at the cancel token, in seconds.
POLL_S = 0.1
#: Extra time a running call gets past the deadline before it is abandoned, in seconds (the
#: HTTP client's own timeout normally fires first).
WATCHDOG_GRACE_S = 1.0
_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------
# Sending: internal failures, normalised across httpx / huggingface_hub
# --------------------------------------------------------------------------------------------


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
        raise StatusFailure(response.status_code, response.headers, response.content)
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
        raise StatusFailure.from_hub_error(error) from None
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
        return to_rgb(image)
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


def create_hosted_backend(model: str, settings: Settings) -> HostedBackend:
    """The registry's factory: a hosted backend for ``model`` (unless ``HUATU_HOSTED_MODEL``
    names another).

    Raises:
        ModelLoadError: no Hugging Face key is set.
    """
    from dataclasses import replace

    if not settings.hf_api_key:
        raise ModelLoadError("no_hosted_key")
    return HostedBackend(replace(settings, model=model))


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
    """

    id = "hosted"
    #: Generations at once (the work happens on the server).
    CONCURRENCY = 4
    #: Content tokens of SD 1.x's CLIP text encoder; the hosted models huatu targets use it.
    TOKEN_LIMIT = 75

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

    @property
    def capabilities(self) -> Capabilities:
        """Text to image; an estimated CLIP token count; the service picks its own sampler
        (so no preset is recorded); four calls at once."""
        return Capabilities(
            modes=frozenset({TXT2IMG}),
            token_limit=self.TOKEN_LIMIT,
            presets=quality_presets(fast_available=False),
            concurrency=self.CONCURRENCY,
        )

    def metadata_fields(self, request: GenerationRequest) -> dict[str, str]:
        """Nothing beyond the standard fields."""
        return {}

    def token_count(self, text: str) -> int | None:
        """An estimate (the hosted model's tokenizer is not at hand here)."""
        from huatu.prompt_checks import estimate_clip_tokens

        return estimate_clip_tokens(text)

    def sampler_label(self, request: GenerationRequest) -> str:
        """Always ``"Hosted default"``: the hosted service picks its own scheduler."""
        return "Hosted default"

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        preview_every: int = 0,
    ) -> BackendOutput:
        """Make ``request.num_images`` hosted calls, image *i* with seed ``request.seed + i``.

        Args:
            request: a validated request whose ``seed`` is not -1.
            progress: called with a :class:`ProgressEvent` before each call and before each
                retry wait (``wait_s`` set). Default: none.
            cancel: checked between calls, while waiting and while a call runs. Default: none.
            preview_every: ignored: the hosted service sends no intermediate images.

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
        last: StatusFailure | None = None
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
            except StatusFailure as failure:
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

    def _status_error(self, failure: StatusFailure) -> HostedError:
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
        raise GenerationCancelled()


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
