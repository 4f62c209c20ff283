"""Texts of the HTTP APIs' own answers (AUTOMATIC1111's and OpenAI's): their refusals."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {}
