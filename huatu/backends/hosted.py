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
retries, and the retry policy of :mod:`huatu.backends.hosted_calls`: 503 ("model is loading")
and 429 ("too many requests") are retried with bounded exponential backoff that honours
``Retry-After`` and ``estimated_time``. Every error raised is a
:class:`~huatu.errors.HostedError` with a ``hosted_*`` key of :mod:`huatu.catalog`, whose
parameters went through :meth:`Settings.redact`, so the key never reaches a person, a log or
a traceback's message; progress messages are :class:`~huatu.messages.Notice` values, redacted
the same way.

Request building and response decoding are pure functions in
:mod:`huatu.backends.hosted_wire`, the two senders live in :mod:`huatu.backends.hosted_send`;
this module holds the backend: the retry loop per image and the sentences for its failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from huatu.backends.base import (
    BackendOutput,
    CancelToken,
    Capabilities,
    ProgressCallback,
    ProgressEvent,
)
from huatu.backends.hosted_calls import (
    RetriesExhausted,
    StatusFailure,
    TransportFailure,
    call_with_retries,
    format_seconds,
    scrubbed,
    status_kind,
)
from huatu.backends.hosted_send import (
    ImageCall,
    check_cancel,
    run_interruptible,
    send_inference_client,
    send_tutorial,
    sleep_unless_cancelled,
)
from huatu.backends.hosted_wire import (
    host_of,
    is_url,
    server_error_text,
)
from huatu.config import Settings
from huatu.errors import (
    HostedAuthError,
    HostedError,
    HostedTimeoutError,
    ModelLoadError,
    ModelNotServedError,
)
from huatu.messages import Notice
from huatu.presets import quality_presets
from huatu.request import TXT2IMG

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.request import GenerationRequest

