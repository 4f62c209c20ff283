""" "Faster" (a request's ``step_cache``) on the local backend: step caching
(:mod:`huatu.backends.step_cache`), and where the CPU runs bf16 token merging as well
(:mod:`huatu.backends.token_merging`) — both switched on for one run, and what the images'
metadata says of them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from huatu.backends import step_cache, token_merging

if TYPE_CHECKING:
    from huatu.device import DevicePlan

#: The metadata fields a "Faster" run may write.
FIELDS = (step_cache.CACHE_FIELD, token_merging.MERGING_FIELD)


def abilities(unet: Any, plan: DevicePlan, compiled: bool) -> tuple[bool, bool]:
    """Whether ``unet`` can be step-cached (a diffusers UNet, not compiled: a compiled UNet
    does not call the forwards caching replaces), and whether "Faster" merges its tokens too
    on ``plan``."""
    can_cache = step_cache.can_cache(unet) and not compiled
    return can_cache, can_cache and token_merging.merges_tokens(unet, plan)


def metadata(merges_tokens: bool) -> dict[str, str]:
    """What a "Faster" run's images say: ``Cache: DeepCache interval 3`` and, when it merged
    tokens, ``Token merging ratio: 0.5``."""
    fields = {step_cache.CACHE_FIELD: step_cache.cache_label(step_cache.DEFAULT_INTERVAL)}
    if merges_tokens:
        fields[token_merging.MERGING_FIELD] = str(token_merging.RATIO)
    return fields


@contextlib.contextmanager
def running(
    unet: Any, merges_tokens: bool, seed: int, interval: int = step_cache.DEFAULT_INTERVAL
) -> Iterator[step_cache.StepCache]:
    """``unet`` does less work for the ``with`` block (one run, every pass of it), and is
    exactly as before afterwards. Yields the step cache (its call counts).

    Args:
        unet: the pipeline's UNet.
        merges_tokens: merge tokens as well as cache steps.
        seed: the run's first seed (which tokens merge is drawn from it).
        interval: a full UNet call every this many calls. Default
            :data:`~huatu.backends.step_cache.DEFAULT_INTERVAL`.
    """
    cache = step_cache.StepCache(unet, interval=interval)
    with cache.on(), contextlib.ExitStack() as more:
        if merges_tokens:
            more.enter_context(token_merging.token_merging(unet, seed))
        yield cache
