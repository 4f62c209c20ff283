"""The user glossary (``赛博朋克 = cyberpunk`` ...) and the tidying of English prompt text.

A glossary is applied before any translator (:func:`apply_glossary`, longest term first), is
edited as text (:func:`parse_glossary_text`, :func:`format_glossary_text`) and kept as a JSON
file (:func:`load_glossary`, :func:`save_glossary`, written atomically). Every problem is a
:class:`~huatu.translation.base.GlossaryError` that names the line or the file.
:func:`tidy_english` makes translated or glossary-made English tidy for a prompt.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huatu.messages import Notice, short_repr
from huatu.translation.base import GlossaryError

#: The glossary a person starts with (and gets back by deleting the glossary file).
DEFAULT_GLOSSARY: dict[str, str] = {
    "赛博朋克": "cyberpunk",
    "蒸汽朋克": "steampunk",
    "水墨画": "ink wash painting",
    "水墨": "ink wash",
    "国画": "traditional Chinese painting",
    "工笔画": "gongbi painting",
    "油画": "oil painting",
    "水彩画": "watercolor painting",
    "素描": "pencil sketch",
    "像素风": "pixel art",
    "动漫风格": "anime style",
    "汉服": "hanfu",
    "旗袍": "qipao",
    "超高清": "ultra high resolution",
    "高清": "high resolution",
    "杰作": "masterpiece",
    "最佳质量": "best quality",
    "细节丰富": "highly detailed",
    "电影感": "cinematic",
    "景深": "depth of field",
    "逆光": "backlighting",
}

#: Most terms a glossary may hold.
MAX_GLOSSARY_TERMS = 2000
#: Longest term (either side of ``=``), in characters.
MAX_TERM_CHARS = 200


# --------------------------------------------------------------------------------------------
# Scripts
# --------------------------------------------------------------------------------------------


def is_latin(char: str) -> bool:
    """Whether ``char`` lies in the Latin ranges :func:`huatu.prompt_checks.foreign_script`
    accepts."""
    code = ord(char)
    return code <= 0x024F or 0x1E00 <= code <= 0x1EFF


def is_latin_alnum(char: str) -> bool:
    """Whether ``char`` is a Latin letter or a digit."""
    return char.isalnum() and is_latin(char)


def is_foreign_letter(char: str) -> bool:
    """Whether ``char`` is a letter outside the Latin script (Chinese, Cyrillic ...)."""
    return char.isalpha() and not is_latin(char)


# --------------------------------------------------------------------------------------------
# Glossary
# --------------------------------------------------------------------------------------------


def _term_problem(term: Any, english: Any) -> Notice | None:
    """Why ``term = english`` cannot be in a glossary, or ``None`` when it can."""
    if not isinstance(term, str) or not isinstance(english, str):
        return Notice("glossary_problem_not_text")
    if not term.strip():
        return Notice("glossary_problem_empty_term")
    if not english.strip():
        return Notice("glossary_problem_empty_english", {"term": repr(term.strip())})
    if "=" in term or "＝" in term:
        return Notice("glossary_problem_equals", {"term": repr(term.strip())})
    if any(char in "\r\n" for char in term + english):
        return Notice("glossary_problem_line_break")
    if max(len(term.strip()), len(english.strip())) > MAX_TERM_CHARS:
        return Notice("glossary_problem_too_long", {"limit": MAX_TERM_CHARS})
    return None


def _check_glossary(glossary: Mapping[Any, Any], path: Path | None) -> dict[str, str]:
    """Return ``glossary`` with both sides stripped, or raise GlossaryError naming ``path``
    (the glossary being saved when ``None``)."""
    if path is None:
        where = Notice("glossary_where_text")
    else:
        where = Notice("glossary_where_file", {"path": str(path)})
    if len(glossary) > MAX_GLOSSARY_TERMS:
        raise GlossaryError(
            "glossary_too_many",
            path=path,
            where=where,
            count=len(glossary),
            limit=MAX_GLOSSARY_TERMS,
        )
    checked: dict[str, str] = {}
    for term, english in glossary.items():
        problem = _term_problem(term, english)
        if problem is not None:
            raise GlossaryError(
                "glossary_bad_entry",
                path=path,
                where=where,
                entry=short_repr(term),
                problem=problem,
            )
        checked[term.strip()] = english.strip()
    return checked


def parse_glossary_text(text: str) -> dict[str, str]:
    """Parse the editable text form of a glossary: one ``中文 = english`` per line.

    Args:
        text: the text. Blank lines and lines starting with ``#`` are ignored; a full-width
            ``＝`` works like ``=``; only the first ``=`` splits, so the English may contain
            more. Spaces around both sides are dropped.

    Returns:
        The terms, in the order written. A term written twice with the same English counts once.

    Raises:
        GlossaryError: a line has no ``=``, an empty side, a term over
            :data:`MAX_GLOSSARY_TERMS`/:data:`MAX_TERM_CHARS`, or a term already given other
            English on an earlier line; the message names the line number.
    """
    glossary: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cut = min((i for i in (line.find("="), line.find("＝")) if i >= 0), default=-1)
        if cut < 0:
            raise GlossaryError(
                "glossary_line_form", line=number, number=number, text=short_repr(line)
            )
        term, english = line[:cut].strip(), line[cut + 1 :].strip()
        problem = _term_problem(term, english)
        if problem is not None:
            raise GlossaryError(
                "glossary_line_problem", line=number, number=number, problem=problem
            )
        if term in glossary and glossary[term] != english:
            raise GlossaryError(
                "glossary_line_twice",
                line=number,
                number=number,
                term=repr(term),
                english=repr(glossary[term]),
                first=first_line[term],
            )
        if term not in glossary and len(glossary) >= MAX_GLOSSARY_TERMS:
            raise GlossaryError(
                "glossary_line_too_many", line=number, number=number, limit=MAX_GLOSSARY_TERMS
            )
        glossary.setdefault(term, english)
        first_line.setdefault(term, number)
    return glossary


def format_glossary_text(glossary: Mapping[str, str]) -> str:
    """Format a glossary as editable text, one ``中文 = english`` per line.

    Args:
        glossary: the terms; their order is kept.

    Returns:
        The text, ending with a newline ("" for an empty glossary).
        :func:`parse_glossary_text` reads it back unchanged.
    """
    return "".join(f"{term} = {english}\n" for term, english in glossary.items())


def load_glossary(path: Path | str) -> dict[str, str]:
    """Read a glossary file: a JSON object of ``"中文": "english"`` pairs.

    Args:
        path: the file. When it does not exist, a copy of :data:`DEFAULT_GLOSSARY` is returned
            (deleting the file restores the defaults); an empty object ``{}`` is an empty
            glossary.

    Raises:
        GlossaryError: the file cannot be read, is not UTF-8 JSON, is not an object of
            text pairs, or holds an unusable term; the message names the file.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return dict(DEFAULT_GLOSSARY)
    except (OSError, ValueError) as error:  # a folder, no permission, not UTF-8 ...
        why = getattr(error, "strerror", None) or type(error).__name__
        raise GlossaryError("glossary_unreadable", path=path, file=str(path), why=why) from None
    try:
        data = json.loads(raw)
    except ValueError as error:
        if isinstance(error, json.JSONDecodeError):
            raise GlossaryError(
                "glossary_bad_json_line", path=path, file=str(path), line_number=error.lineno
            ) from None
        raise GlossaryError("glossary_bad_json", path=path, file=str(path)) from None
    if not isinstance(data, dict):
        raise GlossaryError(
            "glossary_not_object", path=path, file=str(path), kind=type(data).__name__
        )
    return _check_glossary(data, path)


