"""Token merging for UNets with attention at full resolution (SD 1.x/2.x): ToMe for SD
(Bolya and Hoffman, 2023, arXiv:2303.17604), through its authors' ``tomesd`` package. In the
full-resolution transformer blocks, the self-attention runs on half the tokens — similar ones
merged, then spread back — so its cost, the largest part of a UNet step on a CPU with bf16,
falls to about a quarter.

Measured on the SD 1.5 architecture, bf16 on two AVX512-BF16 cores (2026-12-03): a UNet CFG
step 6.39 → 5.06 s, a step-cached one 1.37 → 0.79 s; on AVX2 in fp32 it gained 1.03× (the
convolutions dominate there), so huatu merges tokens only where the CPU runs bf16
(:func:`merges_tokens`; an AMX CPU falls under the same rule, not measured yet). The published
quality figure: FID 33.12 → 33.02 at ratio 0.5 (SD 1.5, 512², 50 PLMS steps, ImageNet-1k
classes), 1.87× faster on a GPU.

Which tokens merge is drawn from a generator seeded by the run's seed: the same seed makes the
same image.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from huatu.device import DevicePlan

#: The share of tokens merged (ToMe's ``ratio``; its authors recommend at most 0.5).
RATIO = 0.5
#: AUTOMATIC1111's infotext field for it: ``Token merging ratio: 0.5``.
MERGING_FIELD = "Token merging ratio"


def merges_tokens(unet: Any, plan: DevicePlan) -> bool:
    """Whether "Faster" merges ``unet``'s tokens on ``plan``: a CPU running bf16, where the
    bench measured it paying (1.26–1.31× per full step, 1.75× per cached one; elsewhere not
    measured to pay), and a UNet with attention at full resolution, where ToMe merges
    (SD 1.x/2.x; not SDXL, whose first blocks have none)."""
    has_attention = bool(getattr(unet.down_blocks[0], "attentions", None))
    return plan.device == "cpu" and plan.dtype == "bfloat16" and has_attention


@contextlib.contextmanager
def token_merging(unet: Any, seed: int, ratio: float = RATIO) -> Iterator[None]:
    """Merge tokens in ``unet`` for the ``with`` block (one generation); the UNet is exactly
    as before once it ends, however it ends.

    Args:
        unet: a diffusers ``UNet2DConditionModel``.
        seed: seeds the draw of which tokens merge (the run's first seed).
        ratio: the share of tokens merged. Default :data:`RATIO`.
    """
    import tomesd
    import torch

    tomesd.apply_patch(unet, ratio=ratio)
    # tomesd forks the process's global generator otherwise: another image for the same seed
    unet._tome_info["args"]["generator"] = torch.Generator("cpu").manual_seed(seed)
    try:
        yield
    finally:
        tomesd.remove_patch(unet)
