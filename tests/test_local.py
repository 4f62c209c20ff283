"""The local backend and the service, on the real tiny diffusers pipeline."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from huatu.backends.base import CancelToken, ProgressEvent
from huatu.backends.tiny import build_tiny_pipeline, ensure_tiny_model
from huatu.errors import BackendUnavailableError, GenerationCancelled
from huatu.messages import Notice
from huatu.metadata import parse_parameters, read_parameters
from huatu.request import GenerationRequest
from huatu.schedulers import SCHEDULERS
from huatu.service import ImageService

FAST = {"num_inference_steps": 3, "width": 128, "height": 128}


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def request(**fields) -> GenerationRequest:
    return GenerationRequest.create(**{"prompt": "a dog in a park", **FAST, **fields})


def test_tiny_model_is_built_deterministically_and_loads_from_disk(tmp_path: Path, tiny_service):
    first = build_tiny_pipeline(tmp_path / "tok1")
    second = build_tiny_pipeline(tmp_path / "tok2")
    for name in ("unet", "vae", "text_encoder"):
        a = getattr(first, name).state_dict()
        b = getattr(second, name).state_dict()
        assert all(np.array_equal(a[key].numpy(), b[key].numpy()) for key in a), name
    folder = ensure_tiny_model(tiny_service.settings.cache_dir)
    assert (folder / "model_index.json").is_file()
    assert (folder / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert tiny_service.backend.pipe.__class__.__name__ == "StableDiffusionPipeline"


def test_same_seed_same_image_and_different_seeds_differ(tiny_service):
    backend = tiny_service.backend
    a = backend.generate(request(seed=1234))
    b = backend.generate(request(seed=1234))
    c = backend.generate(request(seed=1235))
    assert a.seeds == [1234] and c.seeds == [1235]
    assert a.images[0].size == (128, 128)
    assert np.array_equal(pixels(a.images[0]), pixels(b.images[0]))
    assert np.abs(pixels(a.images[0]) - pixels(c.images[0])).mean() > 1.0


def test_several_images_use_consecutive_seeds(tiny_service):
    output = tiny_service.backend.generate(request(seed=40, num_images=2))
    assert output.seeds == [40, 41] and len(output.images) == 2
    assert np.abs(pixels(output.images[0]) - pixels(output.images[1])).mean() > 1.0


def test_progress_is_reported_once_per_step(tiny_service):
    events: list[ProgressEvent] = []
    tiny_service.backend.generate(request(seed=1, num_inference_steps=5), progress=events.append)
    assert [(e.step, e.total) for e in events] == [(i, 5) for i in range(1, 6)]


def test_cancel_stops_within_one_step(tiny_service):
    cancel = CancelToken()
    events: list[ProgressEvent] = []

    def on_progress(event: ProgressEvent) -> None:
        events.append(event)
        if event.step == 2:
            cancel.cancel()

    with pytest.raises(GenerationCancelled):
        tiny_service.backend.generate(
            request(seed=1, num_inference_steps=20), progress=on_progress, cancel=cancel
        )
    assert [e.step for e in events] == [1, 2]
    # The worker is free again: the next request runs to the end.
    assert len(tiny_service.backend.generate(request(seed=2)).images) == 1


@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
def test_every_scheduler_runs_and_is_used(tiny_service, scheduler):
    output = tiny_service.backend.generate(request(seed=5, scheduler=scheduler))
    assert len(output.images) == 1
    assert type(tiny_service.backend.pipe.scheduler).__name__ == SCHEDULERS[scheduler].class_name


def test_switching_scheduler_changes_the_image(tiny_service):
    euler_a = tiny_service.backend.generate(request(seed=5, scheduler="euler_a"))
    ddim = tiny_service.backend.generate(request(seed=5, scheduler="ddim"))
    assert np.abs(pixels(euler_a.images[0]) - pixels(ddim.images[0])).mean() > 0.5


def test_service_saves_png_with_parameters(tiny_service, settings):
    service = ImageService(settings, tiny_service.choice, tiny_service.backend)
    result = service.generate(request(seed=77, negative_prompt="blurry", num_images=2))
    assert result.seeds == [77, 78] and len(result.paths) == 2
    for path, seed in zip(result.paths, result.seeds, strict=True):
        assert path.is_file() and path.suffix == ".png"
        assert path.is_relative_to(settings.outputs_dir)
        parsed = parse_parameters(read_parameters(path))
        fields = parsed.to_request_fields()
        assert fields["prompt"] == "a dog in a park" and fields["negative_prompt"] == "blurry"
        assert fields["seed"] == seed and fields["num_inference_steps"] == 3
        assert fields["width"] == 128 and fields["scheduler"] == "dpmpp_2m_karras"
        assert parsed.settings["Model"] == "tiny"


def test_random_seed_is_drawn_and_reported(tiny_service, settings):
    service = ImageService(settings, tiny_service.choice, tiny_service.backend)
    result = service.generate(request(seed=-1), save=False)
    assert result.request.seed == result.seeds[0] and 0 <= result.seeds[0] <= 2**32 - 1
    assert result.paths == []


def test_chinese_prompts_give_a_notice_and_long_ones_none(tiny_service, settings):
    service = ImageService(settings, tiny_service.choice, tiny_service.backend)
    result = service.generate(request(prompt="公园里的一只狗", seed=3), save=False)
    assert [n.key for n in result.notices] == ["non_english_prompt"]
    long_prompt = "a very detailed painting of a dog in a park, " * 3
    assert tiny_service.backend.token_count(long_prompt) > 75
    result = service.generate(request(prompt=long_prompt, seed=3), save=False)
    assert result.notices == []  # encoded in 75-token chunks: nothing is ignored


def test_unloadable_model_still_starts_and_says_what_to_do(base_settings):
    service = ImageService.start(
        replace(base_settings, hf_api_key=None), model="nobody/no-such-model", backend="local"
    )
    assert service.backend is None
    said = str(service.load_error)
    assert "--model tiny" in said and "HF_API_KEY" in said
    assert "--model tiny" in service.load_error.render("zh-CN")  # by key, in either language
    with pytest.raises(BackendUnavailableError, match="nobody/no-such-model"):
        service.generate(request())


def test_folder_without_model_index_is_explained(base_settings, tmp_path: Path):
    service = ImageService.start(base_settings, model=str(tmp_path), backend="local")
    assert "not a diffusers model folder" in str(service.load_error)


def test_hosted_without_key_still_starts_and_says_what_to_do(base_settings):
    service = ImageService.start(
        replace(base_settings, hf_api_key=None), model="some/model", backend="hosted"
    )
    assert service.backend is None and "HF_API_KEY" in str(service.load_error)


def _with_safety_checker(backend, threshold: float):
    """Give ``backend``'s pipeline a real (tiny, random) CLIP safety checker.

    Every concept's threshold is ``threshold``: cosine scores lie in [-1, 1], so -2 flags
    every image and 2 flags none.
    """
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=8,
    )
    checker = StableDiffusionSafetyChecker(config).to(backend.pipe.dtype)
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(threshold)
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32)
    backend.pipe.register_modules(safety_checker=checker, feature_extractor=processor)


def test_safety_checker_hits_are_reported_not_shown_as_black(settings):
    from huatu.backends.local import LocalBackend
    from huatu.backends.selection import BackendChoice
    from huatu.errors import SafetyCheckerFlagged

    backend = LocalBackend("tiny", settings)
    service = ImageService(settings, BackendChoice("local", "tiny", Notice("choice_tiny")), backend)
    _with_safety_checker(backend, threshold=2.0)
    kept = service.generate(request(seed=8, num_images=2))
    assert len(kept.images) == 2 and kept.notices == []
    _with_safety_checker(backend, threshold=-2.0)
    with pytest.raises(SafetyCheckerFlagged, match="2 of 2 images were flagged"):
        service.generate(request(seed=8, num_images=2))
    assert len(list(settings.outputs_dir.rglob("*.png"))) == 2  # nothing black was saved
