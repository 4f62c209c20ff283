"""Quality presets (scheduler + steps) and aspect-ratio presets: SD 1.5's, and each model
family's from :mod:`huatu.models.families`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from huatu.models.families import FAMILIES, SD_SIZES, Family
from huatu.request import DEFAULT_GUIDANCE, DEFAULT_SCHEDULER, DEFAULT_STEPS
from huatu.schedulers import LCM_SCHEDULER


@dataclass(frozen=True)
class QualityPreset:
    """A named speed/quality trade-off.

    Attributes:
        id: ``quality``, ``balanced`` or ``fast``.
        label: the name written in metadata (``Preset: Balanced``).
        scheduler: scheduler id it selects.
        steps: denoising steps it selects.
        guidance: guidance scale it selects, or ``None`` to keep the person's. Default
            ``None``.
        step_cache: whether the studio ticks "Faster" (step caching) with it, where the
            backend can cache. Default off.
    """

    id: str
    label: str
    scheduler: str
    steps: int
    guidance: float | None = None
    step_cache: bool = False


#: Step caching is on in the studio's Balanced preset: ``make bench`` measured 1.85× per
#: 20-step SD 1.5 image on two AVX2 cores (276.2 → 149.6 s end to end, 2026-12-03), above the
#: 1.6× that earns a default; DeepCache's authors report a CLIP score 0.05 lower at 2.3× on
#: SD 1.5 (arXiv:2312.00858). Quality keeps every step; anyone can untick it per image.
BALANCED_CACHES = True

#: The presets every backend can run. ``fast`` here is the fallback Fast (DPM++ 2M Karras,
#: 12 steps), used where the LCM Fast path is not available; see :func:`quality_preset`.
QUALITY_PRESETS: dict[str, QualityPreset] = {
    preset.id: preset
    for preset in (
        QualityPreset("quality", "Quality", DEFAULT_SCHEDULER, 30),
        # the request's defaults: a request that sets nothing is a Balanced one (the APIs
        # cache only when asked; the studio's Balanced ticks "Faster": see BALANCED_CACHES)
        QualityPreset(
            "balanced", "Balanced", DEFAULT_SCHEDULER, DEFAULT_STEPS, step_cache=BALANCED_CACHES
        ),
        QualityPreset("fast", "Fast", DEFAULT_SCHEDULER, 12),
    )
}
DEFAULT_PRESET = "balanced"

#: The real Fast preset on a local backend with the LCM-LoRA and TAESD at hand: the LCM
#: scheduler in 4 steps, classifier-free guidance off (1.0), as LCM needs (~10× faster than
#: Balanced on a CPU: 8 s instead of 84 s per 512×512 image in ``make bench``).
LCM_FAST_PRESET = QualityPreset("fast", "Fast", LCM_SCHEDULER, 4, guidance=1.0)


def quality_presets(
    fast_available: bool = False, family: Family | None = None
) -> dict[str, QualityPreset]:
    """Every preset id → the preset as a backend runs it: ``fast`` is :data:`LCM_FAST_PRESET`
    when ``fast_available`` (the LCM-LoRA weights are at hand), else the DPM++ 12-step
    fallback of :data:`QUALITY_PRESETS`.

    For a model ``family`` other than SD 1.x, the presets are the family's: Balanced its
    steps, scheduler and guidance; Quality half as many steps again; Fast 60 % of them (a
    few-step family: its own steps for Balanced and Fast, twice as many for Quality).
    """
    if family is not None and family.id not in ("sd1", "tiny"):
        return _family_presets(family, fast_available)
    presets = dict(QUALITY_PRESETS)
    if fast_available:
        presets[LCM_FAST_PRESET.id] = LCM_FAST_PRESET
    return presets


def _family_presets(family: Family, fast_available: bool) -> dict[str, QualityPreset]:
    scheduler, steps, guidance = family.schedulers[0], family.steps, family.guidance
    if family.few_step:
        quality, fast = steps * 2, steps
    else:
        quality, fast = round(steps * 1.5), max(1, round(steps * 0.6))
    caches = BALANCED_CACHES and not family.few_step  # a step or four: nothing to reuse
    presets = {
        "quality": QualityPreset("quality", "Quality", scheduler, quality, guidance),
        "balanced": QualityPreset("balanced", "Balanced", scheduler, steps, guidance, caches),
        "fast": QualityPreset("fast", "Fast", scheduler, fast, guidance),
    }
    if fast_available and not family.few_step:
        presets["fast"] = LCM_FAST_PRESET
    return presets


def apply_quality_preset(
    preset_id: str, *, presets: Mapping[str, QualityPreset], guidance: float
) -> tuple[int, str, float]:
    """What choosing ``preset_id`` sets in a form: ``(steps, scheduler, guidance)``.

    The guidance is the preset's own (Fast with LCM: 1.0); for a preset without one it stays
    ``guidance``, except that leaving the LCM Fast preset's guidance (exactly 1.0, which
    would switch guidance off for the other samplers) restores the default guidance (7).

    Args:
        preset_id: ``quality``, ``balanced`` or ``fast``.
        presets: the presets as the backend runs them (its ``capabilities.presets``); a
            backend without presets of its own gets :data:`QUALITY_PRESETS`.
        guidance: the form's current guidance scale.

    Raises:
        KeyError: an unknown preset id.
    """
    preset = (presets or QUALITY_PRESETS)[preset_id]
    if preset.guidance is not None:
        return preset.steps, preset.scheduler, preset.guidance
    if guidance == LCM_FAST_PRESET.guidance:
        guidance = DEFAULT_GUIDANCE
    return preset.steps, preset.scheduler, guidance


def preset_caches(preset_id: str, *, presets: Mapping[str, QualityPreset], available: bool) -> bool:
    """Whether choosing ``preset_id`` ticks the studio's "Faster" (step caching): the preset
    says so and the backend can cache (``available``: its ``capabilities.step_cache``).

    Args:
        preset_id: ``quality``, ``balanced`` or ``fast``.
        presets: the presets as the backend runs them (default :data:`QUALITY_PRESETS`).
        available: whether the backend caches steps.
    """
    return available and (presets or QUALITY_PRESETS)[preset_id].step_cache


def default_form(
    presets: Mapping[str, QualityPreset], *, can_cache: bool
) -> tuple[int, str, float, bool]:
    """A form's starting values under :data:`DEFAULT_PRESET` on a backend that runs
    ``presets`` (its ``capabilities.presets``): steps, sampler, guidance and "Faster" (ticked
    where the preset caches and ``can_cache``: its ``capabilities.step_cache``)."""
    steps, scheduler, guidance = apply_quality_preset(
        DEFAULT_PRESET, presets=presets, guidance=DEFAULT_GUIDANCE
    )
    return (
        steps,
        scheduler,
        guidance,
        preset_caches(DEFAULT_PRESET, presets=presets, available=can_cache),
    )


def matching_preset(
    scheduler: str,
    steps: int,
    guidance: float | None = None,
    presets: Mapping[str, QualityPreset] | None = None,
) -> QualityPreset | None:
    """The preset whose scheduler and steps are exactly these, or ``None`` (custom settings).

    A preset is recorded in metadata only while the user has not overridden it, so the label
    never claims settings the image was not made with. When ``guidance`` is given, a preset
    that sets the guidance (LCM Fast) matches only with that guidance. ``presets``: the
    backend's own (a family's); default: SD 1.5's and the LCM Fast preset.
    """
    offered = presets.values() if presets else (*QUALITY_PRESETS.values(), LCM_FAST_PRESET)
    for preset in offered:
        if preset.scheduler != scheduler or preset.steps != steps:
            continue
        if guidance is not None and preset.guidance not in (None, guidance):
            continue
        return preset
    return None


@dataclass(frozen=True)
class AspectPreset:
    """An image size that suits a model family, labelled with its ratio.

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


