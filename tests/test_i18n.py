"""Both languages are complete: every text translated, every key that code names exists, and
no studio label left untranslatable."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import gradio as gr

import huatu
from huatu.catalog import LANGUAGES, PARTS, build
from huatu.catalog import ui as ui_texts

CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"{(\w+)[^}]*}")
PACKAGE = Path(huatu.__file__).parent
#: Placeholders only one language's text uses: the field's Chinese name after its English
#: one; the package names, which the English text lists as "a and b".
ONE_LANGUAGE_ONLY = {"invalid_value_label": {"label"}, "translation_todo_install": {"names"}}
#: Names written the same in both languages.
NAMES = re.compile(r"Hugging Face|Stable Diffusion|huatu")


def test_every_chinese_text_is_translated_with_the_same_placeholders():
    catalog = build()
    assert set(catalog) == set(LANGUAGES) == {"en", "zh-CN"}
    for key, english in catalog["en"].items():
        chinese = catalog["zh-CN"][key]
        assert chinese.strip(), key
        differ = set(PLACEHOLDER.findall(english)) ^ set(PLACEHOLDER.findall(chinese))
        assert differ <= ONE_LANGUAGE_ONLY.get(key, set()), (key, differ)
        words = NAMES.sub("", PLACEHOLDER.sub("", english))
        if re.search(r"[A-Za-z]{2}", words):  # not just names and placeholders
            assert chinese != english and CJK.search(chinese), (key, chinese)


def test_a_key_is_defined_once_and_each_text_has_both_languages():
    for part in PARTS:
        for key, texts in part.TEXTS.items():
            assert len(texts) == len(LANGUAGES), (part.__name__, key)
    assert len(build()["en"]) == sum(len(part.TEXTS) for part in PARTS)
    assert ui_texts in PARTS  # the studio's labels are refused as duplicates like the rest


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _called_name(call: ast.Call) -> str | None:
    function = call.func
    if isinstance(function, ast.Name):
        return function.id
    return function.attr if isinstance(function, ast.Attribute) else None


def _error_classes(trees: list[ast.Module]) -> dict[str, list[str]]:
    """Every class in huatu derived from HuatuError → its ``__init__``'s parameter names
    after ``self`` (inherited when it defines none; HuatuError's own is ``key``)."""
    bases: dict[str, list[str]] = {}
    own_init: dict[str, list[str]] = {"HuatuError": ["key"]}
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            bases[node.name] = [b.id if isinstance(b, ast.Name) else "" for b in node.bases]
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    arguments = item.args.posonlyargs + item.args.args + item.args.kwonlyargs
                    own_init.setdefault(node.name, [a.arg for a in arguments[1:]])

    def init_of(name: str) -> list[str] | None:
        if name in own_init:
            return own_init[name]
        for base in bases.get(name, []):
            if (found := init_of(base)) is not None:
                return found
        return None

    def is_error(name: str) -> bool:
        return name == "HuatuError" or any(is_error(base) for base in bases.get(name, []))

    return {name: init_of(name) or [] for name in bases if is_error(name)}


def _class_keys(node: ast.ClassDef) -> list[str]:
    """The literal ``key = "…"`` assignments in a class body."""
    return [
        key
        for item in node.body
        if isinstance(item, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id == "key" for target in item.targets)
        and (key := _literal(item.value)) is not None
    ]


def _default_keys(node: ast.FunctionDef) -> list[str]:
    """Keys given as a literal default of a ``key`` or ``reason`` parameter
    (``def check_integer(…, reason: str = "integer_range")``)."""
    arguments = node.args.posonlyargs + node.args.args
    defaults = node.args.defaults
    pairs = list(zip(arguments[len(arguments) - len(defaults) :], defaults, strict=True))
    pairs += list(zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True))
    prefixes = {"key": "", "reason": "reason_"}
    return [
        prefixes[argument.arg] + value
        for argument, default in pairs
        if argument.arg in prefixes and (value := _literal(default)) is not None
    ]