def save_glossary(path: Path | str, glossary: Mapping[str, str]) -> None:
    """Write a glossary file atomically (a temporary file, fsync, then rename).

    A crash or a full disk never leaves a half-written glossary: the old file stays whole
    until the new one replaces it. The parent folder is created when missing.

    Args:
        path: the file to write (JSON, UTF-8, Chinese kept readable).
        glossary: the terms; both sides are stripped.

    Raises:
        GlossaryError: a term is unusable, or the file could not be written (the message
            names the file).
    """
    path = Path(path)
    checked = _check_glossary(glossary, None)
    text = json.dumps(checked, ensure_ascii=False, indent=2) + "\n"
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        why = error.strerror or type(error).__name__
        raise GlossaryError("glossary_save_failed", path=path, file=str(path), why=why) from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def apply_glossary(text: str, glossary: Mapping[str, str]) -> str:
    """Replace glossary terms in ``text``, the longest term first.

    Terms match literally (case-sensitive), anywhere, never overlapping; at each position the
    longest matching term wins, so with ``水墨`` and ``水墨画`` both defined, ``水墨画`` becomes
    ``ink wash painting``. A space is put between an English replacement and a Latin letter or
    digit right next to it (including another replacement); none next to Chinese, so
    ``"赛博朋克城市"`` becomes ``"cyberpunk城市"`` and ``"赛博朋克高清"``
    ``"cyberpunk high resolution"``.

    Args:
        text: the prompt.
        glossary: ``{"中文": "english"}``; empty terms are ignored.

    Returns:
        The text with terms replaced (unchanged when nothing matched).
    """
    terms = sorted((term for term in glossary if term), key=len, reverse=True)
    if not text or not terms:
        return text
    pattern = re.compile("|".join(re.escape(term) for term in terms))
    out: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        before = text[position : match.start()]
        out.append(before)
        english = glossary[match.group()]
        previous = before[-1:] if before else (out[-2][-1:] if len(out) > 1 else "")
        following = text[match.end() : match.end() + 1]
        if english and previous and is_latin_alnum(previous) and is_latin_alnum(english[0]):
            out.append(" ")
        out.append(english)
        if english and following and is_latin_alnum(following) and is_latin_alnum(english[-1]):
            out.append(" ")
        position = match.end()
    out.append(text[position:])
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Tidying English output
# --------------------------------------------------------------------------------------------

_FULLWIDTH = str.maketrans(
    {
        "，": ", ",
        "、": ", ",
        "。": ". ",
        "；": "; ",
        "：": ": ",
        "！": "! ",
        "？": "? ",
        "（": " (",
        "）": ") ",
        "【": " [",
        "】": "] ",
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "《": '"',
        "》": '"',
        "～": "~",
        "\u3000": " ",
    }
)


def tidy_english(text: str) -> str:
    """Make translated or glossary-made English tidy for a prompt.

    Chinese punctuation becomes ASCII (``，`` → ``, ``, ``（`` → `` (`` ...), runs of
    whitespace become one space, spaces before ``, . ; : ! ? ) ]`` and after ``( [`` go, and
    the ends are stripped.

    Args:
        text: the English text.
    """
    text = text.translate(_FULLWIDTH)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r" ([,.;:!?)\]])", r"\1", text)
    text = re.sub(r"([(\[]) ", r"\1", text)
    return text.strip()
