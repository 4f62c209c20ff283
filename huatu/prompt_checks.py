"""Checks on prompt text that produce notices (never errors): script and length."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from huatu.messages import Notice

# Latin letters end at U+024F (Latin Extended-B); U+1E00–U+1EFF is Latin Extended Additional.
_LATIN_RANGES = ((0x0000, 0x024F), (0x1E00, 0x1EFF))
_CJK_PREFIXES = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO")


def foreign_script(text: str) -> str | None:
    """Return ``"cjk"`` or ``"other"`` when ``text`` has letters outside the Latin script.

    The default model's CLIP tokenizer was trained on English; such letters become
    meaningless byte tokens. Returns ``None`` for Latin-only text (digits, punctuation and
    emoji are fine).
    """
    found: str | None = None
    for char in text:
        code = ord(char)
        if any(low <= code <= high for low, high in _LATIN_RANGES):
            continue
        if not unicodedata.category(char).startswith("L"):
            continue
        if unicodedata.name(char, "").startswith(_CJK_PREFIXES):
            return "cjk"
        found = "other"
    return found


_CLIP_PIECES = re.compile(r"[a-z]+|[0-9]|[^\sa-z0-9]", re.IGNORECASE)


def estimate_clip_tokens(text: str) -> int:
    """Roughly how many tokens CLIP's tokenizer makes of ``text``, without the tokenizer.

    Counts words, single digits and punctuation marks the way CLIP's pre-tokenizer splits
    them; long or rare words become several BPE tokens in reality, so this undercounts a
    little. Used where the model's own tokenizer is not at hand (the hosted backend).
    """
    return len(_CLIP_PIECES.findall(text))


def prompt_notices(
    fields: dict[str, str],
    count_tokens: Callable[[str], int | None],
    max_tokens: int | None,
    *,
    reads_chinese: bool = False,
) -> list[Notice]:
    """Notices for the prompt-like ``fields`` (name → text).

    Args:
        fields: e.g. ``{"prompt": ..., "negative_prompt": ...}``; empty texts are skipped.
        count_tokens: the backend's token counter; ``None`` results mean "unknown".
        max_tokens: how many content tokens the text encoder reads; ``None`` skips the
            length check.
        reads_chinese: the model reads Chinese as written: Chinese text gets no notice.
            Default off.
    """
    notices: list[Notice] = []
    for name, text in fields.items():
        if not text:
            continue
        script = foreign_script(text)
        if script is not None and not (reads_chinese and script == "cjk"):
            notices.append(Notice("non_english_prompt", {"field": name, "script": script}))
        tokens = count_tokens(text) if max_tokens is not None else None
        if tokens is not None and max_tokens is not None and tokens > max_tokens:
            notices.append(
                Notice("prompt_truncated", {"field": name, "tokens": tokens, "limit": max_tokens})
            )
    return notices
