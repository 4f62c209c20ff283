"""The local backend's VAE: the model's own, or one of the models folders' ``VAE/`` chosen by
name (A1111's ``sd_vae`` option), loaded into the loaded model's VAE layout.

A VAE file in A1111's layout (``encoder.down.0…``, with or without ``first_stage_model.``) is
converted with diffusers' own single-file conversion; a diffusers folder loads as it is. A file
that does not fit the model is refused in one sentence and the VAE in use stays.
"""

from __future__ import annotations

import logging
from typing import Any

from huatu.errors import ModelLoadError
from huatu.messages import Notice
from huatu.models.folders import ModelFile
from huatu.models.hashes import HashCache, short

log = logging.getLogger(__name__)


class VaeChoice:
    """Which VAE a pipeline decodes with.

    Args:
        pipe: the loaded pipeline (its own VAE is remembered, to go back to).
        hashes: where file hashes are kept (``VAE hash``).
    """

    def __init__(self, pipe: Any, hashes: HashCache) -> None:
        self.pipe = pipe
        self.hashes = hashes
        self.own = pipe.vae
        self.file: ModelFile | None = None

    def use(self, found: ModelFile | None) -> bool:
        """Decode with ``found`` from now on, or with the model's own VAE (``None``).

        Returns whether the VAE changed (the editing pipelines must then take it too).

        Raises:
            ModelLoadError: ``found`` is not a VAE for this model; the current one stays.
        """
        if found == self.file:
            return False
        vae = self.own if found is None else load_vae(found, self.own)
        self.pipe.vae, self.file = vae, found
        return True

    def metadata(self) -> dict[str, str]:
        """A1111's ``VAE hash`` (10 hex digits of its sha256) and ``VAE`` (its name) of a
        chosen VAE file; nothing for the model's own."""
        if self.file is None:
            return {}
        if self.file.is_folder:
            return {"VAE": self.file.name}
        return {"VAE hash": short(self.hashes.full(self.file.path)), "VAE": self.file.name}


def load_vae(found: ModelFile, like: Any) -> Any:
    """The VAE ``found``, in the layout, dtype and device of the VAE ``like``.

    Raises:
        ModelLoadError: it cannot be read as such a VAE (the sentence names it).
    """
    import torch
    from diffusers import AutoencoderKL

    try:
        if found.is_folder:
            vae = AutoencoderKL.from_pretrained(found.path, dtype=like.dtype)
        else:
            from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint
            from safetensors.torch import load_file

            state = load_file(str(found.path))
            converted = convert_ldm_vae_checkpoint(state, dict(like.config)) or state
            vae = AutoencoderKL.from_config(like.config)
            vae.load_state_dict(converted, strict=True)
        vae = vae.to(device=like.device, dtype=like.dtype)
        if _is_channels_last(like):  # the layout huatu gave the model's own VAE
            vae.to(memory_format=torch.channels_last)
        return vae
    except Exception as error:  # not a VAE, another family's, damaged: one sentence
        log.info("loading the VAE %s failed", found.name, exc_info=True)
        raise ModelLoadError("vae_unfit", name=found.name, kind=type(error).__name__) from None


def _is_channels_last(vae: Any) -> bool:
    """Whether ``vae``'s convolutions are in ``channels_last`` (its first 3×3 one says)."""
    import torch

    for module in vae.modules():
        if isinstance(module, torch.nn.Conv2d) and module.kernel_size != (1, 1):
            weight = module.weight
            return (
                weight.is_contiguous(memory_format=torch.channels_last)
                and not weight.is_contiguous()
            )
    return False


def decode(vae: Any, latents: Any) -> tuple[Any, list[Notice]]:
    """Decode ``latents`` with ``vae``; if half precision overflows to NaN/inf (the "black
    image" of fp16), decode once more with the VAE in fp32 and say so."""
    import torch

    scale = vae.config.scaling_factor
    with torch.no_grad():
        pixels = vae.decode(latents.to(vae.dtype) / scale, return_dict=False)[0]
        if torch.isfinite(pixels).all() or vae.dtype == torch.float32:
            return pixels, []
        log.warning("VAE decode in %s gave NaN/inf; decoding again in fp32", vae.dtype)
        half = vae.dtype
        vae.to(torch.float32)
        try:
            pixels = vae.decode(latents.float() / scale, return_dict=False)[0]
        finally:
            vae.to(half)
    return pixels, [Notice("vae_fp32_retry", {"dtype": str(half).removeprefix("torch.")})]
