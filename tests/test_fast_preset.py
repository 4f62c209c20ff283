"""The Fast preset: LCM scheduler + LCM-LoRA + TAESD decode, on the tiny model, offline."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from huatu.backends.base import ProgressEvent
from huatu.backends.fast import (
    DEFAULT_LCM_LORA,
    DEFAULT_TAESD,
    LORA_WEIGHT_NAME,
    FastPathUnavailable,
)
from huatu.backends.local import LocalBackend
from huatu.backends.selection import BackendChoice
from huatu.backends.tiny import ensure_tiny_fast_weights
from huatu.messages import CATALOG, Notice, render
from huatu.metadata import parse_parameters
from huatu.presets import (
    LCM_FAST_PRESET,
    QUALITY_PRESETS,
    apply_quality_preset,
    matching_preset,
    quality_presets,
)
from huatu.request import GenerationRequest
from huatu.schedulers import SCHEDULERS, scheduler_id_from_label
from huatu.service import ImageService

SMALL = {"prompt": "a dog in a park", "width": 128, "height": 128, "seed": 11}


def request(**fields) -> GenerationRequest:
    return GenerationRequest.create(**{**SMALL, "num_inference_steps": 3, **fields})


def lcm_request(**fields) -> GenerationRequest:
    return request(
        **{"scheduler": "lcm", "num_inference_steps": 4, "guidance_scale": 1.0, **fields}
    )


def pixels(output) -> np.ndarray:
    return np.asarray(output.images[0].convert("RGB"), dtype=np.int16)


@pytest.fixture(scope="module")
def backend(base_settings) -> LocalBackend:
    """A tiny-model backend of this module's own (it loads the LoRA into its pipeline)."""
    return LocalBackend("tiny", base_settings)


@pytest.fixture
def empty_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache (HF_HUB_OFFLINE=1 comes from conftest)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def unet_output(backend: LocalBackend) -> torch.Tensor:
    """One UNet forward on fixed inputs."""
    unet = backend.pipe.unet
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(1, 4, 16, 16, generator=generator).to(unet.dtype)
    text = torch.randn(1, 77, unet.config.cross_attention_dim, generator=generator)
    with torch.no_grad():
        output = unet(latents, 500, encoder_hidden_states=text.to(unet.dtype), return_dict=False)
    return output[0].float()


def test_lcm_runs_four_unet_passes_without_cfg_and_decodes_with_taesd(backend, monkeypatch):
    from diffusers import AutoencoderTiny

    assert backend.fast_available
    calls: list[int] = []
    original_forward = type(backend.pipe.unet).forward

    def counting_forward(unet, sample, *args, **kwargs):
        calls.append(sample.shape[0])
        return original_forward(unet, sample, *args, **kwargs)

    decoded: list[tuple] = []
    original_decode = AutoencoderTiny.decode

    def spying_decode(taesd, latents, *args, **kwargs):
        decoded.append(tuple(latents.shape))
        return original_decode(taesd, latents, *args, **kwargs)

    def no_vae(*args, **kwargs):
        raise AssertionError("the full VAE must not decode an lcm request")

    monkeypatch.setattr(type(backend.pipe.unet), "forward", counting_forward)
    monkeypatch.setattr(AutoencoderTiny, "decode", spying_decode)
    monkeypatch.setattr(backend.pipe.vae, "decode", no_vae)
    events: list[ProgressEvent] = []
    output = backend.generate(lcm_request(num_images=2), progress=events.append)

    assert [image.size for image in output.images] == [(128, 128)] * 2
    assert output.seeds == [11, 12] and output.notices == []
    assert calls == [2, 2, 2, 2]  # 4 steps, batch 2 images: guidance 1 means no CFG
    assert [(e.step, e.total) for e in events] == [(i, 4) for i in range(1, 5)]
    assert decoded == [(2, 4, 16, 16)]
    assert type(backend.pipe.scheduler).__name__ == "LCMScheduler"
    assert backend.metadata_fields(lcm_request()) == {"VAE": "TAESD"}
    assert backend.metadata_fields(request()) == {}


def test_the_lora_changes_lcm_requests_and_leaves_the_others_exactly_alone(backend, monkeypatch):
    before = backend.generate(request(scheduler="euler"))
    backend.generate(lcm_request())
    after = backend.generate(request(scheduler="euler"))
    assert np.array_equal(pixels(before), pixels(after))

    # The UNet itself: LoRA on for lcm, off again for the rest, bit for bit.
    backend.fast.use_lora(False)
    off = unet_output(backend)
    backend.fast.use_lora(True)
    on = unet_output(backend)
    backend.fast.use_lora(False)
    assert not torch.allclose(off, on, atol=1e-3)
    assert torch.equal(off, unet_output(backend))

    # The same lcm request with the LoRA kept off ends in other latents.
    latents: list[torch.Tensor] = []
    fast_type = type(backend.fast)
    decode, use_lora = fast_type.decode, fast_type.use_lora
    monkeypatch.setattr(fast_type, "decode", lambda fast, x: latents.append(x) or decode(fast, x))
    backend.generate(lcm_request())
    monkeypatch.setattr(fast_type, "use_lora", lambda fast, enabled: use_lora(fast, False))
    backend.generate(lcm_request())
    with_lora, without_lora = (x.float() for x in latents)
    assert (with_lora - without_lora).abs().mean() > 0.05 * with_lora.abs().mean()


