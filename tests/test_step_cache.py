"""Step caching (DeepCache) on the tiny SD and SDXL UNets: a cached call is the full call
when the deep features are the ones kept (so the shallow branch is wired right), the deep
blocks really run only every third call (counted inside them, so caching that silently does
nothing fails), the run says so in its metadata, and nothing of it stays on the UNet.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from huatu.backends.step_cache import StepCache, can_cache
from huatu.metadata import parse_parameters
from huatu.request import GenerationRequest
from huatu.service import ImageService
from tests.single_file_support import build_tiny_sdxl

SMALL = {"width": 64, "height": 64, "seed": 3, "num_inference_steps": 9}


@contextlib.contextmanager
def deep_calls(unet) -> Iterator[list[int]]:
    """A list that grows by one each time the UNet's mid block really computes (a hook on a
    layer inside it: a skipped block does not reach its layers)."""
    calls: list[int] = []
    hook = unet.mid_block.resnets[0].register_forward_hook(lambda *args: calls.append(1))
    try:
        yield calls
    finally:
        hook.remove()


@pytest.fixture(scope="module")
def unets(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel

    folder = tmp_path_factory.mktemp("cache-sdxl")
    build_tiny_sdxl(folder / "xl", folder / "tokenizer")
    sd = UNet2DConditionModel.from_pretrained(tiny_model / "unet")
    xl = StableDiffusionXLPipeline.from_pretrained(folder / "xl").unet
    return sd, xl


def unet_inputs(unet, seed: int) -> tuple[tuple, dict]:
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randn(2, 4, 8, 8, generator=generator)
    text = torch.randn(2, 77, unet.config.cross_attention_dim, generator=generator)
    extra = {}
    if unet.config.addition_embed_type == "text_time":  # SDXL's pooled text and sizes
        pooled = unet.config.projection_class_embeddings_input_dim - 6 * (
            unet.config.addition_time_embed_dim
        )
        extra["added_cond_kwargs"] = {
            "text_embeds": torch.randn(2, pooled, generator=generator),
            "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]] * 2),
        }
    return (sample, 10, text), extra


@pytest.mark.parametrize("which", ["sd", "sdxl"])
def test_a_cached_call_is_the_full_call_on_the_kept_features(unets, which: str) -> None:
    unet = unets[0] if which == "sd" else unets[1]
    assert can_cache(unet)
    args, extra = unet_inputs(unet, seed=1)
    other, other_extra = unet_inputs(unet, seed=2)
    with deep_calls(unet) as calls, torch.no_grad():
        plain = unet(*args, **extra).sample
        cache = StepCache(unet, interval=3)
        with cache.on():
            full = unet(*args, **extra).sample
            cached = unet(*args, **extra).sample  # the deep blocks skipped
            moved = unet(*other, **other_extra).sample  # the shallow branch sees new input
        assert "forward" not in vars(unet) and "forward" not in vars(unet.mid_block)
        after = unet(*args, **extra).sample
    assert torch.equal(full, plain) and torch.equal(cached, plain) and torch.equal(after, plain)
    assert not torch.equal(moved, plain)
    assert (cache.calls, cache.full_calls) == (3, 1)
    assert len(calls) == 3  # plain, full, after: never on the cached calls


def test_a_request_with_step_caching_runs_the_deep_blocks_every_third_step(
    tiny_service: ImageService,
) -> None:
    with deep_calls(tiny_service.backend.pipe.unet) as calls:
        check_counts(tiny_service, calls)


def check_counts(tiny_service: ImageService, calls: list[int]) -> None:
    steps = SMALL["num_inference_steps"]

    def draw(**fields):
        request = GenerationRequest.create(prompt="a lighthouse", **SMALL, **fields)
        result = tiny_service.generate(request, save=False)
        return np.asarray(result.images[0]), parse_parameters(result.parameters[0]).settings

    before, plain = draw()
    assert len(calls) == steps and "Cache" not in plain
    calls.clear()
    cached, settings = draw(step_cache=True)
    assert len(calls) == math.ceil(steps / 3)
    assert settings["Cache"] == "DeepCache interval 3"
    assert not np.array_equal(cached, before)
    calls.clear()
    after, _ = draw()
    assert np.array_equal(after, before) and len(calls) == steps  # nothing stayed
    calls.clear()
    draw(step_cache=True, hires_scale=2, hires_steps=4, hires_strength=0.5)
    # each pass starts with a full call; the hires pass runs strength × steps
    assert len(calls) == math.ceil(steps / 3) + math.ceil(2 / 3)


def test_fast_decode_decodes_with_taesd_and_says_so(tiny_service: ImageService) -> None:
    def draw(**fields):
        request = GenerationRequest.create(prompt="a lighthouse", **SMALL, **fields)
        result = tiny_service.generate(request, save=False)
        return np.asarray(result.images[0]), parse_parameters(result.parameters[0]).settings

    assert tiny_service.capabilities.fast_decode
    plain, plain_settings = draw()
    fast, fast_settings = draw(fast_decode=True)
    assert plain_settings.get("VAE") != "TAESD" and fast_settings["VAE"] == "TAESD"
    assert plain.shape == fast.shape and not np.array_equal(plain, fast)
    again, _ = draw()
    assert np.array_equal(again, plain)  # the next request decodes with the VAE again
