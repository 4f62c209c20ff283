"""Chinese prompts that work: a user glossary first, then a zh→en translator.

The package's parts, each with one job:

* :mod:`~huatu.translation.base`: the :class:`Translator` protocol, the default zh→en model
  and the errors;
* :mod:`~huatu.translation.glossary`: the user glossary (parse, format, load, save, apply) and
  the tidying of English text;
* :mod:`~huatu.translation.hosted`: :class:`HostedTranslator`, through Hugging Face's
  Inference Providers: the zh→en model when a provider serves it, else a chat model on the
  router's OpenAI-compatible endpoint (it shares its calls and retries with the hosted image
  backend, :mod:`huatu.backends.hosted_calls`);
* :mod:`~huatu.translation.local`: :class:`LocalTranslator`, MarianMT on this computer;
* :mod:`~huatu.translation.orchestration`: :func:`choose_translator`,
  :func:`translate_prompt` and :func:`model_reads_chinese`.

Everything public is importable from ``huatu.translation``. ``huggingface_hub``,
``transformers`` and ``torch`` are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

from huatu.translation.base import (
    DEFAULT_CHAT_TRANSLATION_MODEL,
    DEFAULT_TRANSLATION_MODEL,
    GlossaryError,
    HostedTranslationAuthError,
    HostedTranslationError,
    TranslationError,
    TranslationModelNotServedError,
    TranslationUnavailableError,
    Translator,
)
from huatu.translation.glossary import (
    DEFAULT_GLOSSARY,
    MAX_GLOSSARY_TERMS,
    MAX_TERM_CHARS,
    apply_glossary,
    format_glossary_text,
    load_glossary,
    parse_glossary_text,
    save_glossary,
    tidy_english,
)
from huatu.translation.hosted import RETRY_WAIT_CAP_S, TRANSLATION_TIMEOUT_S, HostedTranslator
from huatu.translation.local import LocalTranslator
from huatu.translation.orchestration import (
    CHINESE_NATIVE_MODELS,
    NO_TRANSLATOR_REASON,
    PromptTranslation,
    choose_translator,
    model_reads_chinese,
    split_for_translation,
    translate_prompt,
)

__all__ = [
    "CHINESE_NATIVE_MODELS",
    "DEFAULT_CHAT_TRANSLATION_MODEL",
    "DEFAULT_GLOSSARY",
    "DEFAULT_TRANSLATION_MODEL",
    "MAX_GLOSSARY_TERMS",
    "MAX_TERM_CHARS",
    "NO_TRANSLATOR_REASON",
    "RETRY_WAIT_CAP_S",
    "TRANSLATION_TIMEOUT_S",
    "GlossaryError",
    "HostedTranslationAuthError",
    "HostedTranslationError",
    "HostedTranslator",
    "LocalTranslator",
    "PromptTranslation",
    "TranslationError",
    "TranslationModelNotServedError",
    "TranslationUnavailableError",
    "Translator",
    "apply_glossary",
    "choose_translator",
    "format_glossary_text",
    "load_glossary",
    "model_reads_chinese",
    "parse_glossary_text",
    "save_glossary",
    "split_for_translation",
    "tidy_english",
    "translate_prompt",
]
