"""The core's contracts: errors by key and the one secrets boundary, seeds, field tables,
backend capabilities and registry, and the model allow-list in the service."""

from __future__ import annotations

import pickle
import re
from dataclasses import replace
from pathlib import Path

import pytest

from huatu.backends.base import Capabilities
from huatu.backends.local import LocalBackend
from huatu.backends.registry import BACKENDS, backend_choices, get_backend
from huatu.config import Settings
from huatu.errors import (
    HostedAuthError,
    HostedTimeoutError,
    HuatuError,
    ModelLoadError,
    OutOfMemory,
    QueueFullError,
    StorageError,
    UnknownNameError,
    ValidationError,
    explain,
)
from huatu.fields import FORM, FieldNames, describe
from huatu.messages import CATALOG, Notice, render
from huatu.request import (
    MAX_SEED,
    MAX_STEPS,
    MIN_STEPS,
    RANDOM_SEED,
    GenerationRequest,
    check_seed,
    draw_seed,
    image_seeds,
)
from huatu.service import ImageService

CJK = re.compile(r"[\u4e00-\u9fff]")
SECRET = "hf_secretvalue_0123456789"


# -- errors ----------------------------------------------------------------------------------


def test_an_error_is_a_key_and_parameters_said_in_either_language():
    error = ModelLoadError("model_not_on_hub", model="a/b", remedy=Notice("model_remedy"))
    assert error.key == "model_not_on_hub" and error.params["model"] == "a/b"
    english, chinese = str(error), error.render("zh-CN")
    assert "a/b" in english and "--model tiny" in english  # the nested remedy, rendered
    assert "a/b" in chinese and CJK.search(chinese) and "--model tiny" in chinese
    assert english != chinese


