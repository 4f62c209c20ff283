"""Choosing a translator and turning a prompt the model cannot read into English.

Most Stable Diffusion models read English only (their CLIP tokenizer turns Chinese into
meaningless byte tokens). :func:`translate_prompt` turns such a prompt into English the person
can check and edit before generating:

1. Text with no letters outside the Latin script is returned unchanged (``needed=False``).
2. The user glossary (``赛博朋克 = cyberpunk`` ...) is applied, longest term first
   (:func:`~huatu.translation.glossary.apply_glossary`). When that alone leaves no foreign
   letters, no translator is called.
3. Otherwise a :class:`~huatu.translation.base.Translator` translates what is still foreign.
   To keep the glossary's English terms (and any English the person wrote) intact, **only the
   runs of text between English words are sent**, one request per distinct run:
   ``"cyberpunk城市, 夜晚"`` sends ``"城市, 夜晚"`` and keeps ``cyberpunk`` as it is. A run
   keeps its inner punctuation and digits (``"3只猫"`` is one run), so a Chinese phrase is
   translated as a whole.

:func:`choose_translator` picks the hosted or the local translator, or says in one sentence
(a :class:`~huatu.messages.Notice`) what to do. Models that read Chinese natively
(:data:`CHINESE_NATIVE_MODELS`, see :func:`model_reads_chinese`) skip translation altogether.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from huatu.messages import Notice, short_repr
from huatu.prompt_checks import foreign_script
from huatu.translation.base import (
    DEFAULT_TRANSLATION_MODEL,
    TranslationError,
    TranslationUnavailableError,
    Translator,
)
from huatu.translation.glossary import apply_glossary, is_foreign_letter, tidy_english
from huatu.translation.hosted import HostedTranslator
from huatu.translation.local import local_todo, shared_local_translator

if TYPE_CHECKING:
    from huatu.config import Settings

#: Text-to-image models whose text encoder reads Chinese: prompts are used as written.
CHINESE_NATIVE_MODELS: tuple[str, ...] = (
    "IDEA-CCNL/Taiyi-Stable-Diffusion-1B-Chinese-v0.1",
    "IDEA-CCNL/Taiyi-Stable-Diffusion-1B-Chinese-EN-v0.1",
    "IDEA-CCNL/Taiyi-Stable-Diffusion-1B-Anime-Chinese-v0.1",
)


# --------------------------------------------------------------------------------------------
# Choosing
# --------------------------------------------------------------------------------------------


def model_reads_chinese(model: str) -> bool:
    """Whether the text-to-image ``model`` reads Chinese prompts natively.

    Args:
        model: a Hub id or a local folder; compared with :data:`CHINESE_NATIVE_MODELS` without
            regard to case, a folder by its last name (``/models/Taiyi-...-Chinese-v0.1``).
    """
    name = model.strip().replace("\\", "/").rstrip("/").lower()
    tail = name.rsplit("/", 1)[-1]
    for known in CHINESE_NATIVE_MODELS:
        known = known.lower()
        if name == known or tail == known.rsplit("/", 1)[-1]:
            return True
    return False


def choose_translator(
    settings: Settings,
    *,
    model: str,
    translation_model: str = DEFAULT_TRANSLATION_MODEL,
    cache_dir: str | Path | None = None,
) -> tuple[Translator | None, Notice]:
    """Pick how prompts for ``model`` are translated, and say why in one sentence.

    In order: ``None`` when ``model`` reads Chinese (:func:`model_reads_chinese`); the
    :class:`HostedTranslator` when a Hugging Face key is set (and ``HF_HUB_OFFLINE`` is not);
    the :class:`LocalTranslator` when :meth:`LocalTranslator.available`; else ``None``.

    Args:
        settings: huatu's settings (``hf_api_key``, ``hf_router``, ``hosted_timeout_s``).
        model: the text-to-image model the prompt is for.
        translation_model: the zh→en model, hosted or local. Default
            ``Helsinki-NLP/opus-mt-zh-en``.
        cache_dir: the Hugging Face cache a local model is looked up in. Default: the usual one.

    Returns:
        ``(translator, reason)``: ``reason`` is a :class:`~huatu.messages.Notice` saying why
        in one sentence. With no translator it says what to do, e.g. "Set HF_API_KEY to
        translate through Hugging Face, or install sentencepiece (pip install sentencepiece)
        and download Helsinki-NLP/opus-mt-zh-en (hf download ...) to translate locally."
    """
    if model_reads_chinese(model):
        return None, Notice("translation_model_reads_chinese", {"model": model})
    offline = _hub_offline()
    if settings.hf_api_key and not offline:
        translator = HostedTranslator(settings, translation_model)
        return translator, Notice("translation_hosted_chosen", {"model": translation_model})
    todo = local_todo(translation_model, cache_dir)
    if todo is None:
        shared = shared_local_translator(
            translation_model, None if cache_dir is None else str(cache_dir)
        )
        return shared, Notice("translation_local_chosen", {"model": translation_model})
    if settings.hf_api_key:  # a key, but HF_HUB_OFFLINE is set
        return None, Notice("translation_offline", {"todo": todo})
    return None, Notice("translation_no_translator", {"todo": todo})


def _hub_offline() -> bool:
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return False
    return bool(constants.HF_HUB_OFFLINE)


# --------------------------------------------------------------------------------------------
# Translating a prompt
# --------------------------------------------------------------------------------------------

#: Default reason when :func:`translate_prompt` has no translator and is not told why.
NO_TRANSLATOR_REASON = Notice(
    "translation_no_translator",
    {"todo": Notice("translation_todo_default", {"model": DEFAULT_TRANSLATION_MODEL})},
)

# Words kept as they are: Latin letters with digits, apostrophes, hyphens, underscores.
_WORDISH = re.compile(r"[0-9A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u1E00-\u1EFF'_\-]+")


@dataclass(frozen=True)
class PromptTranslation:
    """What :func:`translate_prompt` did to a prompt.

    Attributes:
        original: the prompt as written (for the ``Original prompt`` metadata).
        after_glossary: the prompt after the glossary was applied (``original`` when not
            needed).
        translated: the English prompt to show, let the person edit, and generate from.
        translator: ``"glossary"`` when the glossary alone made the prompt Latin-only; the
            translator's ``name`` when one was used; ``""`` when nothing was needed.
        needed: whether the prompt had letters outside the Latin script.
    """

    original: str
    after_glossary: str
    translated: str
    translator: str
    needed: bool


def split_for_translation(text: str) -> list[tuple[str, bool]]:
    """Split ``text`` into pieces kept as they are and pieces to translate.

    English words (Latin letters, with digits, ``'``, ``-`` and ``_`` attached) are kept; the
    text between them is translated when it has foreign letters. Such a piece is trimmed to
    its core, from the first foreign letter (with digits right before it: ``3只猫``) to the
    last; the punctuation and spaces around the core are kept as they are.

    Args:
        text: the prompt after the glossary.

    Returns:
        ``[(piece, translate?), ...]`` whose pieces join back into ``text``.
    """
    pieces: list[tuple[str, bool]] = []
    gap_start = 0

    def add_gap(gap: str) -> None:
        if not gap:
            return
        letters = [i for i, char in enumerate(gap) if is_foreign_letter(char)]
        if not letters:
            pieces.append((gap, False))
            return
        start, end = letters[0], letters[-1] + 1
        while start > 0 and gap[start - 1].isascii() and gap[start - 1].isdigit():
            start -= 1
        for piece, translate in ((gap[:start], False), (gap[start:end], True), (gap[end:], False)):
            if piece:
                pieces.append((piece, translate))

    for match in _WORDISH.finditer(text):
        word = match.group()
        if not any(char.isalpha() for char in word):
            continue  # digits alone belong to the surrounding text: "3只猫"
        add_gap(text[gap_start : match.start()])
        pieces.append((word, False))
        gap_start = match.end()
    add_gap(text[gap_start:])

    merged: list[tuple[str, bool]] = []
    for piece, translate in pieces:
        if merged and not translate and not merged[-1][1]:
            merged[-1] = (merged[-1][0] + piece, False)
        else:
            merged.append((piece, translate))
    return merged


def _glue(parts: Iterable[str]) -> str:
    """Join ``parts``, putting a space between two that would otherwise run together."""
    out = ""
    for part in parts:
        if not part:
            continue
        if out and out[-1].isalnum() and part[0].isalnum():
            out += " "
        out += part
    return out


def translate_prompt(
    text: str,
    *,
    glossary: Mapping[str, str],
    translator: Translator | None,
    reason: Notice | None = None,
) -> PromptTranslation:
    """Turn a prompt the model cannot read into English: glossary first, then the translator.

    Args:
        text: the prompt as written.
        glossary: ``{"中文": "english"}`` applied first (:func:`apply_glossary`); may be empty.
        translator: translates what the glossary left foreign; only the runs between English
            words are sent (see :func:`split_for_translation`), each distinct run once, so the
            glossary's English survives as it is. ``None`` is fine while the glossary suffices.
        reason: the sentence for the error when a translator is needed but ``None`` (use the
            one :func:`choose_translator` returned). Default :data:`NO_TRANSLATOR_REASON`.

    Returns:
        A :class:`PromptTranslation`. Latin-only text is returned unchanged with
        ``needed=False``; otherwise ``translated`` is tidied (:func:`tidy_english`).

    Raises:
        TranslationUnavailableError: a translator is needed and ``translator`` is ``None``.
        TranslationError: the translator returned nothing for a run.
        HuatuError: whatever the translator raises (e.g. :class:`HostedTranslationError`).
    """
    if foreign_script(text) is None:
        return PromptTranslation(text, text, text, "", False)
    after = apply_glossary(text, glossary)
    if foreign_script(after) is None:
        return PromptTranslation(text, after, tidy_english(after), "glossary", True)
    if translator is None:
        why = reason or NO_TRANSLATOR_REASON
        raise TranslationUnavailableError(why.key, **why.params)
    done: dict[str, str] = {}
    parts: list[str] = []
    for piece, translate in split_for_translation(after):
        if not translate:
            parts.append(piece)
            continue
        if piece not in done:
            english = clean_translation(translator.translate(piece))
            if not english:
                raise TranslationError(
                    "translation_empty", translator=translator.name, piece=short_repr(piece)
                )
            done[piece] = english
        parts.append(done[piece])
    return PromptTranslation(text, after, tidy_english(_glue(parts)), translator.name, True)


def clean_translation(text: str) -> str:
    """A translated run as a prompt fragment: no final full stop, ordinary words lower-case.

    MT models write sentences (``"A dog in the park."``); prompts are comma-separated
    fragments. The single final ``.`` is dropped (not ``...``), and a first word that is only
    capitalised (``"A"``, ``"City"``, not ``"I"`` or ``"NASA"``) is lower-cased. CLIP
    lower-cases all text anyway, so this is only for the person reading it.
    """
    text = text.strip()
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    if re.match(r"(?!I\b)[A-Z][a-z]*(?![A-Za-z])", text):
        text = text[0].lower() + text[1:]
    return text
