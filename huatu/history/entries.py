"""What one history row holds (:class:`HistoryEntry`) and how the history is searched."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huatu.history.database import DONE

SEARCHED_EXTRA_KEYS = ("Original prompt", "Original negative prompt")
"""``extra`` items that the history search reads besides the prompt and negative prompt (so
a prompt typed in Chinese and translated before generating is found in Chinese too)."""

#: HistoryEntry's fields, which are also the table's column names.
ENTRY_FIELDS = (
    "id", "created_at", "path", "prompt", "negative_prompt", "seed", "width", "height",
    "num_inference_steps", "guidance_scale", "scheduler", "model", "backend", "parameters",
    "extra",
)  # fmt: skip
#: The same, as an SQL column list.
ENTRY_COLUMNS = ", ".join(ENTRY_FIELDS)


@dataclass(frozen=True)
class HistoryEntry:
    """One saved image and the settings it was made with.

    Attributes:
        id: the row id; stable, never reused after a delete.
        created_at: when it was saved, ISO 8601 in UTC (``2024-05-01T08:30:00.123456+00:00``).
        path: the PNG file (absolute).
        prompt: the prompt as generated (after any translation).
        negative_prompt: the negative prompt; ``""`` if none.
        seed: the seed this very image used (never ``-1``).
        width: width in pixels.
        height: height in pixels.
        num_inference_steps: denoising steps.
        guidance_scale: classifier-free guidance scale.
        scheduler: huatu's scheduler id, e.g. ``"dpmpp_2m_karras"``.
        model: the model's name or id.
        backend: ``"local"`` or ``"hosted"`` (whatever the caller passed).
        parameters: the A1111 ``parameters`` text embedded in the PNG.
        extra: further settings, e.g. ``{"Preset": "Quality", "Original prompt": "一只猫"}``.
            Default ``{}``. Not part of the hash, compared by ``==``.
    """

    id: int
    created_at: str
    path: Path
    prompt: str
    negative_prompt: str
    seed: int
    width: int
    height: int
    num_inference_steps: int
    guidance_scale: float
    scheduler: str
    model: str
    backend: str
    parameters: str
    extra: dict[str, str] = field(default_factory=dict, hash=False)

    def request_fields(self) -> dict[str, Any]:
        """The entry's settings under :class:`~huatu.request.GenerationRequest` field names.

        ``prompt``, ``negative_prompt``, ``num_inference_steps``, ``guidance_scale``,
        ``width``, ``height``, ``seed`` and ``scheduler``, ready for
        ``GenerationRequest.create(**entry.request_fields())`` or for filling the form.
        """
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
            "width": self.width,
            "height": self.height,
            "seed": self.seed,
            "scheduler": self.scheduler,
        }


# --------------------------------------------------------------------------------------------
# Search


def normalise(text: str) -> str:
    """Text as the search compares it: NFKC (full-width ``ＡＢ`` → ``AB``), then casefolded."""
    return unicodedata.normalize("NFKC", text).casefold()


def search_text(prompt: str, negative: str, extra: Mapping[str, str]) -> str:
    """The text a row is searched by: the prompts and :data:`SEARCHED_EXTRA_KEYS`, normalised."""
    parts = [prompt, negative, *(extra[key] for key in SEARCHED_EXTRA_KEYS if key in extra)]
    return "\n".join(normalise(part) for part in parts)


def search_where(query: str) -> tuple[str, tuple[Any, ...]]:
    """The SQL ``WHERE`` clause and its parameters selecting the shown rows matching
    ``query`` (every shown row when it is blank)."""
    needle = normalise(query.strip()) if isinstance(query, str) else ""
    if not needle:
        return "WHERE state = ?", (DONE,)
    # instr() is a plain substring test: '%' and '_' mean themselves.
    return "WHERE state = ? AND instr(search_text, ?) > 0", (DONE, needle)


def as_id(value: object) -> int | None:
    """An entry id given as int, whole float or digits, else ``None`` (no such entry)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
