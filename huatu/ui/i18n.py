"""The studio's interface labels as a ``gr.I18n``, built from :mod:`huatu.catalog.ui`.

Gradio translates these in the browser, following its language. Text rendered in Python
(notices, errors, progress lines) comes from :mod:`huatu.messages` in the request's language.
"""

from __future__ import annotations

import gradio as gr

from huatu.catalog import LANGUAGES
from huatu.catalog.ui import TEXTS

#: ``{language: {key: label}}`` for every language huatu speaks.
UI_TEXT: dict[str, dict[str, str]] = {
    language: {key: texts[index] for key, texts in TEXTS.items()}
    for index, language in enumerate(LANGUAGES)
}

# Any Chinese browser locale gets the Simplified Chinese text (as huatu.messages does).
I18N = gr.I18n(**UI_TEXT, **{tag: UI_TEXT["zh-CN"] for tag in ("zh", "zh-TW", "zh-HK")})


def t(key: str) -> gr.i18n.I18nData:
    """The translatable label ``key`` of :mod:`huatu.catalog.ui`.

    Raises:
        KeyError: ``key`` is not in the catalog (at build time, not in the browser).
    """
    TEXTS[key]
    return I18N(key)
