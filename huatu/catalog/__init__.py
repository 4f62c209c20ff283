"""Every sentence huatu shows a person, in English and Simplified Chinese, by key.

Each module of this package holds one domain's texts as ``key: (english, chinese)``, so a
text and its translation are written side by side and can never drift apart. Templates use
:meth:`str.format` placeholders; :mod:`huatu.messages` fills them in. A key is defined once
across the whole package (:func:`build` refuses a second definition).

This package is pure data: it imports nothing else of huatu.
"""

from __future__ import annotations

from huatu.catalog import (
    api,
    cli,
    cluster,
    generation,
    hosted,
    library,
    models,
    providers,
    settings,
    storage,
    studio,
    translation,
    ui,
    validation,
)

LANGUAGES = ("en", "zh-CN")
#: The domains, in the order their keys are merged.
PARTS = (
    generation,
    validation,
    models,
    library,
    settings,
    hosted,
    providers,
    cluster,
    translation,
    storage,
    studio,
    api,
    ui,
    cli,
)


def build() -> dict[str, dict[str, str]]:
    """The merged catalog: ``{language: {key: template}}``.

    Raises:
        ValueError: a key defined by two domains.
    """
    catalog: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}
    for part in PARTS:
        for key, texts in part.TEXTS.items():
            if key in catalog["en"]:
                raise ValueError(f"message key {key!r} is defined twice ({part.__name__})")
            for language, text in zip(LANGUAGES, texts, strict=True):
                catalog[language][key] = text
    return catalog