def test_high_guidance_with_lcm_gives_a_notice_not_an_error(backend):
    output = backend.generate(lcm_request(guidance_scale=7.0))
    assert len(output.images) == 1
    (notice,) = output.notices
    assert notice.key == "lcm_guidance"
    assert "7" in render(notice) and "2" in render(notice)
    assert "引导" in render(notice, "zh-CN")
    assert backend.generate(lcm_request(guidance_scale=2.0)).notices == []


def test_lora_that_cannot_be_had_fails_clearly_once_and_other_requests_still_run(
    base_settings, empty_hub_cache, monkeypatch
):
    backend = LocalBackend("tiny", base_settings, lcm_lora=DEFAULT_LCM_LORA)
    assert not backend.fast_available  # offline, nothing cached: known without a download
    assert backend.capabilities.presets["fast"] == QUALITY_PRESETS["fast"]
    assert DEFAULT_LCM_LORA in render(backend.capabilities.preset_notes["fast"])
    before = backend.generate(request())
    loads: list[str] = []
    original = backend.pipe.load_lora_weights
    monkeypatch.setattr(
        backend.pipe,
        "load_lora_weights",
        lambda source, **kw: loads.append(source) or original(source, **kw),
    )
    with pytest.raises(FastPathUnavailable) as caught:
        backend.generate(lcm_request())
    message = str(caught.value)
    assert DEFAULT_LCM_LORA in message and "Balanced" in message and "connect" in message
    assert DEFAULT_LCM_LORA in caught.value.render("zh-CN")
    assert "均衡" in caught.value.render("zh-CN")
    with pytest.raises(FastPathUnavailable):  # remembered: no second download attempt
        backend.generate(lcm_request())
    assert loads == [DEFAULT_LCM_LORA]
    assert not backend.fast_available
    after = backend.generate(request())
    assert np.array_equal(pixels(before), pixels(after))


def test_a_broken_lora_on_disk_is_refused_and_leaves_the_pipeline_clean(
    base_settings, tmp_path: Path
):
    from safetensors.torch import load_file, save_file

    lora, _ = ensure_tiny_fast_weights(base_settings.cache_dir)
    weights = load_file(lora / LORA_WEIGHT_NAME)
    last = sorted(weights)[-1]
    weights[last] = torch.zeros(7, 3)  # the wrong shape for the tiny UNet
    (tmp_path / "broken").mkdir()
    save_file(weights, tmp_path / "broken" / LORA_WEIGHT_NAME)
    backend = LocalBackend("tiny", base_settings, lcm_lora=str(tmp_path / "broken"))
    assert backend.fast_available  # it is on disk: found broken only when loaded
    before = backend.generate(request())
    with pytest.raises(FastPathUnavailable):
        backend.generate(lcm_request())
    assert not backend.fast_available
    assert np.array_equal(pixels(before), pixels(backend.generate(request())))


def test_missing_taesd_falls_back_to_the_full_vae_with_a_notice(base_settings, tmp_path: Path):
    backend = LocalBackend("tiny", base_settings, taesd=str(tmp_path / "no-taesd"))
    assert backend.fast_available  # TAESD alone does not block the Fast preset
    output = backend.generate(lcm_request())
    assert len(output.images) == 1
    assert [notice.key for notice in output.notices] == ["taesd_unavailable"]
    assert "VAE" in render(output.notices[0]) and "VAE" in render(output.notices[0], "zh-CN")
    assert backend.metadata_fields(lcm_request()) == {}


def test_weights_downloaded_once_load_from_the_hub_cache_offline(
    base_settings, empty_hub_cache: Path
):
    lora, taesd = ensure_tiny_fast_weights(base_settings.cache_dir)
    commit = "0" * 40
    for repo, folder in ((DEFAULT_LCM_LORA, lora), (DEFAULT_TAESD, taesd)):
        cached = empty_hub_cache / ("models--" + repo.replace("/", "--"))
        (cached / "refs").mkdir(parents=True)
        (cached / "refs" / "main").write_text(commit)
        shutil.copytree(folder, cached / "snapshots" / commit)
    backend = LocalBackend("tiny", base_settings, lcm_lora=DEFAULT_LCM_LORA, taesd=DEFAULT_TAESD)
    assert backend.fast.sources.lcm_lora == DEFAULT_LCM_LORA
    assert backend.fast_available
    output = backend.generate(lcm_request())
    assert len(output.images) == 1 and output.notices == []
    assert backend.metadata_fields(lcm_request()) == {"VAE": "TAESD"}


