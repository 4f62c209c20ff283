"""The Stable Diffusion 1.5 architecture with random weights, built without any download.

Time and memory of a forward pass do not depend on the weight values, so a pipeline built
from SD 1.5's configs (UNet 860M parameters, VAE, CLIP ViT-L/14 text encoder) stands in for
the real model in benchmarks. Modules are created on the ``meta`` device (no allocation, no
``torch.nn.init`` work), materialised directly in the target dtype, and filled with seeded,
scaled normal noise: fast, deterministic, and with activations of sane magnitude.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# SD 1.5's configs (stable-diffusion-v1-5/stable-diffusion-v1-5, unet/vae/text_encoder/
# scheduler config.json), restated so nothing is downloaded.
UNET_CONFIG: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "center_input_sample": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "down_block_types": (
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ),
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "up_block_types": (
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ),
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "act_fn": "silu",
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}
VAE_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "act_fn": "silu",
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 512,
    "scaling_factor": 0.18215,
}
TEXT_CONFIG: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "projection_dim": 768,
    "layer_norm_eps": 1e-5,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
}
PNDM_CONFIG: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
}

# SDXS-512's UNet (Song, Sun and Yin, arXiv:2403.16627, section 3.2): SD 2.1-base's UNet
# without its middle stage, its innermost down and up stages and the transformer blocks of
# the highest-resolution stage, one layer per block: 0.32 B parameters, as published. It
# reads SD 2.1's OpenCLIP ViT-H text encoder and decodes with a TAESD-architecture decoder.
SDXS_UNET_CONFIG: dict[str, Any] = {
    **UNET_CONFIG,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "mid_block_type": None,
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "block_out_channels": (320, 640, 1280),
    "layers_per_block": 1,
    "cross_attention_dim": 1024,
    "attention_head_dim": (5, 10, 20),
    "use_linear_projection": True,
}
SDXS_TEXT_CONFIG: dict[str, Any] = {
    **TEXT_CONFIG,
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 23,
    "num_attention_heads": 16,
    "hidden_act": "gelu",
    "projection_dim": 512,
}

# Parameter counts of the real SD 1.5 components (checked by build_components).
UNET_PARAMS = 859_520_964
VAE_PARAMS = 83_653_863
TEXT_PARAMS = 123_060_480
SDXS_UNET_PARAMS = 320_000_000  # "0.32 B" in the paper
SDXS_TEXT_PARAMS = 340_387_840  # SD 2.1's text encoder
BENCH_SEED = 1234


#: The architectures the benchmark builds: ``sd15`` (the 20-step default and LCM) and
#: ``sdxs`` (SDXS-512, the one-step Fast family).
MODELS = ("sd15", "sdxs")


def meta_components(model: str = "sd15") -> dict[str, Any]:
    """UNet, VAE, text encoder and TAESD of ``model`` (:data:`MODELS`, default ``sd15``)
    built on the ``meta`` device: shapes only, no memory. SDXS-512 has no VAE of its own
    size (its decoder is the TAESD one), so it has none here."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    sdxs = model == "sdxs"
    with init_empty_weights(include_buffers=False):
        components = {
            "unet": UNet2DConditionModel(**(SDXS_UNET_CONFIG if sdxs else UNET_CONFIG)),
            "text_encoder": CLIPTextModel(
                CLIPTextConfig(**(SDXS_TEXT_CONFIG if sdxs else TEXT_CONFIG))
            ),
            "taesd": AutoencoderTiny(),
        }
        if not sdxs:
            components["vae"] = AutoencoderKL(**VAE_CONFIG)
    return components


def count_params(module: Any) -> int:
    """Number of parameters of ``module`` (works on ``meta`` modules)."""
    return sum(param.numel() for param in module.parameters())


def check_param_counts(
    components: dict[str, Any], tolerance: float = 0.01, model: str = "sd15"
) -> None:
    """Raise ``AssertionError`` if a component's size is off the published one by more than
    ``tolerance`` (SD 1.5's, or SDXS-512's for ``model="sdxs"``)."""
    expected_counts = (
        (("unet", SDXS_UNET_PARAMS), ("text_encoder", SDXS_TEXT_PARAMS))
        if model == "sdxs"
        else (("unet", UNET_PARAMS), ("vae", VAE_PARAMS), ("text_encoder", TEXT_PARAMS))
    )
    for name, expected in expected_counts:
        got = count_params(components[name])
        if abs(got - expected) > tolerance * expected:
            raise AssertionError(f"{name} has {got:,} parameters; {model}'s has {expected:,}")


