"""Step caching for SD 1.x/2.x and SDXL UNets, after DeepCache (Ma, Fang and Wang, CVPR 2024,
arXiv:2312.00858): the deep features of a UNet change little from one denoising step to the
next, so every ``interval``-th call runs the whole UNet and keeps the features that enter the
last layer of its last up block; the calls in between run only the shallow branch — the first
layer of the first down block and the last layer of the last up block — on those kept
features. DeepCache's "uniform N=3, branch 0" setting.

It works by replacing the ``forward`` of the UNet's blocks and layers on the instance (nothing
of diffusers is copied): on a cached call a skipped layer hands back its input (or, where the
kept features enter, those features), so the UNet's own ``forward`` runs unchanged around it.
:class:`StepCache` is switched on for one generation and off again (``with cache.on():``); the
UNet outside that block is exactly the UNet without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

#: Full UNet calls come every this many calls (DeepCache's N; 3 on SD 1.5 in its paper).
DEFAULT_INTERVAL = 3
#: What the metadata says of a cached run: ``Cache: DeepCache interval 3``.
CACHE_FIELD = "Cache"


def cache_label(interval: int) -> str:
    """The metadata value of a run cached every ``interval`` calls."""
    return f"DeepCache interval {interval}"


def can_cache(unet: Any) -> bool:
    """Whether ``unet`` has the layout step caching needs: a diffusers UNet2DConditionModel
    (down blocks, a mid block and up blocks of resnets, with or without attention)."""
    blocks = ("down_blocks", "up_blocks", "mid_block")
    if not all(getattr(unet, name, None) is not None for name in blocks):
        return False
    first, last = unet.down_blocks[0], unet.up_blocks[-1]
    return len(getattr(first, "resnets", ())) >= 1 and len(getattr(last, "resnets", ())) >= 2


class StepCache:
    """DeepCache on one UNet.

    Args:
        unet: a diffusers ``UNet2DConditionModel`` (:func:`can_cache`).
        interval: a full call every this many calls. Default :data:`DEFAULT_INTERVAL`.

    Attributes:
        calls: UNet calls of the current run (latents of one shape: a hires pass starts
            again with a full call). full_calls: the calls since :meth:`on` began that ran
            the whole UNet (the deep blocks ran).
    """

    def __init__(self, unet: Any, interval: int = DEFAULT_INTERVAL) -> None:
        self.unet = unet
        self.interval = interval
        self.calls = 0
        self.full_calls = 0
        self._kept: Any = None
        self._kept_for: Any = None  # the latents' shape the kept features belong to
        self._cached_call = False

    @contextlib.contextmanager
    def on(self) -> Iterator[StepCache]:
        """Cache for the ``with`` block (one generation): the counts start again, and the
        UNet's forwards are put back however the block ends."""
        self.calls = self.full_calls = 0
        self._kept = self._kept_for = None
        patched: list[tuple[Any, Any]] = []  # each module with its own instance forward
        try:
            self._patch(patched)
            yield self
        finally:
            for module, previous in reversed(patched):
                if previous is None:
                    del module.forward  # the class's forward again
                else:
                    module.forward = previous
            self._kept = None
            self._cached_call = False

    def _patch(self, patched: list[tuple[Any, Any]]) -> None:
        unet = self.unet
        own_forward = unet.forward

        def unet_forward(*args: Any, **kwargs: Any) -> Any:
            sample = args[0] if args else kwargs.get("sample")
            shape = tuple(getattr(sample, "shape", ()))
            if shape != self._kept_for:  # a new run (a hires pass): a full call first
                self._kept, self._kept_for = None, shape
                self.calls = 0
            self._cached_call = self._kept is not None and self.calls % self.interval != 0
            self.calls += 1
            if not self._cached_call:
                self.full_calls += 1
            return own_forward(*args, **kwargs)

        def replace(module: Any, skipped: Any, keep: bool = False) -> None:
            own = module.forward

            def forward(*args: Any, **kwargs: Any) -> Any:
                if self._cached_call:
                    return skipped(*args, **kwargs)
                out = own(*args, **kwargs)
                if keep:
                    self._kept = out[0] if isinstance(out, tuple) else out
                return out

            patched.append((module, module.__dict__.get("forward")))
            module.forward = forward

        patched.append((unet, unet.__dict__.get("forward")))
        unet.forward = unet_forward
        first, last = unet.down_blocks[0], unet.up_blocks[-1]
        # the first down block: its first layer runs, the rest hand their input on
        for resnet in first.resnets[1:]:
            replace(resnet, _first_argument)
        for attention in list(getattr(first, "attentions", None) or [])[1:]:
            replace(attention, _first_argument_as_tuple)
        for downsampler in getattr(first, "downsamplers", None) or []:
            replace(downsampler, _first_argument)
        # the deep blocks: skipped whole (placeholders of the right count for the skips)
        for block in unet.down_blocks[1:]:
            replace(block, _down_block_placeholders(block))
        replace(unet.mid_block, _first_argument)
        for block in unet.up_blocks[:-1]:
            replace(block, lambda *args, **kwargs: self._kept)
        # the last up block: its layers but the last hand their input on, and the layer before
        # the last hands on the features kept from the last full call
        attentions = list(getattr(last, "attentions", None) or [None] * len(last.resnets))
        layers = list(zip(last.resnets, attentions, strict=True))
        for index, (resnet, attention) in enumerate(layers[:-1]):
            keeps = index == len(layers) - 2
            if attention is None:
                replace(resnet, self._kept_or_input if keeps else _first_argument, keep=keeps)
            else:
                replace(resnet, _first_argument)
                skipped = self._kept_as_tuple if keeps else _first_argument_as_tuple
                replace(attention, skipped, keep=keeps)

    def _kept_or_input(self, *args: Any, **kwargs: Any) -> Any:
        return self._kept

    def _kept_as_tuple(self, *args: Any, **kwargs: Any) -> tuple[Any]:
        return (self._kept,)


def _first_argument(hidden_states: Any, *args: Any, **kwargs: Any) -> Any:
    return hidden_states


def _first_argument_as_tuple(hidden_states: Any, *args: Any, **kwargs: Any) -> tuple[Any]:
    return (hidden_states,)


def _down_block_placeholders(block: Any) -> Any:
    """A skipped down block's answer: its input as the hidden states and as each of the skip
    connections it would have given (one per layer, one per downsampler), which only skipped
    blocks read."""
    count = len(block.resnets) + len(getattr(block, "downsamplers", None) or [])

    def skipped(hidden_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, tuple[Any, ...]]:
        return hidden_states, (hidden_states,) * count

    return skipped