def test_errors_survive_pickling_whole():
    for error in (
        ValidationError("num_inference_steps", 0, "integer_range", low=1, high=100),
        QueueFullError(3),
        UnknownNameError("backend", "cloud", ["auto", "local"]),
        HostedTimeoutError("error", detail="late"),  # an OSError and a RuntimeError
        HostedAuthError("error", detail="refused"),
        StorageError("history_disk_full", folder="/x"),
        OutOfMemory(),  # a MemoryError
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and copy.__dict__ == error.__dict__
        assert str(copy) == str(error) and copy.render("zh-CN") == error.render("zh-CN")


def test_explain_masks_secrets_before_shortening_and_hides_internal_errors():
    settings = Settings(hf_api_key=SECRET)
    long_value = "x" * 50 + SECRET + "y" * 50
    said = explain(ValidationError("prompt", long_value, "nul"), "en", settings)
    assert SECRET[:8] not in said and "hf_" not in said  # no part of it, though cut short
    assert "characters)" in said  # shortened, saying how long the value was
    hosted = HuatuError("error", detail=f"the key {SECRET} was refused")
    assert SECRET not in explain(hosted, "zh-CN", settings)
    as_bytes = explain(
        ValidationError("prompt", b"x" * 50 + SECRET.encode(), "text"), "en", settings
    )
    assert SECRET[:8] not in as_bytes and "characters)" in as_bytes  # bytes masked too
    assert explain(RuntimeError(SECRET), "en", settings) == CATALOG["en"]["internal_error"]
    assert CJK.search(explain(RuntimeError("boom"), "zh-CN"))


def test_unknown_names_list_the_known_ones_in_either_language():
    error = UnknownNameError("scheduler", "fastest", ["euler", "ddim"])
    assert str(error) == "Unknown scheduler 'fastest'. Available: euler, ddim."
    assert "采样器" in error.render("zh-CN") and "euler, ddim" in error.render("zh-CN")
    with pytest.raises(KeyError):  # still a KeyError for callers that catch that
        raise error


def test_an_unknown_key_is_refused_when_rendered():
    with pytest.raises(KeyError):
        render(Notice("no_such_key"))


# -- the request: modes and seeds --------------------------------------------------------------


def test_mode_is_validated_and_defaults_to_text_to_image():
    assert GenerationRequest.create(prompt="a").mode == "txt2img"
    with pytest.raises(ValidationError, match="`mode` must be one of txt2img"):
        GenerationRequest.create(prompt="a", mode="paint")


def test_seeds_are_drawn_and_spread_in_one_place(monkeypatch):
    import huatu.request

    for count in (1, 4):  # the lowest and the highest draw both leave room for every image
        monkeypatch.setattr(huatu.request.secrets, "randbelow", lambda n: 0)
        assert draw_seed(count) == 0
        monkeypatch.setattr(huatu.request.secrets, "randbelow", lambda n: n - 1)
        assert draw_seed(count) + count - 1 == MAX_SEED
    monkeypatch.undo()
    assert image_seeds(10, 3) == [10, 11, 12]
    request = GenerationRequest.create(prompt="a", num_images=2)
    drawn = request.with_drawn_seed()
    assert drawn.seed != RANDOM_SEED and drawn.seeds == [drawn.seed, drawn.seed + 1]
    assert drawn.with_drawn_seed() is drawn  # a seed is drawn once
    assert check_seed("seed", MAX_SEED - 3, 4) == MAX_SEED - 3
    with pytest.raises(ValidationError, match="at most 4294967292 for 4 images"):
        check_seed("seed", MAX_SEED - 2, 4)
    with pytest.raises(ValueError):
        image_seeds(RANDOM_SEED, 2)


# -- field tables ------------------------------------------------------------------------------


def test_an_edge_table_builds_the_request_and_names_refusals_its_own_way():
    edge = FieldNames({"cfg": "guidance_scale", "n": "num_images"})
    request = edge.request({"prompt": "a", "cfg": 3, "n": 2})
    assert (request.guidance_scale, request.num_images) == (3.0, 2)
    with pytest.raises(ValidationError) as refused:
        edge.request({"prompt": "a", "cfg": 99})
    assert refused.value.field == "cfg" and "`cfg` must be a number from 0 to 20" in str(
        refused.value
    )
    assert edge.edge_name("num_images") == "n" and edge.edge_name("seed") == "seed"


def test_the_form_names_are_the_studio_s_and_keep_the_request_s_names_in_errors():
    request = FORM.request({"prompt": "a", "steps": 3, "guidance": 2})
    assert (request.num_inference_steps, request.guidance_scale) == (3, 2.0)
    with pytest.raises(ValidationError, match="`num_inference_steps` must be"):
        FORM.request({"prompt": "a", "steps": 0})


def test_help_texts_come_from_the_validator_s_limits():
    assert f"from {MIN_STEPS} to {MAX_STEPS}" in describe("num_inference_steps")
    assert "Default 20." in describe("num_inference_steps")
    assert "Default 50." in describe("num_inference_steps", default=50)
    assert "-1 picks a random seed" in describe("seed") and str(MAX_SEED) in describe("seed")
    assert describe("prompt").endswith("Required.")


# -- backends: registry and capabilities ---------------------------------------------------------


def test_the_registry_refuses_unknown_backends_and_the_cli_offers_what_it_lists(
    cli_env, tmp_path: Path
):
    from huatu.cli import main
    from tests.helpers import invoke_huatu

    assert get_backend("local").runs_local_files and not get_backend("hosted").runs_local_files
    with pytest.raises(UnknownNameError, match="Available: auto, local, hosted"):
        get_backend("cloud")
    for command in ("serve", "lesson", "generate"):  # every command reads the one list
        option = next(p for p in main.commands[command].params if p.name == "backend")
        assert list(option.type.choices) == backend_choices()
    told = " ".join(invoke_huatu("generate", "--help", env=cli_env, cwd=tmp_path).stdout.split())
    assert all(f"{spec.id}: {spec.summary}" in told for spec in BACKENDS.values())
    refused = invoke_huatu("generate", "a", "--backend", "cloud", env=cli_env, cwd=tmp_path)
    assert refused.returncode == 2 and "'cloud' is not one of 'auto', 'local', 'hosted'" in (
        refused.stderr
    )


def test_the_registry_creates_backends_and_the_hosted_one_wants_a_key(base_settings):
    with pytest.raises(ModelLoadError, match="HF_API_KEY"):
        get_backend("hosted").create("some/model", replace(base_settings, hf_api_key=None))
    hosted = get_backend("hosted").create("some/model", replace(base_settings, hf_api_key="k"))
    assert hosted.id == "hosted" and hosted.model == "some/model"
    assert hosted.capabilities.concurrency > 1 and not hosted.capabilities.schedulers


class _NoModes(LocalBackend):
    """The real local backend declaring it runs no mode at all."""

    @property
    def capabilities(self) -> Capabilities:
        return replace(super().capabilities, modes=frozenset())


def test_the_service_sends_a_backend_only_the_modes_it_declares(base_settings):
    backend = _NoModes("tiny", base_settings)
    service = ImageService(base_settings, _choice(), backend, history=None)
    with pytest.raises(ValidationError) as refused:
        service.generate(GenerationRequest.create(prompt="a", width=64, height=64))
    assert refused.value.field == "mode" and "local backend" in str(refused.value)


def test_the_local_backend_declares_what_it_does(tiny_service):
    capabilities = tiny_service.capabilities
    assert capabilities.modes == {"txt2img", "img2img", "inpaint"}
    assert capabilities.concurrency == 1
    assert capabilities.token_limit == 75 and "lcm" in capabilities.schedulers
    assert capabilities.test_model and tiny_service.is_test_model
    assert set(capabilities.presets) == {"quality", "balanced", "fast"}


# -- the model allow-list --------------------------------------------------------------------------


def test_only_listed_models_or_hub_ids_may_be_switched_to(base_settings, tmp_path: Path):
    service = ImageService.start(
        replace(base_settings, outputs_dir=tmp_path / "out"), model="tiny", backend="local"
    )
    assert service.known_models()[0] == "tiny"
    with pytest.raises(ValidationError) as refused:
        service.switch_model(str(tmp_path))  # a path on this machine, not listed
    assert refused.value.field == "model" and "Hugging Face Hub id" in str(refused.value)
    with pytest.raises(ModelLoadError):  # a Hub id may be tried (offline here: it fails)
        service.switch_model("nobody/no-such-model")
    assert service.choice.model == "tiny" and service.backend is not None  # the old one stays
    assert "nobody/no-such-model" not in service.known_models()


def _choice():
    from huatu.backends.selection import BackendChoice

    return BackendChoice("local", "tiny", Notice("choice_tiny"))


def test_a_preset_is_named_only_as_this_backend_runs_it(tiny_service):
    """The tiny model has its Fast weights: its Fast is 4 LCM steps, so 12 DPM++ steps (the
    Fast of a backend without them) is no preset here; 20 DPM++ steps is Balanced."""
    from huatu.metadata import parse_parameters

    assert tiny_service.capabilities.presets["fast"].scheduler == "lcm"

    def preset_of(**fields) -> str | None:
        request = GenerationRequest.create(prompt="a", width=64, height=64, seed=1, **fields)
        result = tiny_service.generate(request, save=False)
        return parse_parameters(result.parameters[0]).settings.get("Preset")

    assert preset_of(num_inference_steps=12) is None
    assert preset_of() == "Balanced"
