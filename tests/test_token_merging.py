"""Token merging (ToMe, part of "Faster" where the CPU runs bf16) on the tiny SD UNet: the
full-resolution self-attention really sees half the tokens during a run (counted inside it, so
merging that silently does nothing fails), the image of a seed is the same every time, the run
says so in its metadata, and nothing of it stays on the UNet."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from huatu.backends.token_merging import merges_tokens, token_merging
from huatu.config import Settings
from huatu.device import DevicePlan
from huatu.messages import Notice
from huatu.metadata import parse_parameters
from huatu.request import GenerationRequest
from huatu.service import ImageService

SMALL = {"width": 64, "height": 64, "seed": 5, "num_inference_steps": 6}


@pytest.fixture(scope="module")
def attention_first(
    base_settings: Settings, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> ImageService:
    """A service on ``tiny-attn``: the tiny model with its UNet's levels the other way round
    (attention at full resolution, as in SD 1.5, where ToMe merges; the tiny model has it only
    at the lower level, as SDXL does), seeded random weights."""
    import shutil

    from diffusers import UNet2DConditionModel

    models = tmp_path_factory.mktemp("tome-models")
    folder = models / "Stable-diffusion" / "tiny-attn"
    shutil.copytree(tiny_model, folder)
    config = dict(UNet2DConditionModel.load_config(tiny_model / "unet"))
    config["down_block_types"] = ["CrossAttnDownBlock2D", "DownBlock2D"]
    config["up_block_types"] = ["UpBlock2D", "CrossAttnUpBlock2D"]
    shutil.rmtree(folder / "unet")
    with torch.random.fork_rng():  # seeded weights, the process's generator left as it was
        torch.manual_seed(0)
        UNet2DConditionModel.from_config(config).save_pretrained(folder / "unet")
    service = ImageService.start(
        replace(base_settings, models_dir=models), model="tiny-attn", backend="local"
    )
    assert service.backend is not None, service.load_error
    return service


@contextlib.contextmanager
def self_attention_tokens(unet) -> Iterator[list[int]]:
    """The token counts the first full-resolution self-attention is called with."""
    seen: list[int] = []
    block = unet.down_blocks[0].attentions[0].transformer_blocks[0]
    hook = block.attn1.register_forward_pre_hook(lambda _, args: seen.append(args[0].shape[1]))
    try:
        yield seen
    finally:
        hook.remove()


def test_the_self_attention_sees_half_the_tokens_and_the_unet_is_untouched_after(
    attention_first: ImageService,
) -> None:
    unet = attention_first.backend.pipe.unet
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 4, 8, 8, generator=generator)
    text = torch.randn(2, 77, unet.config.cross_attention_dim, generator=generator)
    blocks = [type(module) for module in unet.modules()]
    with torch.inference_mode(), self_attention_tokens(unet) as seen:
        before = unet(sample, 10, text).sample
        with token_merging(unet, seed=1):
            merged = unet(sample, 10, text).sample
        after = unet(sample, 10, text).sample
    assert seen == [64, 32, 64]  # 8×8 latents: half the tokens merged away, then all again
    assert not torch.equal(merged, before)
    assert torch.equal(after, before) and [type(m) for m in unet.modules()] == blocks


def test_only_bf16_cpus_with_full_resolution_attention_merge(
    attention_first: ImageService, tiny_service: ImageService
) -> None:
    unet = attention_first.backend.pipe.unet
    reason = Notice("device_reason_cpu")
    assert merges_tokens(unet, DevicePlan("cpu", "bfloat16", reason))
    assert not merges_tokens(unet, DevicePlan("cpu", "float32", reason))
    assert not merges_tokens(unet, DevicePlan("cuda", "float16", reason))
    # the tiny model, like SDXL, has no attention at full resolution: nothing to merge there
    assert not merges_tokens(tiny_service.backend.pipe.unet, DevicePlan("cpu", "bfloat16", reason))


def test_faster_merges_tokens_where_the_backend_does_and_a_seed_keeps_its_image(
    attention_first: ImageService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on a bf16 CPU (the backend's own switch set): "Faster" runs merge tokens, say
    ``Token merging ratio: 0.5`` beside the cache, make the same image for the same seed
    whatever the process's global generator did in between, and leave plain runs as they
    were."""
    unet = attention_first.backend.pipe.unet

    def draw(**fields) -> tuple[np.ndarray, dict[str, str]]:
        request = GenerationRequest.create(prompt="a lighthouse", **SMALL, **fields)
        result = attention_first.generate(request, save=False)
        return np.asarray(result.images[0]), parse_parameters(result.parameters[0]).settings

    plain, plain_settings = draw()
    cached, cached_settings = draw(step_cache=True)
    assert "Token merging ratio" not in cached_settings  # fp32 here: caching only
    monkeypatch.setattr(attention_first.backend, "merges_tokens", True)
    with self_attention_tokens(unet) as seen:
        merged, settings = draw(step_cache=True)
    assert settings["Token merging ratio"] == "0.5" and settings["Cache"].startswith("DeepCache")
    assert seen and set(seen) == {32}  # 8×8 latents, every call merged
    assert not np.array_equal(merged, cached)
    torch.manual_seed(1234)  # the global generator moved: the merging does not follow it
    again, _ = draw(step_cache=True)
    assert np.array_equal(again, merged)
    after, after_settings = draw()
    assert np.array_equal(after, plain) and "Token merging ratio" not in after_settings
    assert "Token merging ratio" not in plain_settings
    with self_attention_tokens(unet) as seen:  # a hires pass: latents of another size
        hires, settings = draw(step_cache=True, hires_scale=2, hires_steps=2, hires_strength=0.5)
    assert hires.shape == (128, 128, 3) and settings["Token merging ratio"] == "0.5"
    assert set(seen) == {32, 128}  # 8×8 then 16×16 latents, half of each
