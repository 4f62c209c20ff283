"""Both languages are complete: same keys, nothing left untranslated, no raw label."""

from __future__ import annotations

import re

import gradio as gr
import pytest

from huatu.messages import CATALOG, FIELD_NAMES, PHRASES, REASONS
from huatu.ui.i18n import UI_TEXT

CJK = re.compile(r"[\u4e00-\u9fff]")
# Keys whose Chinese text is a placeholder-only line with no words to translate.
SAME_IN_BOTH: set[str] = set()


@pytest.mark.parametrize(
    ("name", "catalog"), [("UI_TEXT", UI_TEXT), ("CATALOG", CATALOG), ("REASONS", REASONS)]
)
def test_catalogs_have_the_same_keys_and_every_text_is_translated(name, catalog):
    assert set(catalog) == {"en", "zh-CN"}, name
    assert set(catalog["en"]) == set(catalog["zh-CN"]), name
    for key, english in catalog["en"].items():
        chinese = catalog["zh-CN"][key]
        assert chinese.strip(), (name, key)
        if key not in SAME_IN_BOTH:
            assert chinese != english and CJK.search(chinese), (name, key, chinese)
        placeholders = set(re.findall(r"{(\w+)", english))
        assert placeholders == set(re.findall(r"{(\w+)", chinese)), (name, key)


def test_field_names_and_phrases_are_chinese():
    assert all(CJK.search(text) for text in FIELD_NAMES["zh-CN"].values())
    assert all(CJK.search(text) for text in PHRASES["zh-CN"].values())


def test_every_studio_label_button_and_info_is_translatable(tiny_service):
    from huatu.ui.studio import build_studio

    demo = build_studio(tiny_service)
    raw: list[str] = []

    def api_only(block) -> bool:  # the MCP tool's inputs and outputs are never shown
        while block is not None:
            if getattr(block, "elem_id", None) == "mcp-tool":
                return True
            block = getattr(block, "parent", None)
        return False

    for block in demo.blocks.values():
        if api_only(block):
            continue
        for attribute in ("label", "info", "placeholder", "value"):
            text = getattr(block, attribute, None)
            if attribute == "value" and not isinstance(block, (gr.Button, gr.Markdown)):
                continue
            translatable = isinstance(text, str) and text.startswith("__i18n__")
            if isinstance(text, str) and text.strip() and not translatable:
                if attribute == "value" and isinstance(block, gr.Markdown):
                    continue  # the status line is rendered per language on load
                raw.append(f"{type(block).__name__}.{attribute}={text!r}")
    assert raw == []
    tab_labels = [b.label for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    assert all(isinstance(label, gr.i18n.I18nData) for label in tab_labels)