def materialize(module: Any, dtype: Any, seed: int) -> Any:
    """Allocate ``module``'s parameters on the CPU in ``dtype`` and fill them, seeded.

    Weights with a fan-in get N(0, 1/fan_in) values (variance-preserving, like the usual
    inits); normalisation weights get 1, biases 0. The normal values are drawn once into a
    pool of prime length and each weight takes a seeded window of it: drawing 1.1 billion
    normals would take longer than the benchmark's steps. Buffers are re-created.
    """
    import torch

    torch.nn.Module.to(module, dtype=dtype)  # diffusers' .to() warns about dtypes here
    module.to_empty(device="cpu")
    generator = torch.Generator("cpu").manual_seed(seed)
    pool = torch.randn(_POOL_SIZE, generator=generator)
    pool = torch.cat([pool, pool])  # any window of length <= _POOL_SIZE is a view
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.ndim >= 2:
                count = param.numel()
                start = int(torch.randint(_POOL_SIZE, (1,), generator=generator))
                if count <= _POOL_SIZE:
                    values = pool[start : start + count]
                else:
                    values = pool[start : start + _POOL_SIZE].repeat(count // _POOL_SIZE + 1)
                    values = values[:count]
                param.copy_(values.view(param.shape).mul(param[0].numel() ** -0.5))
            elif name.endswith("bias"):
                param.zero_()
            else:
                param.fill_(1.0)
    _restore_buffers(module)
    return module.eval().requires_grad_(False)


# A prime, so that no two rows of a weight matrix read the same window of the pool.
_POOL_SIZE = 16_777_213


def _restore_buffers(module: Any) -> None:
    """Re-create buffers that ``to_empty`` left uninitialised (CLIP's position ids)."""
    import torch

    for submodule in module.modules():
        if hasattr(submodule, "position_ids") and isinstance(submodule.position_ids, torch.Tensor):
            length = submodule.position_ids.shape[-1]
            submodule.position_ids.copy_(torch.arange(length).expand(1, -1))


def build_tokenizer(folder: Path) -> Any:
    """An offline CLIP tokenizer with SD 1.5's vocabulary size (49408) and 77-token context.

    Character-level, like the tiny model's: every byte's character and its end-of-word form
    are tokens, plus padding entries up to 49408 and CLIP's special tokens at CLIP's ids
    (start 49406, end 49407), so ids stay within the text encoder's embedding table.
    """
    from huatu.backends.tiny import build_offline_tokenizer

    return build_offline_tokenizer(folder, vocab_size=TEXT_CONFIG["vocab_size"])


def build_components(
    dtype: Any = None, *, seed: int = BENCH_SEED, model: str = "sd15"
) -> dict[str, Any]:
    """``model``'s UNet, VAE (SD 1.5 only), text encoder and a TAESD-architecture tiny VAE,
    random weights.

    Args:
        dtype: torch dtype of all weights. Default ``torch.float32``.
        seed: the weights are a function of this seed (and the dtype's rounding).
        model: one of :data:`MODELS`. Default ``sd15``.
    """
    import torch

    dtype = dtype or torch.float32
    components = meta_components(model)
    check_param_counts(components, model=model)
    for offset, name in enumerate(("unet", "vae", "text_encoder", "taesd")):
        if name in components:
            materialize(components[name], dtype, seed + offset)
    return components


def build_pipeline(
    tokenizer_dir: Path, dtype: Any = None, *, seed: int = BENCH_SEED, model: str = "sd15"
) -> Any:
    """A ``StableDiffusionPipeline`` with ``model``'s architecture (SD 1.5 by default, or
    SDXS-512), PNDM scheduler, no safety checker; the TAESD-architecture ``AutoencoderTiny``
    is attached as ``pipe.taesd`` (and is SDXS-512's VAE too).

    Args:
        tokenizer_dir: scratch folder for the generated tokenizer files.
        dtype: torch dtype of the weights. Default ``torch.float32``.
        seed: seed of the random weights.
        model: one of :data:`MODELS`. Default ``sd15``.
    """
    from diffusers import PNDMScheduler, StableDiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    components = build_components(dtype, seed=seed, model=model)
    pipe = StableDiffusionPipeline(
        vae=components.get("vae", components["taesd"]),
        text_encoder=components["text_encoder"],
        tokenizer=build_tokenizer(tokenizer_dir),
        unet=components["unet"],
        scheduler=PNDMScheduler(**PNDM_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    pipe.taesd = components["taesd"]
    return pipe