#: Most HTTP attempts for one image before giving up.
MAX_ATTEMPTS = 8
#: The sentence for each failure below HTTP (a timeout has its own, see ``_timeout_error``).
TRANSPORT_KEYS = {
    "connect": "hosted_unreachable",
    "reset": "hosted_cut",
    "url": "hosted_bad_url",
    "offline": "hosted_offline",
    "other": "hosted_unreachable_other",
}


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
        detail: where the calls go (endpoint, or model via provider); never contains the key.
        description: ``hosted · <detail>``.
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
            detail = f"tutorial endpoint {host_of(settings.hf_api_tti_base)}"
        else:
            shown = host_of(self.model) if is_url(self.model) else self.model
            detail = f"{shown} via {settings.hosted_provider}"
        self.detail = settings.redact(detail)
        self.description = f"hosted · {self.detail}"

    def __repr__(self) -> str:
        return f"HostedBackend({self.description!r})"

    @property
    def capabilities(self) -> Capabilities:
        """Text to image; an estimated CLIP token count; the service picks its own sampler
        (so no preset is recorded) and adds no metadata fields; four calls at once."""
        return Capabilities(
            modes=frozenset({TXT2IMG}),
            token_limit=self.TOKEN_LIMIT,
            presets=quality_presets(fast_available=False),
            metadata_fields=(),
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
            raise HostedAuthError("hosted_no_key")
        try:
            return self._generate(request, progress, cancel)
        except HostedError as error:  # e.g. a server text that quotes the key
            params = scrubbed(error.params, self.settings.redact)
            if params == error.params:
                raise
            raise type(error)(error.key, **params) from None

    # -- internals -----------------------------------------------------------------------

    def _generate(
        self,
        request: GenerationRequest,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> BackendOutput:
        deadline = time.monotonic() + self.settings.hosted_timeout_s
        send = send_tutorial if self.settings.hf_api_tti_base else send_inference_client
        images: list[Image] = []
        seeds: list[int] = []
        for index, seed in enumerate(request.seeds):
            check_cancel(cancel)
            if progress is not None:
                if request.num_images > 1:
                    counted = {"index": index + 1, "count": request.num_images}
                    message = self._notice("hosted_waiting_image", where=self._where(), **counted)
                else:
                    message = self._notice("hosted_waiting", where=self._where())
                progress(ProgressEvent(step=0, total=0, message=message))
            images.append(self._one_image(send, request, seed, deadline, progress, cancel))
            seeds.append(seed)
        return BackendOutput(images=images, seeds=seeds)

    def _one_image(
        self,
        send: Callable[[Settings, ImageCall], Image],
        request: GenerationRequest,
        seed: int,
        deadline: float,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> Image:
        """Get one image, retrying 429/503 until it arrives or the deadline/attempts run out."""

        def attempt(remaining: float | None) -> Image:
            call = ImageCall(
                request=request, seed=seed, timeout_s=remaining or self.settings.hosted_timeout_s
            )
            return run_interruptible(
                lambda: send(self.settings, call), deadline=deadline, cancel=cancel
            )

        def announce(failure: StatusFailure, wait: float) -> None:
            if progress is None:
                return
            key = "hosted_retry_loading" if failure.status == 503 else "hosted_retry_rate_limited"
            message = self._notice(key, seconds=format_seconds(wait))
            progress(ProgressEvent(step=0, total=0, message=message, wait_s=wait))

        try:
            return call_with_retries(
                attempt,
                max_attempts=MAX_ATTEMPTS,
                deadline=deadline,
                on_wait=announce,
                sleep=lambda seconds: sleep_unless_cancelled(seconds, cancel),
            )
        except TransportFailure as failure:
            raise self._transport_error(failure.kind) from None
        except StatusFailure as failure:
            raise self._status_error(failure) from None
        except RetriesExhausted as exhausted:
            raise self._retry_timeout_error(exhausted) from None

    # -- sentences ---------------------------------------------------------------------------

    def _notice(self, key: str, **params: object) -> Notice:
        """The notice ``key`` with its parameters redacted."""
        return Notice(key, scrubbed(params, self.settings.redact))

    def _error(self, cls: type[HostedError], key: str, **params: object) -> HostedError:
        """The error ``cls`` with sentence ``key`` and its parameters redacted."""
        return cls(key, **scrubbed(params, self.settings.redact))

    def _where(self, *, lead: bool = False) -> Notice:
        """Who is called, for a sentence: "the endpoint at host" or "Hugging Face (provider)"
        (``lead``: capitalised, to start a sentence)."""
        url = self.settings.hf_api_tti_base or (self.model if is_url(self.model) else None)
        if url:
            key = "hosted_where_endpoint_lead" if lead else "hosted_where_endpoint"
            return Notice(key, {"host": host_of(url)})
        return Notice("hosted_where_provider", {"provider": self.settings.hosted_provider})

    def _address(self) -> str | Notice:
        """Where the calls go: a host, or "provider NAME" when only the provider knows."""
        if self.settings.hf_api_tti_base:
            return host_of(self.settings.hf_api_tti_base)
        if is_url(self.model):
            return host_of(self.model)
        if self.settings.hosted_provider == "hf-inference":
            return host_of(self.settings.hf_router)
        return Notice("hosted_address_provider", {"provider": self.settings.hosted_provider})

    def _timeout_error(self) -> HostedError:
        return self._error(
            HostedTimeoutError,
            "hosted_timeout",
            where=self._where(lead=True),
            limit=f"{self.settings.hosted_timeout_s:g}",
        )

    def _retry_timeout_error(self, exhausted: RetriesExhausted) -> HostedError:
        """Still 429/503 when retrying stopped: out of attempts, or the next wait is too long."""
        loading = exhausted.failure.status == 503
        params: dict[str, object] = {
            "where": self._where(lead=True),
            "attempts": exhausted.attempts,
            "waited": format_seconds(exhausted.waited_s),
            "limit": f"{self.settings.hosted_timeout_s:g}",
        }
        if exhausted.next_wait_s is None:
            key, why = "hosted_gave_up", "still"
        else:
            params["wait"] = format_seconds(exhausted.next_wait_s)
            first = exhausted.attempts == 1
            key = "hosted_wait_past_limit_first" if first else "hosted_wait_past_limit"
            why = "now" if first else "still"
        reason = Notice(f"hosted_{why}_{'loading' if loading else 'rate_limited'}")
        return self._error(HostedTimeoutError, key, why=reason, **params)

    def _transport_error(self, kind: str) -> HostedError:
        if kind == "timeout":
            return self._timeout_error()
        key = TRANSPORT_KEYS.get(kind, TRANSPORT_KEYS["other"])
        return self._error(HostedError, key, address=self._address())

    def _status_error(self, failure: StatusFailure) -> HostedError:
        status = failure.status
        kind = status_kind(status)
        if kind == "auth":
            return self._error(HostedAuthError, "hosted_key_rejected", status=status)
        if kind == "not_served":
            gone = Notice("hosted_address_gone") if status == 410 else ""
            if self.settings.hf_api_tti_base:
                host = host_of(self.settings.hf_api_tti_base)
                return self._error(
                    ModelNotServedError,
                    "hosted_not_served_endpoint",
                    host=host,
                    status=status,
                    gone=gone,
                )
            return self._error(
                ModelNotServedError,
                "hosted_not_served_provider",
                model=self.model,
                provider=self.settings.hosted_provider,
                status=status,
                gone=gone,
            )
        detail = server_error_text(failure.body)
        key = "hosted_http_error_detail" if detail else "hosted_http_error"
        return self._error(
            HostedError, key, where=self._where(lead=True), status=status, detail=detail
        )