def test_fast_preset_is_lcm_when_available_and_dpm_otherwise():
    with_lcm, without = quality_presets(fast_available=True), quality_presets(fast_available=False)
    assert with_lcm["fast"] == LCM_FAST_PRESET
    assert (LCM_FAST_PRESET.scheduler, LCM_FAST_PRESET.steps) == ("lcm", 4)
    assert LCM_FAST_PRESET.guidance == 1.0
    fallback = without["fast"]
    assert (fallback.scheduler, fallback.steps, fallback.guidance) == ("dpmpp_2m_karras", 12, None)
    assert with_lcm["balanced"] == QUALITY_PRESETS["balanced"]
    assert apply_quality_preset("fast", presets=with_lcm, guidance=7.5) == (4, "lcm", 1.0)
    assert apply_quality_preset("fast", presets=without, guidance=7.5) == (
        12,
        "dpmpp_2m_karras",
        7.5,
    )
    # leaving LCM's guidance 1.0 for another preset restores the default guidance
    assert apply_quality_preset("balanced", presets=with_lcm, guidance=1.0) == (
        20,
        "dpmpp_2m_karras",
        7.0,
    )
    assert apply_quality_preset("quality", presets=with_lcm, guidance=5.0)[2] == 5.0


def test_metadata_names_the_preset_only_for_its_own_settings():
    assert matching_preset("lcm", 4) == LCM_FAST_PRESET
    assert matching_preset("lcm", 4, guidance=1.0) == LCM_FAST_PRESET
    assert matching_preset("lcm", 4, guidance=7.0) is None
    assert matching_preset("lcm", 6) is None
    assert matching_preset("dpmpp_2m_karras", 12, guidance=7.0) == QUALITY_PRESETS["fast"]


def test_validator_and_metadata_know_lcm():
    assert GenerationRequest.create(prompt="a", scheduler="lcm").scheduler == "lcm"
    assert SCHEDULERS["lcm"].label == "LCM" and SCHEDULERS["lcm"].class_name == "LCMScheduler"
    assert scheduler_id_from_label("LCM") == "lcm"
    keys = ("fast_unavailable", "taesd_unavailable", "lcm_guidance", "lcm_not_hosted")
    for key in (*keys, "fast_preset_fallback"):
        assert key in CATALOG["en"] and key in CATALOG["zh-CN"]


def test_service_writes_sampler_and_preset(backend, settings):
    service = ImageService(settings, BackendChoice("local", "tiny", Notice("choice_tiny")), backend)
    result = service.generate(lcm_request(), save=False)
    parsed = parse_parameters(result.parameters[0])
    assert parsed.settings["Sampler"] == "LCM"
    assert parsed.settings["Preset"] == "Fast"
    assert parsed.to_request_fields()["scheduler"] == "lcm"


def test_hosted_backend_never_offers_the_lcm_fast_preset(base_settings):
    from huatu.backends.hosted import HostedBackend

    hosted = HostedBackend(replace(base_settings, hf_api_key="hf_test"))
    assert hosted.capabilities.presets["fast"] == QUALITY_PRESETS["fast"]
    assert "lcm" not in hosted.capabilities.schedulers  # nor records a preset as run


def test_choosing_fast_in_the_studio_says_why_it_falls_back(base_settings, monkeypatch):
    """Without the LCM-LoRA weights the studio's Fast preset is 12 DPM++ steps, and the
    person is told which weights are missing."""
    from huatu.ui.handlers import StudioHandlers

    missing = LocalBackend("tiny", base_settings, lcm_lora=DEFAULT_LCM_LORA)
    service = ImageService(
        base_settings, BackendChoice("local", "tiny", Notice("choice_tiny")), missing
    )
    told: list[str] = []
    monkeypatch.setattr("gradio.Info", told.append)
    steps, scheduler, guidance, caches = StudioHandlers(service).apply_preset("fast", 7.0)
    assert (steps, scheduler, guidance, caches) == (12, "dpmpp_2m_karras", 7.0, False)
    assert len(told) == 1 and DEFAULT_LCM_LORA in told[0] and "12 steps" in told[0]
    with_weights = StudioHandlers(
        ImageService(
            base_settings,
            BackendChoice("local", "tiny", Notice("choice_tiny")),
            LocalBackend("tiny", base_settings),
        )
    )
    assert with_weights.apply_preset("fast", 7.0) == (4, "lcm", 1.0, False)
    # Balanced ticks "Faster" (step caching) where the backend caches; Quality does not
    assert with_weights.service.capabilities.step_cache
    assert with_weights.apply_preset("balanced", 1.0) == (20, "dpmpp_2m_karras", 7.0, True)
    assert with_weights.apply_preset("quality", 7.0)[3] is False
    assert len(told) == 1


