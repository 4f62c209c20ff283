"""The built-in offline "tiny" model.

A real diffusers ``StableDiffusionPipeline`` (UNet, VAE, CLIP text encoder, CLIP tokenizer,
scheduler) with small random weights, built deterministically without any download and saved
to a cache folder, from which it is loaded through ``from_pretrained`` like any model. It draws
noise-like images; it exists so that tests and the offline demo exercise the real code paths.

:func:`ensure_tiny_fast_weights` builds, the same way, what the Fast preset needs for it: a
random LCM-LoRA for the tiny UNet (diffusers LoRA format) and a random TAESD
(``AutoencoderTiny``) whose latents match the tiny VAE's.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

# Bump when the architecture or weights below change, so old caches are not reused.
TINY_VERSION = 1
TINY_SEED = 0
TINY_LABEL = "tiny (built-in test model: random weights, draws noise)"
# Bump when the tiny LCM-LoRA or TAESD below change.
TINY_FAST_VERSION = 1
#: Where the LoRA and the TAESD lie inside :func:`ensure_tiny_fast_weights`'s folder.
TINY_LCM_LORA = "lcm-lora"
TINY_TAESD = "taesd"


def tiny_model_dir(cache_dir: Path) -> Path:
    """Where the tiny model lives inside ``cache_dir`` (built on first use)."""
    return Path(cache_dir) / f"tiny-sd-v{TINY_VERSION}"


def ensure_tiny_model(cache_dir: Path) -> Path:
    """Return the tiny model's folder under ``cache_dir``, building it first if missing.

    The build is atomic: it is written to a temporary folder next to the target and renamed,
    so a crash never leaves a half-written model behind.
    """
    target = tiny_model_dir(cache_dir)
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-build-", dir=target.parent))
    try:
        build_tiny_pipeline(staging / "tokenizer-src").save_pretrained(staging / "model")
        try:
            os.replace(staging / "model", target)
        except OSError:
            if not (target / "model_index.json").is_file():  # lost no race: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def tiny_fast_dir(cache_dir: Path) -> Path:
    """Where the tiny model's Fast-preset weights live inside ``cache_dir``."""
    return Path(cache_dir) / f"tiny-sd-v{TINY_VERSION}-fast-v{TINY_FAST_VERSION}"


def ensure_tiny_fast_weights(cache_dir: Path) -> tuple[Path, Path]:
    """Return ``(lcm_lora_folder, taesd_folder)`` for the tiny model, building them first if
    missing (offline, deterministic, atomic like :func:`ensure_tiny_model`).

    The LoRA (rank 4 on the UNet's attention projections, random weights, saved as
    ``pytorch_lora_weights.safetensors`` in the diffusers format) changes the UNet's output
    the way a real LCM-LoRA would, without teaching it anything; the ``AutoencoderTiny``
    decodes the tiny VAE's 4-channel latents to pixels (8× larger).
    """
    target = tiny_fast_dir(cache_dir)
    lora, taesd = target / TINY_LCM_LORA, target / TINY_TAESD
    if (lora / "pytorch_lora_weights.safetensors").is_file() and (taesd / "config.json").is_file():
        return lora, taesd
    model = ensure_tiny_model(cache_dir)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-fast-build-", dir=target.parent))
    try:
        build_tiny_fast_weights(model, staging / "fast")
        try:
            os.replace(staging / "fast", target)
        except OSError:
            if not (target / TINY_TAESD / "config.json").is_file():  # a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return lora, taesd


def build_tiny_fast_weights(model_dir: Path, folder: Path) -> None:
    """Write the tiny LCM-LoRA and TAESD for the tiny model in ``model_dir`` under ``folder``
    (``folder/lcm-lora`` and ``folder/taesd``)."""
    import torch
    from diffusers import AutoencoderTiny, StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(model_dir, subfolder="unet")
    torch.manual_seed(TINY_SEED + 3)
    unet.add_adapter(
        LoraConfig(
            r=4,
            lora_alpha=4,
            target_modules=["to_q", "to_k", "to_v", "to_out.0"],
            init_lora_weights=False,  # random A and B: the LoRA visibly changes the output
        )
    )
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(folder / TINY_LCM_LORA, unet_lora_layers=layers)
    torch.manual_seed(TINY_SEED + 4)
    AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 1, 1, 1),
        num_decoder_blocks=(1, 1, 1, 1),
        latent_channels=4,  # as the tiny VAE
    ).save_pretrained(folder / TINY_TAESD)


def build_tiny_pipeline(tokenizer_dir: Path):  # -> StableDiffusionPipeline
    """Build the tiny pipeline in memory with seeded random weights.

    Args:
        tokenizer_dir: a scratch folder where the generated ``vocab.json`` and ``merges.txt``
            are written for the tokenizer to read.
    """
    import torch
    from diffusers import (
        AutoencoderKL,
        DPMSolverMultistepScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = build_offline_tokenizer(tokenizer_dir)

    torch.manual_seed(TINY_SEED)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=16,
    )
    torch.manual_seed(TINY_SEED + 1)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 16, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=512,
    )
    torch.manual_seed(TINY_SEED + 2)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    scheduler = DPMSolverMultistepScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        algorithm_type="dpmsolver++",
        use_karras_sigmas=True,
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def _byte_to_unicode() -> list[str]:
    """The 256 printable characters CLIP's byte-level BPE maps bytes to (GPT-2's table)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def build_offline_tokenizer(folder: Path, *, vocab_size: int | None = None):  # -> CLIPTokenizer
    """Write a character-level CLIP vocabulary and an empty merges file; load them.

    Every byte's character and its end-of-word form (``x</w>``) is a token, so any text
    tokenizes (one token per byte), and the standard CLIP special tokens exist.

    Args:
        folder: where ``vocab.json`` and ``merges.txt`` are written.
        vocab_size: pad the vocabulary with unused tokens to this size (e.g. CLIP-L's 49408,
            so ids line up with a full-size text encoder). Default: no padding (514 tokens).
    """
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = _byte_to_unicode()
    tokens = chars + [f"{char}</w>" for char in chars]
    if vocab_size is not None:
        tokens += [f"<|unused{index}|>" for index in range(vocab_size - 2 - len(tokens))]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        model_max_length=77,
        pad_token="<|endoftext|>",
    )
