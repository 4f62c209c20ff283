"""Texts about Hugging Face hosted inference: waiting, retrying and its failures."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {}
