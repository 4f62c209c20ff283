"""What every translator shares: the protocol, the default zh→en model, and the errors.

Every error carries a key of :mod:`huatu.catalog.translation` (or ``hosted``) and its
parameters, never a finished sentence (see :class:`huatu.errors.HuatuError`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from huatu.config import DEFAULT_CHAT_MODEL
from huatu.errors import HostedAuthError, HostedError, HuatuError, ModelNotServedError

#: The zh→en model used by both translators unless told otherwise.
DEFAULT_TRANSLATION_MODEL = "Helsinki-NLP/opus-mt-zh-en"
#: The chat model that translates when no provider serves the zh→en model (a setting:
#: ``HUATU_TRANSLATION_CHAT_MODEL``).
DEFAULT_CHAT_TRANSLATION_MODEL = DEFAULT_CHAT_MODEL


@runtime_checkable
class Translator(Protocol):
    """Anything that translates Chinese text to English.

    Attributes:
        name: shown to people, e.g. ``"hosted · Helsinki-NLP/opus-mt-zh-en"``.
    """

    name: str

    def translate(self, text: str) -> str:
        """Return the English translation of ``text`` (raises a HuatuError on failure)."""
        ...


class TranslationError(HuatuError, RuntimeError):
    """A prompt could not be translated; the sentence says why and what to do."""


class TranslationUnavailableError(TranslationError):
    """A prompt needs translating but no translator is available; its sentence is the reason
    :func:`~huatu.translation.choose_translator` gave (what to do, e.g. set ``HF_API_KEY``)."""


class GlossaryError(HuatuError, ValueError):
    """A glossary text or file is not usable; the sentence names the line or the file.

    Args:
        key: the catalog key of the sentence (``glossary_*``).
        path: the glossary file, when the problem is in a file. Default ``None``.
        line: the 1-based line number, when the problem is on one line of text.
            Default ``None``.
        **params: the sentence's placeholders.

    Attributes:
        path: as given. line: as given.
    """

    def __init__(
        self, key: str, /, *, path: Path | None = None, line: int | None = None, **params: Any
    ) -> None:
        super().__init__(key, **params)
        self.path = path
        self.line = line


class HostedTranslationError(HostedError, TranslationError):
    """The hosted translation service failed (unreachable, timed out, odd answer ...)."""


class HostedTranslationAuthError(HostedAuthError, HostedTranslationError):
    """The hosted translation service rejected the key (401/403), or no key is set."""


class TranslationModelNotServedError(ModelNotServedError, HostedTranslationError):
    """The hosted service does not serve the translation model (404/410)."""
