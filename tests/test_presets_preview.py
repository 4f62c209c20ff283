"""Preset and aspect tables, the latent preview, and the fp16 black-image retry."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from huatu.backends.base import ProgressEvent
from huatu.metadata import parse_parameters
from huatu.presets import (
    ASPECT_PRESETS,
    DEFAULT_PRESET,
    QUALITY_PRESETS,
    QualityPreset,
    apply_quality_preset,
    aspect_by_id,
    matching_preset,
    quality_presets,
)
from huatu.preview import SD15_LATENT_RGB_FACTORS, latents_to_preview
from huatu.request import DEFAULT_GUIDANCE, GenerationRequest


def preset_request(preset: QualityPreset, **fields) -> GenerationRequest:
    """The request a preset makes (its guidance where it sets one, else the default)."""
    guidance = DEFAULT_GUIDANCE if preset.guidance is None else preset.guidance
    return GenerationRequest.create(
        prompt="a lighthouse",
        scheduler=preset.scheduler,
        num_inference_steps=preset.steps,
        guidance_scale=guidance,
        **fields,
    )


def test_every_preset_is_a_distinct_valid_request_and_balanced_is_the_default():
    offered = [*quality_presets(False).values(), quality_presets(True)["fast"]]
    for preset in offered:
        request = preset_request(preset)
        assert matching_preset(request.scheduler, request.num_inference_steps) == preset
    assert len({(p.scheduler, p.steps, p.guidance) for p in offered}) == len(offered)
    # a request that sets nothing is a Balanced one, and the form starts on Balanced
    default = GenerationRequest.create(prompt="a lighthouse")
    assert DEFAULT_PRESET == "balanced"
    assert (
        matching_preset(default.scheduler, default.num_inference_steps)
        == (QUALITY_PRESETS["balanced"])
    )
    assert apply_quality_preset(DEFAULT_PRESET, presets={}, guidance=DEFAULT_GUIDANCE) == (
        default.num_inference_steps,
        default.scheduler,
        default.guidance_scale,
    )


def test_a_preset_is_recorded_only_while_its_settings_are_unchanged(tiny_service):
    def recorded(request: GenerationRequest) -> str | None:
        (parameters,) = tiny_service.generate(request, save=False).parameters
        return parse_parameters(parameters).settings.get("Preset")

    size = {"width": 64, "height": 64, "seed": 1}
    presets = tiny_service.capabilities.presets  # the tiny model carries its own LCM-LoRA
    assert presets["fast"].scheduler == "lcm"
    for preset in presets.values():
        assert recorded(preset_request(preset, **size)) == preset.label
        more_steps = replace(preset, steps=preset.steps + 1)
        assert recorded(preset_request(more_steps, **size)) is None, preset
        other_sampler = replace(preset, scheduler="euler_a")
        assert recorded(preset_request(other_sampler, **size)) is None, preset
    guided = replace(presets["fast"], guidance=DEFAULT_GUIDANCE)  # LCM with guidance back on
    assert recorded(preset_request(guided, **size)) is None


def test_aspect_presets_are_valid_sizes_labelled_with_their_ratio():
    for aspect in ASPECT_PRESETS:
        GenerationRequest.create(prompt="a", width=aspect.width, height=aspect.height)
        w, h = (int(x) for x in aspect.ratio.split(":"))
        assert abs(aspect.width / aspect.height - w / h) < 0.01, aspect
        assert aspect.label == f"{aspect.ratio} · {aspect.width}×{aspect.height}"
        assert aspect_by_id(aspect.id) == aspect
    assert {a.id for a in ASPECT_PRESETS} >= {"512x512", "512x768", "768x512", "640x448", "448x640"}
    assert aspect_by_id("13x17") is None


def test_preview_projects_each_latent_channel_with_the_fixed_factors():
    factors = torch.tensor(SD15_LATENT_RGB_FACTORS)
    for channel in range(4):
        latents = torch.zeros(1, 4, 8, 16)
        latents[0, channel] = 1.0
        image = latents_to_preview(latents, max_side=16)
        assert image.size == (16, 8)
        expected = ((factors[channel] + 1) / 2).clamp(0, 1).mul(255).round().numpy()
        assert np.allclose(np.asarray(image)[3, 5], expected, atol=1)


def test_preview_is_upscaled_and_clamped():
    latents = torch.full((2, 4, 64, 96), 50.0, dtype=torch.bfloat16)
    image = latents_to_preview(latents)
    assert image.size == (256, 171) or image.size == (256, 170)
    assert set(np.unique(np.asarray(image))) <= {0, 255}


def test_previews_arrive_every_n_steps_and_at_the_end(tiny_service):
    events: list[ProgressEvent] = []
    request = GenerationRequest.create(
        prompt="a dog", num_inference_steps=5, width=128, height=128, seed=1
    )
    tiny_service.backend.generate(request, progress=events.append, preview_every=2)
    with_preview = [e.step for e in events if e.preview is not None]
    assert with_preview == [2, 4, 5]
    assert events[4].preview.size == (256, 256)  # the last: the linear projection, upscaled


def test_previews_come_from_taesd_once_it_is_at_hand_except_the_last(base_settings):
    """A run decoded by TAESD (fast decode) previews with TAESD, as do later runs once it is
    loaded; before that, and on the last step (the image follows), the linear projection. At
    128×128 TAESD's preview is the image's size, the projection's is upscaled to 256."""
    from huatu.backends.local import LocalBackend

    backend = LocalBackend("tiny", base_settings)

    def preview_sizes(**fields) -> list[tuple[int, int]]:
        events: list[ProgressEvent] = []
        request = GenerationRequest.create(
            prompt="a fox", num_inference_steps=4, width=128, height=128, seed=3, **fields
        )
        backend.generate(request, progress=events.append, preview_every=1)
        return [event.preview.size for event in events]

    linear, taesd = (256, 256), (128, 128)
    assert preview_sizes() == [linear] * 4  # TAESD not loaded: not loaded for a preview
    assert preview_sizes(fast_decode=True) == [taesd] * 3 + [linear]
    assert preview_sizes() == [taesd] * 3 + [linear]  # loaded now


