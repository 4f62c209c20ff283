"""Translating through Hugging Face's Inference Providers (``InferenceClient``).

Two routes, chosen by asking the Hub once (:mod:`huatu.backends.hub_lookup`) whether a
provider serves the translation model (``Helsinki-NLP/opus-mt-zh-en``) for translation:

* **translation task**, when one does (or when the Hub cannot be asked): the model's router
  URL on ``hf-inference``, as before;
* **chat completion** otherwise: a chat model (``Qwen/Qwen2.5-7B-Instruct`` by default) on the
  router's OpenAI-compatible endpoint, ``{HUATU_HF_ROUTER}/v1/chat/completions``, told in one
  short instruction to translate the image prompt to English and keep names and style words.

The call, its retry of a 429/503 and the sorting of its failures are those of
:mod:`huatu.backends.hosted_calls`, which the hosted image backend uses too; this module only
words the failures for a translation (``translation_hosted_*`` keys).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from huatu.backends.hosted_calls import (
    RetriesExhausted,
    StatusFailure,
    TransportFailure,
    call_with_retries,
    hub_errors,
    scrubbed,
    status_kind,
)
from huatu.backends.hosted_wire import host_of, is_url, resolve_client_model, server_error_text
from huatu.messages import Clipped
from huatu.translation.base import (
    DEFAULT_TRANSLATION_MODEL,
    HostedTranslationAuthError,
    HostedTranslationError,
    TranslationModelNotServedError,
)

if TYPE_CHECKING:
    from huatu.config import Settings

#: Default deadline of one hosted translation request, in seconds (never more than
#: ``Settings.hosted_timeout_s``).
TRANSLATION_TIMEOUT_S = 30.0
#: Longest wait before the single retry of a 503 ("model loading") or 429, in seconds.
RETRY_WAIT_CAP_S = 5.0
#: Calls in all: the first and one retry of a 429/503.
MAX_ATTEMPTS = 2
#: The sentence for each failure below HTTP.
TRANSPORT_KEYS = {
    "timeout": "translation_hosted_timeout",
    "offline": "translation_hosted_offline",
    "url": "translation_hosted_bad_url",
    "connect": "translation_hosted_unreachable",
    "reset": "translation_hosted_cut",
    "other": "translation_hosted_cut",
}
#: What the chat model is told (the prompt to translate is the user message).
CHAT_INSTRUCTION = (
    "Translate this image-generation prompt from Chinese to English. Keep names, style words "
    "and any English words as they are. Answer with the English prompt only."
)
#: Most tokens of a chat translation.
CHAT_MAX_TOKENS = 300
#: The sentence for a 429/503 still there after the retry.
BUSY_KEYS = {503: "translation_hosted_loading", 429: "translation_hosted_rate_limited"}


class HostedTranslator:
    """Translate through Hugging Face's Inference Providers (``InferenceClient``).

    The first :meth:`translate` asks the Hub (once per session) whether a provider serves
    ``model`` for translation: then it is called through its router URL,
    ``{settings.hf_router}/hf-inference/models/{model}`` (an Inference Endpoint URL is used as
    it is, without asking); else ``chat_model`` on the router's OpenAI-compatible endpoint.
    When the Hub cannot be asked, the translation model is tried. A 503 ("model loading") or
    429 is retried once after a short wait; every other failure raises at once.

    Args:
        settings: ``hf_api_key`` (required at translate time), ``hf_router``, ``hf_endpoint``
            and ``hosted_timeout_s`` (an upper bound of the request timeout) are used.
        model: the translation model: a Hub id or an endpoint URL.
            Default ``Helsinki-NLP/opus-mt-zh-en``.
        chat_model: the chat model used when no provider serves ``model``. Default
            ``settings.translation_chat_model``.
        timeout_s: deadline of one HTTP request, in seconds. Default:
            :data:`TRANSLATION_TIMEOUT_S` (30 s) or ``settings.hosted_timeout_s`` if lower.
        max_retry_wait_s: longest wait before the one retry, whatever ``Retry-After`` or
            ``estimated_time`` ask. Default :data:`RETRY_WAIT_CAP_S` (5 s).
    """

    def __init__(
        self,
        settings: Settings,
        model: str = DEFAULT_TRANSLATION_MODEL,
        *,
        chat_model: str | None = None,
        timeout_s: float | None = None,
        max_retry_wait_s: float = RETRY_WAIT_CAP_S,
    ) -> None:
        self.settings = settings
        self.model = model
        self.chat_model = chat_model or settings.translation_chat_model
        self.timeout_s = (
            timeout_s
            if timeout_s is not None
            else min(TRANSLATION_TIMEOUT_S, settings.hosted_timeout_s)
        )
        self.max_retry_wait_s = max_retry_wait_s
        self._by_chat: bool | None = None  # decided by the first translation

    def __repr__(self) -> str:
        return f"HostedTranslator({self.name!r})"

    @property
    def name(self) -> str:
        """``"hosted · {model}"`` (the host only for a URL), the chat model once chosen;
        never contains the key."""
        if self._by_chat:
            return self.settings.redact(f"hosted · {self.chat_model} (chat)")
        shown = host_of(self.model) if is_url(self.model) else self.model
        return self.settings.redact(f"hosted · {shown}")

    @property
    def by_chat(self) -> bool:
        """Whether translations go to the chat model: no provider serves the translation
        model (asked of the Hub once; a URL or an unanswered Hub means no)."""
        if self._by_chat is None:
            from huatu.backends.hub_lookup import TRANSLATION, look_up

            asked = not is_url(self.model)
            serving = look_up(self.model, TRANSLATION, self.settings) if asked else None
            self._by_chat = serving is not None and not serving.routes
        return self._by_chat

    @property
    def url(self) -> str:
        """Where the requests go: the model's router URL, the endpoint URL as given, or the
        router's chat-completion endpoint."""
        if self.by_chat:
            return f"{self.settings.hf_router.rstrip('/')}/v1/chat/completions"
        return resolve_client_model(self.model, "hf-inference", self.settings.hf_router)

    def translate(self, text: str) -> str:
        """Translate ``text`` (returned as is when blank).

        Raises:
            HostedTranslationAuthError: no key is set, or Hugging Face rejected it (401/403).
            TranslationModelNotServedError: the model is not served (404/410).
            HostedTranslationError: still loading or rate-limited after the retry, a timeout,
                an unreachable service, another HTTP error, or an answer that is not a
                translation. Every message is one sentence without the key.
        """
        if not text.strip():
            return text
        if not self.settings.hf_api_key:
            raise HostedTranslationAuthError("translation_hosted_no_key")
        try:
            return call_with_retries(
                lambda _remaining: self._send(text),
                max_attempts=MAX_ATTEMPTS,
                max_wait_s=self.max_retry_wait_s,
                sleep=time.sleep,
            )
        except TransportFailure as failure:
            raise self._error(
                HostedTranslationError,
                TRANSPORT_KEYS.get(failure.kind, TRANSPORT_KEYS["other"]),
                address=host_of(self.url),
                timeout=f"{self.timeout_s:g}",
            ) from None
        except StatusFailure as failure:
            raise self._status_error(failure) from None
        except RetriesExhausted as exhausted:
            raise self._status_error(exhausted.failure) from None

    # -- internals ---------------------------------------------------------------------------

    def _error(
        self, cls: type[HostedTranslationError], key: str, **params: object
    ) -> HostedTranslationError:
        return cls(key, **scrubbed(params, self.settings.redact))

    def _send(self, text: str) -> str:
        from huggingface_hub import InferenceClient

        if self.by_chat:
            return self._send_chat(text)
        client = InferenceClient(
            provider="hf-inference", api_key=self.settings.hf_api_key, timeout=self.timeout_s
        )
        try:
            with hub_errors():
                output = client.translation(text, model=self.url)
        except (ValueError, LookupError, TypeError, AttributeError):  # unparsable answers
            raise self._garbage() from None
        finally:
            client.close()
        return self._checked(getattr(output, "translation_text", None))

    def _send_chat(self, text: str) -> str:
        """One chat completion on the router's OpenAI-compatible endpoint."""
        from huggingface_hub import InferenceClient

        base_url = f"{self.settings.hf_router.rstrip('/')}/v1"
        client = InferenceClient(
            base_url=base_url, api_key=self.settings.hf_api_key, timeout=self.timeout_s
        )
        messages = [
            {"role": "system", "content": CHAT_INSTRUCTION},
            {"role": "user", "content": text},
        ]
        try:
            with hub_errors():
                output = client.chat_completion(
                    messages,
                    model=self.chat_model,
                    max_tokens=CHAT_MAX_TOKENS,
                    temperature=0.0,
                )
            answer = output.choices[0].message.content
        except (ValueError, LookupError, TypeError, AttributeError):  # unparsable answers
            raise self._garbage() from None
        finally:
            client.close()
        return self._checked(answer.strip().strip('"“”') if isinstance(answer, str) else None)

    def _checked(self, translated: object) -> str:
        """``translated`` stripped, or the "not a translation" error."""
        if not isinstance(translated, str) or not translated.strip():
            raise self._garbage()
        return translated.strip()

    def _garbage(self) -> HostedTranslationError:
        return self._error(HostedTranslationError, "translation_hosted_garbage")

    def _status_error(self, failure: StatusFailure) -> HostedTranslationError:
        status = failure.status
        kind = status_kind(status)
        if kind == "auth":
            return self._error(
                HostedTranslationAuthError, "translation_hosted_key_rejected", status=status
            )
        if kind == "not_served":
            if self.by_chat:
                key, model = "translation_chat_not_served", self.chat_model
            else:
                key, model = "translation_hosted_not_served", self.model
            return self._error(TranslationModelNotServedError, key, model=model, status=status)
        if kind == "retry":
            model = self.chat_model if self.by_chat else self.model
            return self._error(HostedTranslationError, BUSY_KEYS[status], model=model)
        found = server_error_text(failure.body)
        detail = Clipped(found.text.rstrip().rstrip("."), found.limit)  # the sentence adds one
        key = "translation_hosted_http_error_detail" if detail else "translation_hosted_http_error"
        return self._error(HostedTranslationError, key, status=status, detail=detail)
