"""Turning message keys into sentences in the person's language (English or Simplified Chinese).

Python code produces :class:`Notice` values (a key of :mod:`huatu.catalog` and its
parameters), and huatu's errors carry the same (:mod:`huatu.errors`); each edge renders them
in the person's language with :func:`render`. The language comes from the browser's
``Accept-Language`` header (:func:`language_from_header`) or is English.

Parameter conventions when rendering:

* a parameter that is itself a :class:`Notice` is rendered in the same language (so a
  sentence can hold another, e.g. a load failure inside "the model is not loaded"), and a
  :class:`Joined` one as its notices one after another;
* a :class:`Quoted` parameter is shown shortened (:func:`short_repr`), a :class:`Clipped`
  one cut to one short line, only when rendered (after secrets were masked in it);
* ``field`` names a request field and is shown as that field's label in the language
  (``negative_prompt`` → "negative prompt" / "负面提示");
* ``script`` is a script id from :func:`huatu.prompt_checks.foreign_script`.

This module imports no other part of huatu than the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from huatu.catalog import LANGUAGES, build

DEFAULT_LANGUAGE = "en"
#: ``{language: {key: template}}``, see :mod:`huatu.catalog`.
CATALOG: dict[str, dict[str, str]] = build()


@dataclass(frozen=True)
class Notice:
    """Something a person should know, as a catalog key and its parameters.

    Attributes:
        key: the message key in :data:`CATALOG`.
        params: values for the message's placeholders (see the module docstring for the
            ones rendered specially). Default none.
    """

    key: str
    params: dict[str, object] = field(default_factory=dict)


def language_from_header(accept_language: str | None) -> str:
    """Pick ``zh-CN`` or ``en`` from an ``Accept-Language`` header (first match wins).

    Any ``zh`` variant maps to ``zh-CN``; anything else, or no header, to English.
    """
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def supported(language: str | None) -> str:
    """``language`` if huatu speaks it, else English."""
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def render(notice: Notice, language: str = DEFAULT_LANGUAGE) -> str:
    """Return ``notice`` as a sentence in ``language`` (``en`` or ``zh-CN``; default ``en``).

    Raises:
        KeyError: ``notice.key`` is not in the catalog.
    """
    language = supported(language)
    params = {name: _param(name, value, language) for name, value in notice.params.items()}
    return CATALOG[language][notice.key].format(**params)


def message(key: str, language: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The catalog message ``key`` in ``language`` with ``params`` filled in."""
    return render(Notice(key, params), language)


def field_label(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A request field's name for people (``negative_prompt`` → "negative prompt"/"负面提示");
    the name itself when the catalog has no label for it."""
    return CATALOG[supported(language)].get(f"field_{name}", name)


def validation_notice(
    field_name: str, value: Any, reason: str, params: Mapping[str, Any]
) -> Notice:
    """The sentence for a refused field value: "`steps` must be …, but is 0."

    Args:
        field_name: the field as the person's edge names it (shown as written, with its
            label in parentheses where the language adds one).
        value: the refused value (shown shortened when rendered, see :class:`Quoted`).
        reason: a reason id; its text is the catalog key ``reason_<reason>``.
        params: the reason's placeholders (``low``, ``high`` …).
    """
    label = f"field_{field_name}"
    return Notice(
        "invalid_value",
        {
            "name": field_name,
            "label": Notice("invalid_value_label", {"label": Notice(label)})
            if label in CATALOG[DEFAULT_LANGUAGE]
            else "",
            "reason": Notice(f"reason_{reason}", dict(params)),
            "value": Quoted(value),
        },
    )


@dataclass(frozen=True)
class Joined:
    """A parameter shown as several notices one after another, each rendered in the
    sentence's language (e.g. a list of options, each with its leading comma)."""

    parts: tuple[Notice, ...] | list[Notice]


@dataclass(frozen=True)
class Clipped:
    """A parameter of free text (a server's error message …) shown on one line and cut to
    ``limit`` characters with "…" only when rendered: kept whole until then, so secrets can be
    masked in it before it is cut.

    Attributes:
        text: the text. limit: the most characters shown. Default 200.
    """

    text: str
    limit: int = 200

    def __format__(self, spec: str) -> str:
        text = " ".join(self.text.split())
        if len(text) > self.limit:
            text = text[: self.limit - 1].rstrip() + "…"
        return format(text, spec)

    def __bool__(self) -> bool:
        return bool(self.text.strip())


@dataclass(frozen=True)
class Quoted:
    """A parameter shown as :func:`short_repr` of ``value`` when rendered: kept whole until
    then, so secrets can be masked in it before it is shortened."""

    value: Any

    def __format__(self, spec: str) -> str:  # English; render() shows it in the language
        return format(short_repr(self.value), spec)


def short_repr(value: Any, limit: int = 60, language: str = DEFAULT_LANGUAGE) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters, saying (in ``language``) how long
    the original was."""
    if isinstance(value, int) and value.bit_length() > 3000:  # repr refuses > 4,300 digits
        digits = int(value.bit_length() * 0.30103) + 1
        sign = "-" if value < 0 else ""
        return sign + message("value_huge_number", language, digits=f"{digits:,}")
    text = repr(value)
    if len(text) <= limit:
        return text
    length = len(value) if isinstance(value, str) else len(text)
    return f"{text[: limit - 1]}…" + message("value_length", language, count=f"{length:,}")


def _param(name: str, value: object, language: str) -> object:
    if isinstance(value, Notice):
        return render(value, language)
    if isinstance(value, Quoted):
        return short_repr(value.value, language=language)
    if isinstance(value, Joined):
        return "".join(render(part, language) for part in value.parts)
    if name == "field" and isinstance(value, str):
        return field_label(value, language)
    if name == "script" and isinstance(value, str):
        return CATALOG[language].get(f"script_{value}", value)
    return value