def test_a_taesd_preview_decodes_only_the_pixels_shown():
    from huatu.preview import taesd_preview

    seen: list[tuple[int, ...]] = []

    def decode(latent: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(latent.shape))
        return torch.ones(1, 3, latent.shape[-2] * 8, latent.shape[-1] * 8)

    image = taesd_preview(decode, torch.randn(2, 4, 64, 96))  # a 768×512 image's latents
    assert seen == [(1, 4, 21, 32)] and image.size == (256, 168)
    assert set(np.unique(np.asarray(image))) == {255}  # 1.0 is white
    small = taesd_preview(decode, torch.randn(1, 4, 16, 16))  # 128×128: decoded as it is
    assert seen[-1] == (1, 4, 16, 16) and small.size == (128, 128)


@pytest.mark.skipif(
    not hasattr(torch.ops.aten, "_slow_conv2d_forward"), reason="no fp16 conv on this CPU build"
)
def test_fp16_overflow_in_the_vae_is_decoded_again_in_fp32(settings):
    from huatu.backends.local import LocalBackend
    from huatu.backends.selection import BackendChoice
    from huatu.service import ImageService

    backend = LocalBackend("tiny", replace(settings, dtype="float16"))
    with torch.no_grad():  # push the decoder's activations past fp16's 65504
        backend.pipe.vae.decoder.conv_in.weight.mul_(3e4)
    service = ImageService(settings, BackendChoice("local", "tiny", "test"), backend)
    request = GenerationRequest.create(
        prompt="a dog", num_inference_steps=2, width=64, height=64, seed=3
    )
    result = service.generate(request, save=False)
    assert [n.key for n in result.notices] == ["vae_fp32_retry"]
    assert result.notices[0].params["dtype"] == "float16"
    assert backend.pipe.vae.dtype == torch.float16  # put back after the retry
    assert np.asarray(result.images[0]).std() > 0  # not a black square


def test_balanced_ticks_faster_only_where_the_backend_caches_and_steps_are_many():
    from huatu.models.families import FAMILIES
    from huatu.presets import preset_caches

    sd = quality_presets()
    assert preset_caches("balanced", presets=sd, available=True)
    assert not preset_caches("balanced", presets=sd, available=False)  # hosted, compiled
    assert not preset_caches("quality", presets=sd, available=True)
    assert not preset_caches("fast", presets=sd, available=True)
    assert preset_caches(
        "balanced", presets=quality_presets(family=FAMILIES["sdxl"]), available=True
    )
    turbo = quality_presets(family=FAMILIES["sd-turbo"])  # one step: nothing to reuse
    assert not preset_caches("balanced", presets=turbo, available=True)
