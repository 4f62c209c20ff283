"""Step caching (DeepCache, :mod:`huatu.backends.step_cache`) on the SD 1.5 architecture:
a full UNet CFG step against a cached one (the shallow branch only), interleaved, and what
that makes of a 20-step image (part of ``make bench``).

The 20-step figure is computed from the measured steps — ``ceil(20 / interval)`` full calls
and the rest cached, plus the text encoder and the decode as measured for the case — and
reported as such (``estimated``): a whole 20-step image of the architecture takes minutes on
a CPU. The goal: at least :data:`GOAL_SPEEDUP` per image before caching is on by default.
"""

from __future__ import annotations

import math
import time
from typing import Any

#: The speed-up per 20-step image that would make caching the Balanced preset's default.
GOAL_SPEEDUP = 1.6


def measure_step_cache(runner: Any, row: dict[str, Any], repeats: int, steps: int) -> dict:
    """Full against cached UNet steps of ``runner`` (a :class:`huatu.bench.cases.CaseRunner`,
    huatu-default), and the ``steps``-step image with and without caching.

    Args:
        runner: the case whose UNet is measured (left as it was).
        row: that case's measured row (``text_encode_s``, ``vae_decode_s``).
        repeats: interleaved pairs of one full and one cached step.
        steps: steps of the image the figures are for.
    """
    from huatu.backends.step_cache import DEFAULT_INTERVAL
    from huatu.backends.token_merging import RATIO

    full: list[float] = []
    cached: list[float] = []
    for _ in range(repeats):
        # one full call keeps the deep features; with an interval longer than the run, every
        # later call is a cached one (and where huatu merges tokens, both calls merge)
        with runner.less_work(interval=10**9) as cache:
            full.append(_seconds(runner.unet_step))
            cached.append(_seconds(runner.unet_step))
        if cache.full_calls != 1:
            raise RuntimeError("step caching did not skip the deep blocks")
    full_s, cached_s = sorted(full)[len(full) // 2], sorted(cached)[len(cached) // 2]
    full_calls = math.ceil(steps / DEFAULT_INTERVAL)
    rest = row["text_encode_s"] + row["vae_decode_s"]
    plain_image = rest + steps * full_s
    cached_image = rest + full_calls * full_s + (steps - full_calls) * cached_s
    return {
        "interval": DEFAULT_INTERVAL,
        "token_merging_ratio": RATIO if runner.merges_tokens else None,
        "steps": steps,
        "unet_cfg_step_s": round(full_s, 3),
        "cached_step_s": round(cached_s, 3),
        "step_ratio": round(full_s / cached_s, 2),
        "image_s": round(plain_image, 2),
        "image_cached_s": round(cached_image, 2),
        "image_speedup": round(plain_image / cached_image, 2),
        "estimated": True,
        "goal_speedup": GOAL_SPEEDUP,
    }


def caching_row(measured: dict[str, Any], default_row: dict[str, Any]) -> dict[str, Any]:
    """The huatu-default+caching case's row from :func:`measure_step_cache`'s figures: the
    mean UNet step of a cached run (marked estimated: computed from the full and cached
    steps), the text encoder and decode of huatu-default (the same modules)."""
    steps = measured["steps"]
    full_calls = math.ceil(steps / measured["interval"])
    mean_step = (
        full_calls * measured["unet_cfg_step_s"] + (steps - full_calls) * measured["cached_step_s"]
    ) / steps
    return {
        "unet_cfg_step_s": round(mean_step, 3),
        "vae_decode_s": default_row["vae_decode_s"],
        "text_encode_s": default_row["text_encode_s"],
        "interval": measured["interval"],
        "estimated_fields": ["unet_cfg_step_s"],
    }


def _seconds(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started
