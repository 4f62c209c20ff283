"""Which family a model is, read from the model itself: a single-file checkpoint's tensor
names and shapes (its header only: nothing is loaded), or a diffusers folder's configs.

A file's name only decides between variants of one architecture that its tensors cannot tell
apart (SD-Turbo is an SD 2.1, SDXL-Turbo an SDXL, an LCM checkpoint an SD 1.5 or SDXL).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huatu.errors import ModelLoadError
from huatu.models.folders import ModelFile, size_text

#: A tensor only an SD 1.x checkpoint's CLIP text encoder has (A1111/LDM layout).
SD1_TEXT = "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"
#: A tensor only an SD 2.x checkpoint's OpenCLIP text encoder has.
SD2_TEXT = "cond_stage_model.model.token_embedding.weight"
#: A tensor only an SDXL base checkpoint's second (OpenCLIP bigG) text encoder has.
SDXL_TEXT = "conditioner.embedders.1.model.positional_embedding"
#: The UNet's first convolution: its output channels tell the full-size UNet (320) from the
#: tiny test model's; its input channels tell an inpainting UNet (9).
UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
#: UNet channels of every full-size SD 1.x/2.x/XL UNet.
FULL_UNET_CHANNELS = 320
#: The built-in tiny model's UNet channels (:mod:`huatu.backends.tiny`).
TINY_UNET_CHANNELS = 32
#: Largest header huatu reads from a ``.safetensors`` file (real checkpoints: < 1 MB).
MAX_HEADER_BYTES = 32 * 1024 * 1024

#: Words in a file or folder name that pick a few-step variant of an architecture.
VARIANT_WORDS: dict[str, dict[str, str]] = {
    "sd1": {"lcm": "lcm", "sdxs": "sdxs"},
    "sd2": {"turbo": "sd-turbo", "sdxs": "sdxs"},  # SDXS-512-0.9 reads SD 2.1's encoder
    "sdxl": {"turbo": "sdxl-turbo", "lcm": "lcm-sdxl"},
}


@dataclass(frozen=True)
class Recognised:
    """What a model file or folder is.

    Attributes:
        family: a family id of :data:`huatu.models.families.FAMILIES`.
        inpainting: its UNet reads a mask too (9 input channels).
    """

    family: str
    inpainting: bool = False


def safetensors_header(path: Path) -> dict[str, dict]:
    """The tensors a ``.safetensors`` file declares (name → dtype, shape, offsets), read from
    its header only.

    Raises:
        ModelLoadError: not a ``.safetensors`` file (too short, header not JSON, too big).
    """
    try:
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            if not 2 <= size <= MAX_HEADER_BYTES:
                raise ValueError(size)
            header = json.loads(handle.read(size))
        if not isinstance(header, dict):
            raise ValueError(type(header))
    except (OSError, ValueError) as error:
        kind = type(error).__name__
        raise ModelLoadError("model_file_unreadable", model=path.name, kind=kind) from None
    header.pop("__metadata__", None)
    return {name: info for name, info in header.items() if isinstance(info, dict)}


def recognise_file(path: Path) -> Recognised:
    """The family of the single-file checkpoint at ``path`` (``.safetensors``; a pickle file
    is assumed to be SD 1.x, since reading it would run it).

    Raises:
        ModelLoadError: the file is not a checkpoint huatu can run (a LoRA, a VAE, a refiner,
            another architecture); the sentence names the file.
    """
    if path.suffix.lower() != ".safetensors":
        return Recognised("sd1")
    tensors = safetensors_header(path)
    unet = tensors.get(UNET_IN, {}).get("shape")
    if not unet or len(unet) != 4:
        raise ModelLoadError("model_file_not_checkpoint", model=path.name)
    channels, inputs = unet[0], unet[1]
    if SDXL_TEXT in tensors:
        architecture = "sdxl"
    elif SD2_TEXT in tensors:
        architecture = "sd2"
    elif SD1_TEXT in tensors:
        architecture = "sd1"
    else:
        raise ModelLoadError("model_file_not_checkpoint", model=path.name)
    if channels == TINY_UNET_CHANNELS and architecture == "sd1":
        return Recognised("tiny", inpainting=inputs == 9)
    if channels != FULL_UNET_CHANNELS:
        raise ModelLoadError("model_file_not_checkpoint", model=path.name)
    return Recognised(variant(architecture, path.stem), inpainting=inputs == 9)


def recognise_folder(folder: Path) -> Recognised:
    """The family of the diffusers model in ``folder`` (from ``model_index.json`` and the
    text encoder's, scheduler's and UNet's configs).

    Raises:
        ModelLoadError: not a diffusers text-to-image model of a known family.
    """
    return recognise_configs(
        folder.name,
        _config(folder / "model_index.json").get("_class_name", ""),
        unet=_config(folder / "unet" / "config.json"),
        text=_config(folder / "text_encoder" / "config.json"),
        scheduler=_config(folder / "scheduler" / "scheduler_config.json"),
    )


def recognise_pipeline(name: str, pipe: Any) -> Recognised:
    """The family of a loaded diffusers pipeline (e.g. one downloaded by Hub id)."""

    def config_of(component: str) -> dict:
        part = getattr(pipe, component, None)
        config = getattr(part, "config", None)
        return dict(config) if config is not None else {}

    return recognise_configs(
        name.rsplit("/", 1)[-1],
        type(pipe).__name__,
        unet=config_of("unet"),
        text=config_of("text_encoder"),
        scheduler=config_of("scheduler"),
    )


def recognise_configs(
    name: str, pipeline: str, *, unet: dict, text: dict, scheduler: dict
) -> Recognised:
    """The family of a diffusers model called ``name`` whose pipeline class is ``pipeline``,
    from its UNet's, text encoder's and scheduler's configs.

    Raises:
        ModelLoadError: not a text-to-image model of a known family.
    """
    if pipeline == "KolorsPipeline":
        return Recognised("kolors")
    if pipeline == "HunyuanDiTPipeline":
        return Recognised("hunyuan-dit")
    inpainting = unet.get("in_channels") == 9
    if pipeline.startswith("StableDiffusionXL"):
        return Recognised(variant("sdxl", name), inpainting)
    if not pipeline.startswith("StableDiffusion"):
        raise ModelLoadError("model_folder_unknown", model=name, pipeline=pipeline or "?")
    if "Bert" in " ".join(text.get("architectures", [])) or "bert" in text.get("model_type", ""):
        return Recognised("taiyi", inpainting)
    if scheduler.get("_class_name") == "LCMScheduler":
        return Recognised("lcm", inpainting)
    channels = (unet.get("block_out_channels") or [FULL_UNET_CHANNELS])[0]
    if channels == TINY_UNET_CHANNELS:
        return Recognised("tiny", inpainting)
    architecture = "sd2" if text.get("hidden_size") == 1024 else "sd1"
    return Recognised(variant(architecture, name), inpainting)


def family_label(found: ModelFile) -> str:
    """A checkpoint's family and size for a list (``sdxl · 6.5 GB``; ``?`` for a file that is
    not a checkpoint huatu runs), read from its files."""
    try:
        recognised = recognise_folder(found.path) if found.is_folder else recognise_file(found.path)
        family = recognised.family + (" inpainting" if recognised.inpainting else "")
    except ModelLoadError:
        family = "?"
    return f"{family} · {size_text(found.size)}"


def variant(architecture: str, name: str) -> str:
    """The family of an ``architecture`` model called ``name``: a few-step variant when the
    name says so (``sd_xl_turbo_1.0`` → ``sdxl-turbo``), else the architecture itself."""
    words = name.lower().replace("-", "_").replace(".", "_").split("_")
    for word, family in VARIANT_WORDS.get(architecture, {}).items():
        if word in words or any(part.startswith(word) for part in words):
            return family
    return architecture


def _config(path: Path) -> dict:
    """A JSON config, or ``{}`` when missing or unreadable."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
