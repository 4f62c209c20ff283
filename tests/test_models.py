"""People's own models (issue 12, first part): the models folder in A1111's and ComfyUI's
layouts, families recognised from the files, A1111's hashes, single-file checkpoints loaded
with ``from_single_file``, a tiny SDXL, switching without restart, and the model lists of the
A1111, OpenAI and MCP edges and ``huatu models list``.

Every model here is built offline in the test: the tiny SD model written as an A1111
single-file checkpoint (LDM key names), a copy with other weights, a tiny SDXL diffusers
folder, and files that are not checkpoints.
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import weakref
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from huatu.config import Settings
from huatu.errors import ModelLoadError, UnknownModelError, ValidationError
from huatu.images import InputImage
from huatu.metadata import parse_parameters, read_parameters
from huatu.models.folders import CHECKPOINT, LORA, ModelLibrary
from huatu.models.hashes import HashCache, sha256_of
from huatu.models.recognise import recognise_file, recognise_folder, variant
from huatu.request import GenerationRequest
from huatu.service import ImageService
from tests.single_file_support import (
    build_tiny_sdxl,
    build_tiny_taiyi,
    save_embedding,
    save_single_file,
    vae_to_ldm,
)

SMALL = {"num_inference_steps": 2, "width": 64, "height": 64, "seed": 7}


def header_only_checkpoint(path: Path, keys: dict[str, tuple[int, ...]]) -> Path:
    """A real ``.safetensors`` file holding zero tensors of ``keys``' shapes (what
    recognition reads: names and shapes)."""
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: torch.zeros(shape) for key, shape in keys.items()}, str(path))
    return path


UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
SD1_TEXT = "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"
SD2_TEXT = "cond_stage_model.model.token_embedding.weight"
SDXL_TEXT = "conditioner.embedders.1.model.positional_embedding"


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    """An A1111 models folder: the tiny model as a checkpoint, a copy with other weights in a
    subfolder, a tiny SDXL folder, a LoRA-like file and a damaged file; and, beside it, a
    ComfyUI install with one more checkpoint."""
    import torch
    from diffusers import StableDiffusionPipeline
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("library")
    models = root / "models"
    checkpoints = models / "Stable-diffusion"
    pipe = StableDiffusionPipeline.from_pretrained(tiny_model)
    save_single_file(pipe, checkpoints / "tiny.safetensors")
    with torch.no_grad():
        for parameter in pipe.unet.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    save_single_file(pipe, checkpoints / "sub" / "tiny-b.safetensors")
    save_single_file(pipe, root / "comfy" / "models" / "checkpoints" / "comfy-tiny.safetensors")
    build_tiny_sdxl(checkpoints / "tiny-sdxl", root / "tokenizer")
    header_only_checkpoint(checkpoints / "not-a-model.safetensors", {"lora_unet_x.alpha": (1,)})
    (checkpoints / "broken.safetensors").write_bytes(b"\x00" * 5)
    # recognised as a full SD 1.5 from its header, but its configs are on the (unreachable) Hub
    header_only_checkpoint(
        checkpoints / "offline-sd15.safetensors", {UNET_IN: (320, 4, 3, 3), SD1_TEXT: (77, 8)}
    )
    (models / "Lora").mkdir()
    with torch.no_grad():  # a VAE file as A1111 keeps them: LDM keys, no prefix
        for parameter in pipe.vae.decoder.parameters():
            parameter.mul_(1.1)
    vae = vae_to_ldm(pipe.vae.state_dict(), len(pipe.vae.config.block_out_channels))
    (models / "VAE").mkdir()
    unprefixed = {key.removeprefix("first_stage_model."): v.contiguous() for key, v in vae.items()}
    save_file(unprefixed, str(models / "VAE" / "tiny-vae.safetensors"))
    header_only_checkpoint(models / "VAE" / "not-a-vae.safetensors", {"lora_unet_x.alpha": (1,)})
    generator = torch.Generator().manual_seed(11)  # embeddings as A1111 keeps them: SDXL's, SD's
    sdxl_vectors = {name: torch.randn(2, 32, generator=generator) for name in ("clip_l", "clip_g")}
    (models / "embeddings").mkdir()
    save_file(sdxl_vectors, str(models / "embeddings" / "xl-style.safetensors"))
    save_embedding(32, models / "embeddings" / "sd-style.safetensors", seed=12)
    return root


@pytest.fixture
def library_settings(settings: Settings, models_root: Path) -> Settings:
    return replace(
        settings,
        models_dir=models_root / "models",
        extra_model_dirs=(models_root / "comfy",),
    )


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_the_library_reads_a1111_and_comfyui_layouts_by_name_only(
    library_settings: Settings, models_root: Path
) -> None:
    library = ModelLibrary([library_settings.models_dir, *library_settings.extra_model_dirs])
    names = library.names(CHECKPOINT)
    assert names == sorted(names, key=str.lower)
    assert {
        "tiny.safetensors",
        "sub/tiny-b.safetensors",
        "tiny-sdxl",
        "comfy-tiny.safetensors",
    } <= set(names)
    found = library.get(CHECKPOINT, "sub/tiny-b.safetensors")
    assert found.path == models_root / "models" / "Stable-diffusion" / "sub" / "tiny-b.safetensors"
    assert library.find(CHECKPOINT, "sub/tiny-b") == found  # A1111's model_name
    assert library.find(CHECKPOINT, "SUB/Tiny-B.safetensors [0123456789]") == found  # a title
    assert library.find(CHECKPOINT, "tiny-sdxl").is_folder
    # names are looked up, never joined into paths
    for outside in ("../Stable-diffusion/tiny.safetensors", str(found.path), "/etc/passwd"):
        assert library.find(CHECKPOINT, outside) is None
    with pytest.raises(UnknownModelError) as refused:
        library.get(CHECKPOINT, "tiny-c.safetensors")
    assert "tiny-c.safetensors" in str(refused.value)
    assert "tiny.safetensors" in refused.value.known  # the closest names
    with pytest.raises(UnknownModelError, match="none"):
        library.get(LORA, "watercolor")


def test_pickle_files_are_listed_only_when_allowed(tmp_path: Path) -> None:
    folder = tmp_path / "Stable-diffusion"
    folder.mkdir()
    (folder / "old.ckpt").write_bytes(b"not read")
    (folder / "new.safetensors").write_bytes(b"not read either")
    assert ModelLibrary([tmp_path]).names(CHECKPOINT) == ["new.safetensors"]
    allowed = ModelLibrary([tmp_path], allow_pickle=True).names(CHECKPOINT)
    assert allowed == ["new.safetensors", "old.ckpt"]


def test_hashes_are_a1111s_and_computed_once_per_file_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lora.safetensors"
    header = b'{"__metadata__":{"a":"b"}}  '
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"tensor bytes")
    cache = HashCache(tmp_path / "cache" / "hashes.json")
    assert cache.full(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert cache.addnet(path) == hashlib.sha256(b"tensor bytes").hexdigest()  # after the header
    import huatu.models.hashes as hashes

    def no_reading(*args, **kwargs):
        raise AssertionError("hashed again")

    monkeypatch.setattr(hashes, "sha256_of", no_reading)
    again = HashCache(tmp_path / "cache" / "hashes.json")  # a new process: the kept file
    assert again.full(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert again.known_full(path) == again.full(path)
    monkeypatch.setattr(hashes, "sha256_of", sha256_of)
    path.write_bytes(path.read_bytes() + b"!")  # a new version of the file
    assert again.known_full(path) is None
    assert again.full(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_families_are_recognised_from_the_files(models_root: Path, tmp_path: Path) -> None:
    checkpoints = models_root / "models" / "Stable-diffusion"
    assert recognise_file(checkpoints / "tiny.safetensors").family == "tiny"
    assert recognise_folder(checkpoints / "tiny-sdxl").family == "sdxl"
    full = {UNET_IN: (320, 4, 3, 3)}
    sdxl = header_only_checkpoint(
        tmp_path / "sd_xl_turbo_1.0.safetensors", {**full, SDXL_TEXT: (77, 8)}
    )
    assert recognise_file(sdxl).family == "sdxl-turbo"
    base = header_only_checkpoint(
        tmp_path / "sd_xl_base_1.0.safetensors", {**full, SDXL_TEXT: (77, 8)}
    )
    assert recognise_file(base).family == "sdxl"
    sd2 = header_only_checkpoint(tmp_path / "v2-1_768.safetensors", {**full, SD2_TEXT: (10, 8)})
    assert recognise_file(sd2).family == "sd2"
    inpaint = header_only_checkpoint(
        tmp_path / "sd-inpaint.safetensors", {UNET_IN: (320, 9, 3, 3), SD1_TEXT: (77, 8)}
    )
    assert recognise_file(inpaint) == recognise_file(inpaint).__class__("sd1", inpainting=True)
    assert variant("sd1", "LCM_Dreamshaper_v7") == "lcm"
    assert variant("sd1", "dreamshaper_8") == "sd1"
    with pytest.raises(ModelLoadError, match="not a Stable Diffusion checkpoint"):
        recognise_file(checkpoints / "not-a-model.safetensors")
    with pytest.raises(ModelLoadError, match="not a readable .safetensors"):
        recognise_file(checkpoints / "broken.safetensors")


def test_a_single_file_checkpoint_draws_what_its_diffusers_folder_draws(
    library_settings: Settings, tiny_service: ImageService
) -> None:
    service = ImageService.start(library_settings, model="tiny.safetensors", backend="local")
    assert service.backend is not None, service.load_error
    assert service.backend.family.id == "tiny"
    result = service.generate(GenerationRequest.create(prompt="a red fox", **SMALL))
    folder = tiny_service.generate(
        GenerationRequest.create(prompt="a red fox", **SMALL), save=False
    )
    assert np.array_equal(pixels(result.images[0]), pixels(folder.images[0]))
    path = library_settings.models_dir / "Stable-diffusion" / "tiny.safetensors"
    settings = parse_parameters(read_parameters(result.paths[0])).settings
    assert settings["Model hash"] == hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    assert settings["Model"] == "tiny.safetensors"
    assert "Model hash" not in folder.parameters[0]  # a diffusers folder has no one file


def test_switching_releases_the_old_model_first_and_keeps_it_when_the_new_one_fails(
    library_settings: Settings,
) -> None:
    service = ImageService.start(library_settings, model="tiny.safetensors", backend="local")
    first = service.generate(GenerationRequest.create(prompt="a red fox", **SMALL), save=False)
    first_hash = parse_parameters(first.parameters[0]).settings["Model hash"]
    old_pipe = weakref.ref(service.backend.pipe)
    service.switch_model("sub/tiny-b.safetensors")
    gc.collect()
    assert old_pipe() is None  # released (before the new one loaded: see the module)
    second = service.generate(GenerationRequest.create(prompt="a red fox", **SMALL), save=False)
    second_hash = parse_parameters(second.parameters[0]).settings["Model hash"]
    assert second_hash != first_hash
    assert not np.array_equal(pixels(first.images[0]), pixels(second.images[0]))

    loaded = service.backend
    for bad, why in (("broken.safetensors", "readable"), ("not-a-model.safetensors", "checkpoint")):
        with pytest.raises(ModelLoadError, match=why):
            service.switch_model(bad)
        assert service.backend is loaded  # refused from its header: nothing was released
    with pytest.raises(ModelLoadError, match="offline-sd15.safetensors"):
        service.switch_model("offline-sd15.safetensors")  # fails while loading
    assert service.choice.model == "sub/tiny-b.safetensors"  # loaded again, and serving
    again = service.generate(GenerationRequest.create(prompt="a red fox", **SMALL), save=False)
    assert np.array_equal(pixels(again.images[0]), pixels(second.images[0]))
    with pytest.raises(ValidationError, match="model"):
        service.switch_model(
            str(library_settings.models_dir / "Stable-diffusion" / "tiny.safetensors")
        )


def test_a_tiny_sdxl_runs_text_to_image_and_image_to_image(library_settings: Settings) -> None:
    service = ImageService.start(library_settings, model="tiny-sdxl", backend="local")
    assert service.backend is not None, service.load_error
    assert service.backend.family.id == "sdxl"
    made = service.generate(GenerationRequest.create(prompt="a lighthouse", **SMALL), save=False)
    assert made.images[0].size == (64, 64)
    edited = service.generate(
        GenerationRequest.create(
            prompt="a lighthouse at night",
            init_image=InputImage.of(made.images[0]),
            strength=0.5,
            **SMALL,
        ),
        save=False,
    )
    assert edited.images[0].size == (64, 64)
    assert not np.array_equal(pixels(made.images[0]), pixels(edited.images[0]))


def test_an_sdxl_embedding_goes_into_both_text_encoders(
    library_settings: Settings, models_root: Path
) -> None:
    from safetensors.torch import load_file

    service = ImageService.start(library_settings, model="tiny-sdxl", backend="local")
    plain = service.generate(GenerationRequest.create(prompt="a lighthouse", **SMALL), save=False)
    styled = service.generate(
        GenerationRequest.create(prompt="a xl-style lighthouse", **SMALL), save=False
    )
    assert not np.array_equal(pixels(plain.images[0]), pixels(styled.images[0]))
    assert parse_parameters(styled.parameters[0]).settings["TI hashes"].startswith("xl-style: ")
    vectors = load_file(str(models_root / "models" / "embeddings" / "xl-style.safetensors"))
    pipe = service.backend.pipe
    for encoder, tokenizer, key in (
        (pipe.text_encoder, pipe.tokenizer, "clip_l"),
        (pipe.text_encoder_2, pipe.tokenizer_2, "clip_g"),
    ):
        token = tokenizer.convert_tokens_to_ids("xl-style")
        assert torch_equal(encoder.get_input_embeddings().weight[token], vectors[key][0])
    with pytest.raises(ValidationError) as refused:  # an SD 1.x embedding does not fit SDXL
        service.generate(GenerationRequest.create(prompt="a sd-style lighthouse", **SMALL))
    assert (refused.value.field, refused.value.value) == ("prompt", "sd-style")


def torch_equal(a, b) -> bool:
    import torch

    return torch.equal(a.detach().to(b.dtype), b)


def test_the_a1111_openai_and_mcp_edges_list_and_switch_checkpoints(
    library_settings: Settings,
) -> None:
    import openai
    import webuiapi

    from huatu.api.gate import ApiGate
    from huatu.ui.mcp_tool import make_generate_image
    from tests.helpers import serving_app

    service = ImageService.start(library_settings, model="tiny.safetensors", backend="local")
    checkpoints = library_settings.models_dir / "Stable-diffusion"

    def short_hash(name: str) -> str:
        return hashlib.sha256((checkpoints / name).read_bytes()).hexdigest()[:10]

    with serving_app(service) as url:
        host, port = url.removeprefix("http://").split(":")
        api = webuiapi.WebUIApi(host=host, port=int(port), steps=2)
        titles = api.util_get_model_names()
        assert f"tiny.safetensors [{short_hash('tiny.safetensors')}]" in titles  # loaded: hashed
        assert "tiny-sdxl" in titles  # a folder: no hash
        # a file not loaded yet is listed without its hash, as A1111 lists it (the session's
        # other tests may have hashed it already)
        assert any(title.startswith("sub/tiny-b.safetensors") for title in titles)
        item = next(m for m in api.get_sd_models() if m["model_name"] == "tiny")
        assert item["filename"] == "tiny.safetensors"  # never the server's path
        api.util_set_model("sub/tiny-b.safetensors")
        assert service.choice.model == "sub/tiny-b.safetensors"
        result = api.txt2img(prompt="a red fox", width=64, height=64, seed=3)
        assert f"Model hash: {short_hash('sub/tiny-b.safetensors')}" in result.info["infotexts"][0]
        assert api.get_options()["sd_model_checkpoint"].startswith("sub/tiny-b.safetensors [")

        (checkpoints / "later.safetensors").write_bytes(
            (checkpoints / "tiny.safetensors").read_bytes()
        )
        try:
            assert "later.safetensors" not in api.util_get_model_names()
            api.refresh_checkpoints()
            assert "later.safetensors" in api.util_get_model_names()

            client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            listed = [model.id for model in client.models.list()]
            assert listed[0] == "sub/tiny-b.safetensors"  # the served one first
            assert {"tiny.safetensors", "later.safetensors", "tiny-sdxl"} <= set(listed)
            answer = client.images.generate(model="later.safetensors", prompt="a fox", size="64x64")
            png = base64_png(answer.data[0].b64_json)
            assert f"Model hash: {short_hash('later.safetensors')}" in read_parameters(png)
            with pytest.raises(openai.BadRequestError, match="tiny.safetensors"):
                client.images.generate(model="nowhere.safetensors", prompt="a fox")
        finally:
            (checkpoints / "later.safetensors").unlink()
            service.refresh_models()

    tool = make_generate_image(service, ApiGate(2))
    *images, details = tool("a fox", steps=2, width=64, height=64, seed=1, model="tiny.safetensors")
    assert f"Model hash: {short_hash('tiny.safetensors')}" in details
    assert service.choice.model == "tiny.safetensors"


def base64_png(text: str) -> Image.Image:
    import base64

    return Image.open(io.BytesIO(base64.b64decode(text)))


def test_huatu_models_list_shows_each_kind_with_family_and_size(
    library_settings: Settings, models_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from huatu.cli import main

    monkeypatch.setenv("HUATU_MODELS_DIR", str(library_settings.models_dir))
    monkeypatch.delenv("HUATU_EXTRA_MODEL_DIRS", raising=False)
    runner = CliRunner()
    result = runner.invoke(
        main, ["models", "list", "--json", "--extra-model-dir", str(models_root / "comfy")]
    )
    monkeypatch.delenv("HUATU_EXTRA_MODEL_DIRS", raising=False)  # the option sets it
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["tiny.safetensors"]["family"] == "tiny"
    assert rows["tiny-sdxl"]["family"] == "sdxl"
    assert rows["comfy-tiny.safetensors"]["kind"] == "checkpoint"
    assert rows["not-a-model.safetensors"]["family"] == "?"
    assert rows["tiny.safetensors"]["size_mb"] > 0
    plain = runner.invoke(main, ["models", "list"])
    assert plain.exit_code == 0 and "checkpoint — " in plain.output
    recommended = runner.invoke(main, ["models", "recommended"])
    assert "stabilityai/sd-turbo  [sd-turbo]" in recommended.output
    assert "licence: CreativeML OpenRAIL-M" in recommended.output
    assert os.environ.get("HUATU_EXTRA_MODEL_DIRS") is None


def test_the_studio_says_a_model_is_loading_then_shows_the_new_one(
    library_settings: Settings,
) -> None:
    from huatu.ui.model_handlers import ModelHandlers

    service = ImageService.start(library_settings, model="tiny.safetensors", backend="local")
    steps = ModelHandlers(service).switch_model("sub/tiny-b.safetensors")
    choice, status, *_ = next(steps)
    assert choice["interactive"] is False and status.startswith("⏳ Loading sub/tiny-b")
    assert service.choice.model == "tiny.safetensors"  # not yet
    choice, status, *_ = next(steps)
    assert service.choice.model == "sub/tiny-b.safetensors" and "⏳" not in status
    labels = dict((value, label) for label, value in choice["choices"])
    assert labels["sub/tiny-b.safetensors"] == "sub/tiny-b.safetensors · tiny · 4.3 MB"
    assert labels["tiny-sdxl"].startswith("tiny-sdxl · sdxl · ")
    assert labels["not-a-model.safetensors"].startswith("not-a-model.safetensors · ? · ")
    # to SDXL: the form takes the family's sizes and preset
    *_, (choice, status, sizes, width, height, preset, steps_value, scheduler, guidance, faster) = (
        ModelHandlers(service).switch_model("tiny-sdxl")
    )
    assert sizes["value"] == "1024x1024" and len(sizes["choices"]) == 9
    assert (width, height, preset, steps_value, guidance) == (1024, 1024, "balanced", 25, 6.0)
    assert faster is True  # SDXL's Balanced ticks "Faster": its UNet caches steps
    # a failed switch leaves the form as it was
    *_, (choice, status, *form) = ModelHandlers(service).switch_model("broken.safetensors")
    assert service.choice.model == "tiny-sdxl" and all(
        update == {"__type__": "update"} for update in form
    )


def test_the_family_table_drives_presets_sizes_and_limits(
    library_settings: Settings, tiny_service: ImageService
) -> None:
    from huatu.models.download import RECOMMENDED
    from huatu.models.families import FAMILIES
    from huatu.presets import aspect_presets
    from huatu.schedulers import scheduler_ids

    assert {item.family for item in RECOMMENDED} <= set(FAMILIES)
    for family in FAMILIES.values():  # every row is usable as it stands
        assert set(family.schedulers) <= set(scheduler_ids()), family.id
        assert all(max(size) <= family.max_side for size in family.sizes), family.id
        assert family.size == family.sizes[0]
    sdxl = aspect_presets(FAMILIES["sdxl"].sizes)
    assert [a.label for a in sdxl[:3]] == ["1:1 · 1024×1024", "9:7 · 1152×896", "7:9 · 896×1152"]

    service = ImageService.start(library_settings, model="tiny-sdxl", backend="local")
    caps = service.capabilities
    assert caps.family.id == "sdxl"
    balanced = caps.presets["balanced"]
    assert (balanced.steps, balanced.guidance) == (25, 6.0)  # the table's, not SD 1.5's 20 / 7
    assert caps.presets["quality"].steps == 38 and caps.presets["fast"].steps == 15
    # SD 1.x takes at most 1024 per side, SDXL 1536: checked per loaded family
    wide = GenerationRequest.create(prompt="a", width=1152, height=64, num_inference_steps=1)
    with pytest.raises(ValidationError) as refused:
        tiny_service.generate(wide, save=False)
    assert refused.value.field == "width" and "at most 1024" in str(refused.value)
    hires = GenerationRequest.create(
        prompt="a", width=768, height=64, hires_scale=1.5, num_inference_steps=1
    )
    with pytest.raises(ValidationError, match="1152 pixels"):
        tiny_service.generate(hires, save=False)


def test_a_vae_of_the_folder_decodes_when_chosen_and_the_models_own_again_after(
    library_settings: Settings,
) -> None:
    import webuiapi

    from tests.helpers import serving_app

    service = ImageService.start(library_settings, model="tiny.safetensors", backend="local")
    own = service.generate(GenerationRequest.create(prompt="a fox", **SMALL), save=False)
    service.switch_vae("tiny-vae.safetensors")
    chosen = service.generate(GenerationRequest.create(prompt="a fox", **SMALL), save=False)
    assert not np.array_equal(pixels(own.images[0]), pixels(chosen.images[0]))
    fields = parse_parameters(chosen.parameters[0]).settings
    path = library_settings.models_dir / "VAE" / "tiny-vae.safetensors"
    assert fields["VAE hash"] == hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    assert fields["VAE"] == "tiny-vae.safetensors" and service.vae_name == "tiny-vae.safetensors"
    import torch

    conv = service.backend.pipe.vae.decoder.conv_in.weight  # the layout of a decoder on a CPU
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    with pytest.raises(ModelLoadError, match="not-a-vae.safetensors"):
        service.switch_vae("not-a-vae.safetensors")
    with pytest.raises(ValidationError, match="tiny-vae.safetensors") as refused:
        service.switch_vae("tiny-vea.safetensors")
    assert refused.value.field == "sd_vae"
    assert service.vae_name == "tiny-vae.safetensors"  # still the chosen one
    service.switch_vae(None)
    again = service.generate(GenerationRequest.create(prompt="a fox", **SMALL), save=False)
    assert np.array_equal(pixels(own.images[0]), pixels(again.images[0]))
    assert "VAE" not in parse_parameters(again.parameters[0]).settings

    with serving_app(service) as url:
        host, port = url.removeprefix("http://").split(":")
        api = webuiapi.WebUIApi(host=host, port=int(port), steps=2)
        assert [vae["model_name"] for vae in api.get_sd_vae()] == [
            "not-a-vae.safetensors",
            "tiny-vae.safetensors",
        ]
        assert api.get_options()["sd_vae"] == "Automatic"
        api.set_options({"sd_vae": "tiny-vae.safetensors"})
        assert api.get_options()["sd_vae"] == "tiny-vae.safetensors"
        result = api.txt2img(prompt="a fox", width=64, height=64, seed=7)
        assert "VAE: tiny-vae.safetensors" in result.info["infotexts"][0]
        api.set_options({"sd_vae": "Automatic"})
        assert service.vae_name is None


def test_a_family_that_reads_chinese_gets_the_prompt_as_written(
    settings: Settings, tiny_model: Path, tmp_path: Path
) -> None:
    from huatu.ui.handlers import StudioHandlers

    build_tiny_taiyi(tiny_model, tmp_path / "Stable-diffusion")
    taiyi = replace(settings, models_dir=tmp_path)
    service = ImageService.start(taiyi, model="taiyi-tiny", backend="local")
    assert service.backend is not None, service.load_error
    assert service.capabilities.family.id == "taiyi" and service.reads_chinese
    fox = service.generate(GenerationRequest.create(prompt="雪中的红色狐狸", **SMALL), save=False)
    assert fox.notices == []  # no "English only" notice
    assert "雪中的红色狐狸" in fox.parameters[0]  # and no translation: as written
    cat = service.generate(GenerationRequest.create(prompt="公园里的一只猫", **SMALL), save=False)
    assert not np.array_equal(pixels(fox.images[0]), pixels(cat.images[0]))  # it reads them
    assert StudioHandlers(service=service).needs_translation("雪中的红色狐狸") is False


def test_an_images_files_are_loaded_again_and_the_missing_ones_named(
    library_settings: Settings,
) -> None:
    service = ImageService.start(library_settings, model="sub/tiny-b.safetensors", backend="local")
    service.switch_vae("tiny-vae.safetensors")
    made = service.generate(GenerationRequest.create(prompt="a fox", **SMALL), save=False)
    parsed = parse_parameters(made.parameters[0])
    service.switch_model("tiny.safetensors")  # and the model's own VAE again
    assert service.vae_name is None

    assert service.restore_files(parsed.settings, parsed.prompt) == []
    assert service.choice.model == "sub/tiny-b.safetensors"
    assert service.vae_name == "tiny-vae.safetensors"
    again = service.generate(GenerationRequest.create(prompt="a fox", **SMALL), save=False)
    assert np.array_equal(pixels(made.images[0]), pixels(again.images[0]))  # the same image

    # a file renamed since is found by its (known) hash
    renamed = {**parsed.settings, "Model": "old-name"}
    service.switch_model("tiny.safetensors")
    assert service.restore_files(renamed, parsed.prompt) == []
    assert service.choice.model == "sub/tiny-b.safetensors"

    gone = {
        "Model": "gone.safetensors",
        "Model hash": "0000000000",
        "VAE": "lost.safetensors",
        "TI hashes": "phantom: 0123456789ab",
    }
    missing = service.restore_files(gone, "a fox <lora:ghost:0.5>")
    assert missing == [
        "checkpoint gone.safetensors [0000000000]",
        "VAE lost.safetensors",
        "LoRA ghost",
        "embedding phantom",
    ]
    assert service.choice.model == "sub/tiny-b.safetensors"  # nothing switched to
    assert service.vae_name == "tiny-vae.safetensors"


def test_with_the_default_model_unloadable_the_folders_models_are_offered(
    library_settings: Settings,
) -> None:
    service = ImageService.start(library_settings, model="nobody/not-downloaded", backend="local")
    assert service.backend is None
    assert "tiny.safetensors" in service.model_choices()
    service.switch_model("tiny.safetensors")
    assert service.backend is not None and service.choice.model == "tiny.safetensors"


def test_an_lcm_checkpoint_runs_its_own_scheduler_without_the_fast_paths_lora(
    settings: Settings, tiny_model: Path, tmp_path: Path
) -> None:
    import shutil

    folder = tmp_path / "Stable-diffusion" / "tiny-lcm"
    shutil.copytree(tiny_model, folder)
    scheduler = folder / "scheduler" / "scheduler_config.json"
    config = json.loads(scheduler.read_text())
    scheduler.write_text(json.dumps({**config, "_class_name": "LCMScheduler"}))
    service = ImageService.start(replace(settings, models_dir=tmp_path), model="tiny-lcm")
    assert service.backend is not None, service.load_error
    caps = service.capabilities
    assert caps.family.id == "lcm"
    balanced = caps.presets["balanced"]
    assert (balanced.scheduler, balanced.steps, balanced.guidance) == ("lcm", 4, 1.0)
    request = GenerationRequest.create(
        prompt="a fox",
        scheduler="lcm",
        num_inference_steps=4,
        guidance_scale=1.0,
        **{key: SMALL[key] for key in ("width", "height", "seed")},
    )
    result = service.generate(request, save=False)
    assert not service.backend.fast._lora_loaded  # its own weights, no LCM-LoRA on top
    assert "VAE: TAESD" not in result.parameters[0] and "Preset: Balanced" in result.parameters[0]


def test_needed_files_are_one_precision_of_safetensors_per_component() -> None:
    from huatu.models.download import needed_files

    files = [
        "model_index.json",
        "README.md",
        "v1-5-pruned-emaonly.safetensors",  # the single-file copy: not needed
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "unet/diffusion_pytorch_model.bin",
        "text_encoder/config.json",
        "text_encoder/model.fp16.safetensors",  # only half precision here
        "tokenizer/merges.txt",
        "tokenizer/vocab.json",
        "transformer/config.json",
        "transformer/diffusion_pytorch_model.safetensors.index.json",
        "transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
        "transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
        "transformer/diffusion_pytorch_model.fp16.safetensors.index.json",
        "transformer/diffusion_pytorch_model.fp16-00001-of-00001.safetensors",
        "onnx/unet/model.onnx",
        "flax_model.msgpack",
    ]
    components = ["unet", "text_encoder", "tokenizer", "transformer"]
    assert needed_files(files, components) == [
        "README.md",
        "model_index.json",
        "text_encoder/config.json",
        "text_encoder/model.fp16.safetensors",
        "tokenizer/merges.txt",
        "tokenizer/vocab.json",
        "transformer/config.json",
        "transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
        "transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
        "transformer/diffusion_pytorch_model.safetensors.index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
    ]
    half = needed_files(files, components, half=True)
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in half
    assert "unet/diffusion_pytorch_model.safetensors" not in half
    assert "transformer/diffusion_pytorch_model.fp16.safetensors.index.json" in half


def test_huatu_models_pull_fetches_what_the_pipeline_needs_into_the_models_folder(
    settings: Settings, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import huggingface_hub.constants
    from click.testing import CliRunner

    from huatu.cli import main
    from tests.standin_hub_files import StandInHubFiles

    repo = tmp_path / "repo"
    shutil.copytree(tiny_model, repo)
    (repo / "unet" / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"half")
    (repo / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"a pickle")
    (repo / "tiny-sd.safetensors").write_bytes(b"a single-file copy")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # the stand-in
    models = tmp_path / "models"
    with StandInHubFiles("someone/tiny-sd", repo) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HUATU_MODELS_DIR", str(models))
        result = CliRunner().invoke(main, ["models", "pull", "someone/tiny-sd"])
        assert result.exit_code == 0, result.output
        assert "huatu serve --model tiny-sd" in result.output
        fetched = set(hub.fetched)
        assert "unet/diffusion_pytorch_model.safetensors" in fetched
        assert not fetched & {
            "unet/diffusion_pytorch_model.fp16.safetensors",
            "unet/diffusion_pytorch_model.bin",
            "tiny-sd.safetensors",
        }
        missing = CliRunner().invoke(main, ["models", "pull", "someone/nothing-here"])
        assert missing.exit_code == 1 and "someone/nothing-here" in missing.output
    service = ImageService.start(replace(settings, models_dir=models), model="tiny-sd")
    assert service.backend is not None and service.capabilities.family.id == "tiny"
    assert service.generate(GenerationRequest.create(prompt="a fox", **SMALL), save=False).images


def test_a_damaged_weights_file_is_named_not_called_a_pickle(
    settings: Settings, tiny_model: Path, tmp_path: Path
) -> None:
    """A diffusers folder whose files look right but whose UNet weights are not weights: the
    sentence names the file inside the model and says it is damaged (it used to say the model
    had only pickle weights)."""
    import shutil

    from huatu.backends.local import LocalBackend
    from huatu.messages import render

    folder = tmp_path / "Stable-diffusion" / "damaged"
    shutil.copytree(tiny_model, folder)
    for weights in (folder / "unet").glob("*.safetensors"):
        weights.write_bytes(b"not weights")
    with pytest.raises(ModelLoadError) as failed:
        LocalBackend("damaged", replace(settings, models_dir=tmp_path))
    said = render(failed.value.notice)
    assert said.startswith("The model damaged could not be read: its file ")
    assert "unet/diffusion_pytorch_model.safetensors is damaged" in said
    assert "pickle" not in said and str(tmp_path) not in said
