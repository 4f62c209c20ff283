"""Hugging Face hosted inference: ``InferenceClient`` and the tutorial's JSON/base64 endpoint.

Two ways to reach a hosted model, chosen by :class:`~huatu.config.Settings`:

* **Path A**, when ``HF_API_TTI_BASE`` is set (the tutorial's endpoint): a plain ``httpx``
  POST of ``{"inputs": prompt, "parameters": {...}}``. The answer is decided by its
  ``Content-Type``: ``image/*`` is the image itself, ``application/json`` carries a base64
  image (a bare JSON string, as in the tutorial, or an object/list holding it).
* **Path B** otherwise: ``huggingface_hub.InferenceClient(provider=...).text_to_image``, with
  the provider the Hub named at start (``auto`` resolved). For ``hf-inference`` the model is
  given as the full router URL (``{HUATU_HF_ROUTER}/hf-inference/models/{model}``); other
  providers are reached through the router too (``{HUATU_HF_ROUTER}/{provider}/...``).

Both share one deadline (``HUATU_HOSTED_TIMEOUT``) for the whole request, all images and all
retries, and the retry policy of :mod:`huatu.backends.hosted_calls`: 503 ("model is loading")
and 429 ("too many requests") are retried with bounded exponential backoff that honours
``Retry-After`` and ``estimated_time``. Every error is a :class:`~huatu.errors.HostedError`
with a ``hosted_*`` key of :mod:`huatu.catalog` and parameters redacted by
:meth:`Settings.redact` (so are progress notices): the key never reaches a person or a log.

Request building and response decoding are pure functions in
:mod:`huatu.backends.hosted_wire`, the two senders live in :mod:`huatu.backends.hosted_send`,
what each model family takes in :mod:`huatu.backends.hosted_families`, and the start (asking
the Hub which provider serves the model) in :mod:`huatu.backends.hosted_start`; this module
holds the backend: the retry loop per image and the sentences for its failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
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
from huatu.backends.hosted_families import fit_request
from huatu.backends.hosted_send import (
    ImageCall,
    check_cancel,
    run_interruptible,
    send_inference_client,
    send_tutorial,
    sleep_unless_cancelled,
    source_png,
)
from huatu.backends.hosted_wire import (
    host_of,
    is_url,
    server_error_text,
)
from huatu.config import AUTO_PROVIDER, Settings
from huatu.errors import (
    HostedAuthError,
    HostedError,
    HostedTimeoutError,
    ModelNotServedError,
)
from huatu.messages import Notice
from huatu.presets import quality_presets
from huatu.request import IMG2IMG, TXT2IMG

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.backends.hub_lookup import ProviderRoute
    from huatu.request import GenerationRequest

#: The provider of ``auto`` when the Hub could not be asked: Hugging Face's own, reached through
#: the router without a lookup.
FALLBACK_PROVIDER = "hf-inference"
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


class HostedBackend:
    """Generate images with Hugging Face hosted inference (or the tutorial's endpoint).

    Args:
        settings: ``hf_api_key`` (needed to generate), ``hf_api_tti_base`` (the tutorial's
            endpoint), ``hosted_provider``, ``effective_hosted_model``, ``hf_router``,
            ``hf_endpoint``, ``hosted_timeout_s`` (one :meth:`generate`'s deadline).
        route: the provider the Hub says serves the model (``auto`` resolved), or ``None``
            when the Hub was not asked: then ``hosted_provider``, with ``hf-inference`` for
            ``auto``. Default ``None``.
        alternatives: other hosted models that are served, offered in the studio's model
            choice. Default none.
        edit_route: the provider serving the model for image-to-image, if one does.
            Default ``None``: text to image only.

    Attributes:
        id: ``"hosted"``.
        model: the model asked of the hosted service (``settings.effective_hosted_model``).
        provider: the provider the calls go to (unused with the tutorial's endpoint).
        detail: where the calls go (endpoint, or provider and why); never contains the key.
        description: ``hosted · <model> via <provider>`` (or the endpoint), for logs.
    """

    id = "hosted"
    #: Generations at once (the work happens on the server).
    CONCURRENCY = 4
    #: Content tokens of the CLIP text encoder the hosted families read first (FLUX, SD).
    TOKEN_LIMIT = 75
    #: The one A1111 metadata field it adds: the provider that made the image.
    PROVIDER_FIELD = "Hosted provider"

    def __init__(
        self,
        settings: Settings,
        *,
        route: ProviderRoute | None = None,
        alternatives: tuple[str, ...] = (),
        edit_route: ProviderRoute | None = None,
    ) -> None:
        self.settings = settings
        self.edit_route = edit_route
        self.model = settings.effective_hosted_model
        self.model_hash: str | None = None  # a hosted model has no file here
        self.alternatives = alternatives
        asked = settings.hosted_provider
        if route is not None:
            self.provider = route.provider
            why = "hosted_provider_auto" if asked == AUTO_PROVIDER else "hosted_provider_set"
        else:
            self.provider = FALLBACK_PROVIDER if asked == AUTO_PROVIDER else asked
            why = "hosted_provider_unasked" if asked == AUTO_PROVIDER else "hosted_provider_set"
        self.detail: str | Notice
        if settings.hf_api_tti_base:
            self.detail = settings.redact(f"tutorial endpoint {host_of(settings.hf_api_tti_base)}")
            where = self.detail
        elif is_url(self.model):
            self.detail = settings.redact(f"endpoint {host_of(self.model)}")
            where = self.detail
        else:
            self.detail = Notice(why, {"provider": self.provider})
            where = f"{self.model} via {self.provider}"
        self.description = f"hosted · {where}"

    def __repr__(self) -> str:
        return f"HostedBackend({self.description!r})"

    @property
    def uses_provider(self) -> bool:
        """Whether calls go through ``InferenceClient`` and a provider (not the tutorial's
        endpoint, nor an endpoint URL)."""
        return not self.settings.hf_api_tti_base and not is_url(self.model)

    @property
    def capabilities(self) -> Capabilities:
        """Text to image; an estimated CLIP token count; the service picks its own sampler
        (so no preset is recorded); the provider in the metadata; four calls at once; the
        served models it knows of as alternatives."""
        return Capabilities(
            modes=frozenset({TXT2IMG, IMG2IMG} if self.edit_route else {TXT2IMG}),
            token_limit=self.TOKEN_LIMIT,
            presets=quality_presets(fast_available=False),
            metadata_fields=(self.PROVIDER_FIELD,) if self.uses_provider else (),
            concurrency=self.CONCURRENCY,
            alternatives=self.alternatives,
        )

    def metadata_fields(self, request: GenerationRequest) -> dict[str, str]:
        """The provider that made the images (through a provider only)."""
        if not self.uses_provider:
            return {}
        editing = request.mode == IMG2IMG and self.edit_route is not None
        return {self.PROVIDER_FIELD: self.edit_route.provider if editing else self.provider}

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

        Through a provider, only what the model takes is sent (:func:`~huatu.backends.
        hosted_families.fit_request`; ``sent``/``unused``/notices say what); image to image
        goes to :attr:`edit_route`. The tutorial's endpoint gets every setting.

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
        fitted = fit_request(request, self.model) if self.uses_provider else None
        sent = fitted.sent if fitted is not None else request
        unused = fitted.unused if fitted is not None else frozenset()
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
            call = ImageCall(sent, seed, 0.0, provider=self.provider, unused=unused)
            if request.mode == IMG2IMG and self.edit_route is not None:
                call = replace(call, provider=self.edit_route.provider, source=source_png(sent))
            images.append(self._one_image(send, call, deadline, progress, cancel))
            seeds.append(seed)
        if fitted is None:
            return BackendOutput(images=images, seeds=seeds)
        return BackendOutput(
            images=images,
            seeds=seeds,
            notices=list(fitted.notices),
            sent=sent,
            unused=unused,
        )

    def _one_image(
        self,
        send: Callable[[Settings, ImageCall], Image],
        call: ImageCall,
        deadline: float,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> Image:
        """Get one image, retrying 429/503 until it arrives or the deadline/attempts run out."""

        def attempt(remaining: float | None) -> Image:
            timed = replace(call, timeout_s=remaining or self.settings.hosted_timeout_s)
            return run_interruptible(
                lambda: send(self.settings, timed), deadline=deadline, cancel=cancel
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
        return Notice("hosted_where_provider", {"provider": self.provider})

    def _address(self) -> str | Notice:
        """Where the calls go: a host, or "provider NAME" when only the provider knows."""
        if self.settings.hf_api_tti_base:
            return host_of(self.settings.hf_api_tti_base)
        if is_url(self.model):
            return host_of(self.model)
        if self.provider == FALLBACK_PROVIDER:
            return host_of(self.settings.hf_router)
        return Notice("hosted_address_provider", {"provider": self.provider})

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
                key = "hosted_not_served_endpoint"
                params = {"host": host_of(self.settings.hf_api_tti_base)}
            else:
                key = "hosted_not_served_provider"
                params = {"model": self.model, "provider": self.provider}
            return self._error(ModelNotServedError, key, status=status, gone=gone, **params)
        detail = server_error_text(failure.body)
        key = "hosted_http_error_detail" if detail else "hosted_http_error"
        return self._error(
            HostedError, key, where=self._where(lead=True), status=status, detail=detail
        )