def aspect_presets(sizes: tuple[tuple[int, int], ...]) -> tuple[AspectPreset, ...]:
    """``sizes`` (a family's, :mod:`huatu.models.families`) as presets labelled with their
    ratio in lowest terms (``1216×832`` → ``19:13``)."""
    from math import gcd

    return tuple(
        AspectPreset(f"{width // gcd(width, height)}:{height // gcd(width, height)}", width, height)
        for width, height in sizes
    )


#: SD 1.5's sizes (trained at 512×512): the presets of a model whose family is not known.
ASPECT_PRESETS: tuple[AspectPreset, ...] = aspect_presets(SD_SIZES)


def aspects_for(family: Family | None) -> tuple[AspectPreset, ...]:
    """The size presets of a model of ``family`` (its table row's sizes, default first), or
    SD 1.5's when the family is not known."""
    return aspect_presets(family.sizes) if family is not None else ASPECT_PRESETS


def aspect_by_id(aspect_id: str) -> AspectPreset | None:
    """The aspect preset of any family whose :attr:`AspectPreset.id` is ``aspect_id``, or
    ``None``."""
    every = {size for each in FAMILIES.values() for size in each.sizes}
    found = aspect_presets(tuple(sorted(every)))
    return next((aspect for aspect in found if aspect.id == aspect_id), None)
