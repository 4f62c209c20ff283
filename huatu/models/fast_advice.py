"""What to tell a person who picks the Fast preset on a model made for many steps.

Fast on such a model is the LCM-LoRA at 4 steps: each step is a whole UNet call, many seconds
on a CPU. A one-step family (SDXS-512, SD-Turbo) makes an image in seconds (``make bench``:
SDXS-512's architecture, one step and its tiny decoder, about 5.5 s end to end at 512² on two
AVX2 cores). So the studio names the one-step models already on this machine to switch to, or,
when there are none, the one to download — which the model list offers as a "⬇" item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from huatu.errors import ModelLoadError
from huatu.messages import Notice

if TYPE_CHECKING:
    from huatu.config import Settings
    from huatu.models.families import Family
    from huatu.models.folders import ModelFile

#: The one-step model huatu suggests downloading for Fast: the fastest on every CPU class.
ONE_STEP_DOWNLOAD = "IDKiro/sdxs-512-0.9"


def fast_advice(settings: Settings, family: Family | None, model: str) -> Notice | None:
    """The sentence for a person choosing Fast while ``model`` (of ``family``) is loaded on a
    backend that runs local files; ``None`` when the model is a few-step one itself, the
    built-in test model (its Fast takes no time) or of no known family.

    Args:
        settings: where the models folders and the Hub cache are.
        family: the loaded model's family.
        model: the loaded model's name (left out of the models to switch to).
    """
    if family is None or family.few_step or family.id == "tiny":
        return None
    here = [name for name in one_step_models_here(settings) if name != model]
    if here:
        return Notice("fast_switch_one_step", {"models": ", ".join(here)})
    return Notice("fast_download_one_step", {"model": ONE_STEP_DOWNLOAD})


def one_step_models_here(settings: Settings) -> list[str]:
    """The few-step models on this machine: checkpoints of the models folders whose family is
    a few-step one (read from their files), then recommended few-step models in
    huggingface_hub's cache."""
    from huatu.models.download import RECOMMENDED, in_hub_cache
    from huatu.models.families import FAMILIES
    from huatu.models.folders import CHECKPOINT, library_for

    found = [
        item.name for item in library_for(settings).files(CHECKPOINT) if _few_step(item, FAMILIES)
    ]
    for recommended in RECOMMENDED:
        if FAMILIES[recommended.family].few_step and in_hub_cache(recommended.id):
            found.append(recommended.id)
    return list(dict.fromkeys(found))


def _few_step(item: ModelFile, families: dict[str, Family]) -> bool:
    """Whether a checkpoint's files say it is of a few-step family (unreadable: no)."""
    from huatu.models.recognise import recognise_file, recognise_folder

    try:
        recognised = recognise_folder(item.path) if item.is_folder else recognise_file(item.path)
    except ModelLoadError:
        return False
    family = families.get(recognised.family)
    return family is not None and family.few_step and not recognised.inpainting