def _checkpoint_header_file(path: Path, *, sd2: bool) -> Path:
    """A small ``.safetensors`` file whose tensors name and shape like a full-size SD 1.x or
    2.x checkpoint's (what recognising a file reads; the values are zeros)."""
    from safetensors.torch import save_file

    from huatu.models.recognise import SD1_TEXT, SD2_TEXT, UNET_IN

    text = SD2_TEXT if sd2 else SD1_TEXT
    save_file({UNET_IN: torch.zeros(320, 4, 3, 3), text: torch.zeros(2, 2)}, str(path))
    return path


def test_fast_on_a_many_step_model_names_the_one_step_model_to_download_or_switch_to(
    settings, tmp_path, monkeypatch
):
    """Fast on an SD 1.5 model is 4 whole UNet calls: the studio names SDXS-512 to download
    (the model list offers it) when no one-step model is here; one found in the models
    folders or in huggingface_hub's cache to switch to otherwise; nothing on a few-step
    model or the test model."""
    from huggingface_hub import constants

    from huatu.models.download import RECOMMENDED
    from huatu.models.families import FAMILIES
    from huatu.models.fast_advice import ONE_STEP_DOWNLOAD, fast_advice
    from huatu.models.folders import library_for

    hub_cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_cache))
    checkpoints = settings.models_dir / "Stable-diffusion"
    checkpoints.mkdir(parents=True, exist_ok=True)
    _checkpoint_header_file(checkpoints / "dream.safetensors", sd2=False)  # many steps
    library_for(settings).refresh()
    sd1 = FAMILIES["sd1"]
    advice = fast_advice(settings, sd1, "dream.safetensors")
    assert advice is not None and advice.key == "fast_download_one_step"
    assert ONE_STEP_DOWNLOAD in {item.id for item in RECOMMENDED}  # offered in the model list
    for language in ("en", "zh"):
        assert f"⬇ {ONE_STEP_DOWNLOAD}" in render(advice, language)

    # a one-step checkpoint in the models folder: SD 2.x tensors, "turbo" in its name
    _checkpoint_header_file(checkpoints / "sd_turbo.safetensors", sd2=True)
    library_for(settings).refresh()
    advice = fast_advice(settings, sd1, "dream.safetensors")
    assert advice.key == "fast_switch_one_step"
    assert "sd_turbo.safetensors" in render(advice) and "dream" not in render(advice)
    assert fast_advice(settings, FAMILIES["sd-turbo"], "sd_turbo.safetensors") is None
    assert fast_advice(settings, FAMILIES["tiny"], "tiny") is None

    # a recommended one-step model in huggingface_hub's cache counts as here too
    (checkpoints / "sd_turbo.safetensors").unlink()
    library_for(settings).refresh()
    repo = hub_cache / f"models--{ONE_STEP_DOWNLOAD.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "model_index.json").write_text("{}")
    advice = fast_advice(settings, sd1, "dream.safetensors")
    assert advice.key == "fast_switch_one_step" and ONE_STEP_DOWNLOAD in render(advice, "zh")


def test_an_sdxs_folder_is_the_one_step_family_whichever_text_encoder_it_reads():
    """SDXS-512-0.9 reads SD 2.1's text encoder (1024 wide), its DreamShaper version SD 1.5's:
    both are the one-step ``sdxs`` family by their name."""
    from huatu.models.recognise import recognise_configs

    for width in (768, 1024):
        found = recognise_configs(
            "sdxs-512-0.9",
            "StableDiffusionPipeline",
            unet={"block_out_channels": [320, 640, 1280]},
            text={"hidden_size": width},
            scheduler={},
        )
        assert found.family == "sdxs"


def test_choosing_fast_in_the_studio_tells_the_one_step_advice(base_settings, monkeypatch):
    """The studio's handler shows the service's advice when Fast is chosen (and not for the
    other presets)."""
    from huatu.ui.handlers import StudioHandlers

    service = ImageService(
        base_settings,
        BackendChoice("local", "tiny", Notice("choice_tiny")),
        LocalBackend("tiny", base_settings),
    )
    assert service.fast_advice() is None  # the test model: Fast takes no time
    told: list[str] = []
    monkeypatch.setattr("gradio.Info", told.append)
    advice = Notice("fast_download_one_step", {"model": "IDKiro/sdxs-512-0.9"})
    monkeypatch.setattr(service, "fast_advice", lambda: advice)
    handlers = StudioHandlers(service)
    handlers.apply_preset("balanced", 7.0)
    assert told == []
    handlers.apply_preset("fast", 7.0)
    assert told == [render(advice)]
