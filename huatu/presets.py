"""Quality presets (scheduler + steps) and aspect-ratio presets for Stable Diffusion 1.5."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QualityPreset:
    """A named speed/quality trade-off.

    Attributes:
        id: ``quality``, ``balanced`` or ``fast``.
        label: the name written in metadata (``Preset: Balanced``).
        scheduler: scheduler id it selects.
        steps: denoising steps it selects.
    """

    id: str
    label: str
    scheduler: str
    steps: int


QUALITY_PRESETS: dict[str, QualityPreset] = {
    preset.id: preset
    for preset in (
        QualityPreset("quality", "Quality", "dpmpp_2m_karras", 30),
        QualityPreset("balanced", "Balanced", "dpmpp_2m_karras", 20),
        QualityPreset("fast", "Fast", "dpmpp_2m_karras", 12),
    )
}
DEFAULT_PRESET = "balanced"


def matching_preset(scheduler: str, steps: int) -> QualityPreset | None:
    """The preset whose scheduler and steps are exactly these, or ``None`` (custom settings).

    A preset is recorded in metadata only while the user has not overridden it, so the label
    never claims settings the image was not made with.
    """
    for preset in QUALITY_PRESETS.values():
        if preset.scheduler == scheduler and preset.steps == steps:
            return preset
    return None


@dataclass(frozen=True)
class AspectPreset:
    """An image size that suits SD 1.5 (trained at 512×512), labelled with its ratio.

    Attributes:
        ratio: e.g. ``"2:3"``.
        width: pixels, a multiple of 8.
        height: pixels, a multiple of 8.
    """

    ratio: str
    width: int
    height: int

    @property
    def label(self) -> str:
        """``"2:3 · 512×768"``."""
        return f"{self.ratio} · {self.width}×{self.height}"

    @property
    def id(self) -> str:
        """``"512x768"``: the value the UI sends."""
        return f"{self.width}x{self.height}"


ASPECT_PRESETS: tuple[AspectPreset, ...] = (
    AspectPreset("1:1", 512, 512),
    AspectPreset("2:3", 512, 768),
    AspectPreset("3:2", 768, 512),
    AspectPreset("3:4", 576, 768),
    AspectPreset("4:3", 768, 576),
    AspectPreset("7:10", 448, 640),
    AspectPreset("10:7", 640, 448),
    AspectPreset("9:16", 432, 768),
    AspectPreset("16:9", 768, 432),
)


def aspect_by_id(aspect_id: str) -> AspectPreset | None:
    """The aspect preset whose :attr:`AspectPreset.id` is ``aspect_id``, or ``None``."""
    return next((aspect for aspect in ASPECT_PRESETS if aspect.id == aspect_id), None)
