"""Texts about translating prompts: the glossary, the translators and their failures."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {}