def _keys_named_in(trees: list[ast.Module]) -> set[tuple[str, str]]:
    """(key, where) for every catalog key huatu's code names literally: the first argument of
    ``Notice(…)``, ``message(…)`` and ``t(…)`` (a studio label), an error's ``key``, its
    ``reason`` (``reason_<reason>``) and ``kind`` (``kind_<kind>``), the ``key`` class
    attribute of an error class, and a literal default of a ``key`` or ``reason``
    parameter."""
    errors = _error_classes(trees)
    prefixes = {"key": "", "reason": "reason_", "kind": "kind_"}
    found: set[tuple[str, str]] = set()
    for tree in trees:
        where = getattr(tree, "huatu_path", "?")
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name in errors:
                found |= {(key, f"{where}: class {node.name}") for key in _class_keys(node)}
            if isinstance(node, ast.FunctionDef):
                found |= {(key, f"{where}:{node.lineno}") for key in _default_keys(node)}
            if not isinstance(node, ast.Call):
                continue
            name = _called_name(node)
            if name in ("Notice", "message", "t") and node.args:
                if (key := _literal(node.args[0])) is not None:
                    found.add((key, f"{where}:{node.lineno}"))
            elif name in errors:
                bound = dict(zip(errors[name], node.args, strict=False))
                bound |= {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
                for parameter, prefix in prefixes.items():
                    if (value := _literal(bound.get(parameter))) is not None:
                        found.add((prefix + value, f"{where}:{node.lineno}"))
    return found


def test_every_key_the_code_names_is_in_the_catalog():
    trees = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        tree.huatu_path = str(path.relative_to(PACKAGE.parent))  # type: ignore[attr-defined]
        trees.append(tree)
    named = _keys_named_in(trees)
    catalog = build()["en"]
    assert len(named) > 100  # the walk does find the code's keys
    expected = {"invalid_value", "reason_required", "reason_integer_range", "kind_backend"}
    assert expected | {"prompt"} <= {key for key, _ in named}
    assert sorted(f"{where}: {key}" for key, where in named if key not in catalog) == []


def test_the_key_walk_finds_each_way_of_naming_a_key():
    source = """
class LocalError(HuatuError):
    key = "class_key"
class Refusal(ValidationError):
    pass
Notice("notice_key", {})
message("message_key", "en")
t("label_key")
HuatuError("error_key", path="x")
LocalError()
StorageError(key="keyword_key")
Refusal("steps", 0, "a_reason")
UnknownNameError("a_kind", "x", [])
ValueError("not a key")
def check(value, *, reason="default_reason"): ...
def other(value, key="default_key", name="not a key"): ...
"""
    tree = ast.parse(source)
    errors = ast.parse(
        "class HuatuError(Exception):\n    def __init__(self, key=None, /, **params): ...\n"
        "class ValidationError(HuatuError):\n"
        "    def __init__(self, field, value, reason, **params): ...\n"
        "class UnknownNameError(HuatuError):\n    def __init__(self, kind, name, known): ...\n"
        "class StorageError(HuatuError):\n    pass\n"
    )
    keys = {key for key, _ in _keys_named_in([errors, tree])}
    assert keys == {
        "class_key",
        "notice_key",
        "message_key",
        "label_key",
        "error_key",
        "keyword_key",
        "reason_a_reason",
        "kind_a_kind",
        "reason_default_reason",
        "default_key",
    }


def label_key(text: object) -> str | None:
    """The ``gr.I18n`` key of a component's text (Gradio keeps it as an ``I18nData`` or as
    its ``__i18n__{json}`` string form), or ``None`` for plain text."""
    if isinstance(text, gr.i18n.I18nData):
        return text.key
    if isinstance(text, str) and text.startswith("__i18n__"):
        return json.loads(text.removeprefix("__i18n__"))["key"]
    return None


def test_every_studio_label_button_and_info_is_a_catalog_label(tiny_service):
    from huatu.ui.studio import build_studio

    demo = build_studio(tiny_service)
    raw: list[str] = []
    keys: set[str] = set()

    def api_only(block) -> bool:  # the MCP tools' inputs and outputs are never shown
        while block is not None:
            if getattr(block, "elem_id", None) in ("mcp-tool", "mcp-edit-tool"):
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
            if (key := label_key(text)) is not None:
                keys.add(key)
                continue
            if isinstance(text, str) and text.strip():
                if attribute == "value" and isinstance(block, gr.Markdown):
                    continue  # the status line is rendered per language on load
                raw.append(f"{type(block).__name__}.{attribute}={text!r}")
        for label, _ in getattr(block, "choices", None) or []:  # the presets' names
            if (key := label_key(label)) is not None:
                keys.add(key)
    assert raw == []
    assert keys <= set(ui_texts.TEXTS), keys - set(ui_texts.TEXTS)
    assert {"tab_generate", "prompt", "preset_fast", "history_details"} <= keys
    tab_labels = [b.label for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    assert all(isinstance(label, gr.i18n.I18nData) for label in tab_labels)


def test_the_studio_labels_follow_the_browser_language():
    from huatu.ui.i18n import I18N

    translations = I18N.translations
    for tag in ("zh", "zh-CN", "zh-TW", "zh-HK"):
        assert translations[tag]["generate"] == "生成", tag
    assert translations["en"]["generate"] == "Generate"
    assert set(translations["en"]) == set(ui_texts.TEXTS)
