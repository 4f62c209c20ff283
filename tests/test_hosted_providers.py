"""The tutorial's hosted path with today's Inference Providers, against the stand-in Hub.

The real ``huggingface_hub`` client (``HfApi``, ``InferenceClient``) is pointed at the stand-in
with the library's own endpoint settings (``constants.ENDPOINT`` and
``INFERENCE_PROXY_TEMPLATE``, set by huatu from ``HF_ENDPOINT``/``HUATU_HF_ROUTER``); the
stand-in answers as the Hub API and the router do today (:mod:`tests.standin_catalogue`).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from huatu.config import DEFAULT_HOSTED_MODEL, Settings
from huatu.errors import BackendUnavailableError
from huatu.messages import render
from huatu.metadata import parse_parameters, read_parameters
from huatu.request import GenerationRequest
from huatu.service import ImageService
from huatu.translation import (
    DEFAULT_CHAT_TRANSLATION_MODEL,
    DEFAULT_GLOSSARY,
    HostedTranslator,
    TranslationModelNotServedError,
    translate_prompt,
)
from huatu.translation.hosted import CHAT_INSTRUCTION
from huatu.ui.model_handlers import ModelHandlers
from tests.helpers import free_port, huatu_env, invoke_huatu
from tests.standin_catalogue import FLUX_DEV, SCHNELL, SD15, SDXL, TODAY, HubModel, Mapping
from tests.standin_hf import StandInHF, gone, not_found, seed_colour

KEY = "hf_test_SECRET_providers_77"
T2I = "text-to-image"
#: Served today, most liked first, as the stand-in's Hub lists them (sd-turbo is only staging).
SERVED = [FLUX_DEV, SDXL, SCHNELL]

pytestmark = pytest.mark.usefixtures("hub_reaches_stand_in")


@pytest.fixture
def hub() -> Iterator[StandInHF]:
    with StandInHF(expected_key=KEY) as server:
        yield server


def settings_for(hub: StandInHF, tmp_path: Path, **fields: object) -> Settings:
    """A key, and the Hub and router both at the stand-in."""
    values: dict[str, object] = {
        "hf_api_key": KEY,
        "hf_endpoint": hub.url,
        "hf_router": hub.url,
        "hosted_timeout_s": 20.0,
        "outputs_dir": tmp_path / "outputs",
    }
    values.update(fields)
    return Settings(**values)  # type: ignore[arg-type]


def request(**fields: object) -> GenerationRequest:
    base: dict[str, object] = {"prompt": "a dog in a park", "seed": 11, "width": 64, "height": 96}
    base.update(fields)
    return GenerationRequest.create(**base)


def catalogue_with(model: HubModel) -> tuple[HubModel, ...]:
    """Today's catalogue with ``model`` in place of the entry of the same id."""
    return (*(entry for entry in TODAY if entry.id != model.id), model)


def model_info_asks(hub: StandInHF, model: str) -> list:
    """huatu's own model-info lookups of ``model`` (sent with the key; the library's own
    lookup before a provider call is sent without it)."""
    return [r for r in hub.lookups if r.path == f"/api/models/{model}" and r.bearer == KEY]


# --------------------------------------------------------------------------------------------
# Which model, which provider
# --------------------------------------------------------------------------------------------


def test_default_hosted_model_and_auto_provider_are_looked_up_once(hub, tmp_path):
    settings = settings_for(hub, tmp_path)
    service = ImageService.start(settings, backend="auto", keep_history=False)

    assert service.backend is not None and service.choice.backend == "hosted"
    assert service.choice.model == DEFAULT_HOSTED_MODEL == SCHNELL
    (asked,) = model_info_asks(hub, SCHNELL)
    assert asked.query["expand"] == ["inferenceProviderMapping"]
    # auto is the first provider of the mapping: the person's order in their HF settings
    status = service.status
    assert f"model {SCHNELL}" in status and "via fal-ai" in status and "first provider" in status
    zh = render(service.status_notice("zh-CN"), "zh-CN")
    assert "经由 fal-ai" in zh
    # the studio offers the served models, most liked first, the current one first
    assert service.model_choices() == [SCHNELL, FLUX_DEV, SDXL]

    again = ImageService.start(settings, backend="hosted", keep_history=False)
    assert again.backend is not None
    assert len(model_info_asks(hub, SCHNELL)) == 1  # the answer is kept for the session
    assert KEY not in status and KEY not in repr(service.backend)


def test_auto_follows_the_order_the_hub_gives(hub, tmp_path):
    hub.catalogue = catalogue_with(
        HubModel(
            SCHNELL,
            T2I,
            4500,
            (
                Mapping("hf-inference", SCHNELL, T2I),
                Mapping("fal-ai", "fal-ai/flux/schnell", T2I),
            ),
        )
    )
    service = ImageService.start(settings_for(hub, tmp_path), backend="hosted", keep_history=False)
    assert service.backend is not None and "via hf-inference" in service.status

    result = service.generate(request(), save=False)
    (sent,) = hub.requests
    assert sent.path == f"/hf-inference/models/{SCHNELL}"  # raw image bytes answer
    assert sent.bearer == KEY and sent.seed == 11
    assert result.images[0].size == (64, 96)
    assert result.images[0].getpixel((0, 0)) == seed_colour(11)


def test_fal_ai_answers_with_an_image_url_the_client_fetches(hub, tmp_path):
    settings = settings_for(hub, tmp_path)
    service = ImageService.start(settings, backend="hosted")
    result = service.generate(request(seed=21, num_images=2))

    first, second = hub.requests
    assert first.path == second.path == "/fal-ai/fal-ai/flux/schnell"
    assert first.json["prompt"] == "a dog in a park"
    assert first.json["image_size"] == {"width": 64, "height": 96}
    assert [first.seed, second.seed] == [21, 22]  # a seed is always sent
    fetched = [r.path for r in hub.lookups if r.path.startswith("/files/")]
    assert fetched == ["/files/0.png", "/files/1.png"]
    for path, seed in zip(result.paths, (21, 22), strict=True):
        with Image.open(path) as picture:
            assert picture.size == (64, 96)
            assert picture.convert("RGB").getpixel((5, 5)) == seed_colour(seed)
        fields = parse_parameters(read_parameters(path))
        assert fields.settings["Hosted provider"] == "fal-ai"
        assert fields.settings["Model"] == SCHNELL


# --------------------------------------------------------------------------------------------
# Asking before failing
# --------------------------------------------------------------------------------------------


def test_a_model_no_provider_serves_is_said_at_start_with_served_ones(hub, tmp_path):
    settings = settings_for(hub, tmp_path, hosted_model=SD15)
    service = ImageService.start(settings, backend="hosted", keep_history=False)

    assert service.backend is None
    said = render(service.status_notice())
    listed = ", ".join(SERVED)
    assert f"No Inference Provider serves {SD15} for text-to-image today" in said
    assert f"most liked first: {listed}" in said
    assert said.count(". ") == 0  # one sentence
    assert "stabilityai/sd-turbo" not in said  # staging is not served
    assert f"目前没有任何推理服务商（Inference Provider）为文生图提供 {SD15}" in render(
        service.status_notice("zh-CN"), "zh-CN"
    )
    with pytest.raises(BackendUnavailableError, match="No Inference Provider serves"):
        service.generate(request(), save=False)
    assert hub.requests == []  # refused without a call
    assert service.model_choices() == [SD15, *SERVED]

    *_, (_, status, *_) = ModelHandlers(service).switch_model(FLUX_DEV)  # its last update
    assert service.backend is not None and service.choice.model == FLUX_DEV
    assert f"**{FLUX_DEV}**" in status and "via fal-ai" in status


def test_generate_command_fails_at_start_in_one_sentence(hub, cache_dir, tmp_path):
    env = huatu_env(
        cache_dir,
        tmp_path / "outputs",
        HF_API_KEY=KEY,
        HF_ENDPOINT=hub.url,
        HUATU_HF_ROUTER=hub.url,
        HUATU_HOSTED_MODEL=SD15,
    )
    answer = invoke_huatu("generate", "a dog", "--backend", "hosted", env=env, cwd=tmp_path)

    assert answer.returncode == 1
    assert f"No Inference Provider serves {SD15} for text-to-image today" in answer.stderr
    assert ", ".join(SERVED) in answer.stderr
    assert hub.requests == [] and KEY not in answer.stderr + answer.stdout


def test_a_provider_that_does_not_serve_the_model_names_those_that_do(hub, tmp_path):
    settings = settings_for(hub, tmp_path, hosted_provider="together")
    service = ImageService.start(settings, backend="hosted", keep_history=False)
    said = render(service.status_notice())
    assert "The together provider does not serve" in said
    assert "only fal-ai, hf-inference do" in said


def test_a_model_the_hub_does_not_have(hub, tmp_path):
    settings = settings_for(hub, tmp_path, hosted_model="nobody/nothing")
    service = ImageService.start(settings, backend="hosted", keep_history=False)
    assert "The Hugging Face Hub has no model nobody/nothing" in render(service.status_notice())


def test_an_unreachable_hub_falls_back_to_trying_the_request(hub, tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = settings_for(hub, tmp_path, hf_endpoint=nowhere)
    service = ImageService.start(settings, backend="hosted", keep_history=False)

    assert service.backend is not None
    assert "via hf-inference (the Hugging Face Hub could not be asked" in service.status
    assert service.model_choices() == []
    service.generate(request(), save=False)
    assert hub.requests[-1].path == f"/hf-inference/models/{SCHNELL}"
    hub.enqueue(gone())
    with pytest.raises(Exception, match=f"{SCHNELL} is not served by the hf-inference provider"):
        service.generate(request(), save=False)


# --------------------------------------------------------------------------------------------
# Sending only what the model takes
# --------------------------------------------------------------------------------------------


def test_schnell_gets_no_negative_prompt_nor_guidance_and_the_png_says_so(hub, tmp_path):
    service = ImageService.start(settings_for(hub, tmp_path), backend="hosted")
    asked = request(negative_prompt="blurry, text", guidance_scale=9.0, num_inference_steps=20)
    result = service.generate(asked)

    (sent,) = hub.requests
    assert "negative_prompt" not in sent.json and "guidance_scale" not in sent.json
    assert sent.json["num_inference_steps"] == 4 and sent.seed == 11
    told = [render(notice) for notice in result.notices]
    assert f"{SCHNELL} (FLUX.1 [schnell]) takes no negative prompt: it was not sent." in told
    assert any("ignores the guidance scale" in line for line in told)
    assert any("不接受反向提示词" in render(n, "zh-CN") for n in result.notices)
    text = read_parameters(result.paths[0])
    assert "Negative prompt" not in text and "blurry" not in text and "CFG scale" not in text
    fields = parse_parameters(text)
    assert fields.settings["Steps"] == "4" and fields.settings["Seed"] == "11"
    assert result.request.negative_prompt == "" and result.request.num_inference_steps == 4


def test_schnell_caps_steps_the_person_chose_and_says_so(hub, tmp_path):
    service = ImageService.start(settings_for(hub, tmp_path), backend="hosted", keep_history=False)
    result = service.generate(request(num_inference_steps=30), save=False)
    assert hub.requests[0].json["num_inference_steps"] == 4
    assert any(
        "runs at most 4 steps: 4 were run instead of 30" in render(n) for n in result.notices
    )
    assert "Steps: 4," in result.parameters[0]


def test_sdxl_gets_the_negative_prompt_and_guidance(hub, tmp_path):
    settings = settings_for(hub, tmp_path)
    service = ImageService.start(settings, model=SDXL, backend="hosted", keep_history=False)
    result = service.generate(request(negative_prompt="blurry", guidance_scale=6.5), save=False)

    (sent,) = hub.requests
    assert sent.path == f"/hf-inference/models/{SDXL}"
    assert sent.parameters["negative_prompt"] == "blurry"
    assert sent.parameters["guidance_scale"] == 6.5
    assert sent.parameters["num_inference_steps"] == 20
    assert result.notices == []
    assert "Negative prompt: blurry" in result.parameters[0]
    assert "CFG scale: 6.5" in result.parameters[0]


def test_the_tutorial_endpoint_is_not_looked_up_and_gets_every_setting(hub, tmp_path):
    settings = replace(settings_for(hub, tmp_path), hf_api_tti_base=hub.tti_url)
    service = ImageService.start(settings, backend="hosted", keep_history=False)
    service.generate(request(negative_prompt="blurry", guidance_scale=6.5), save=False)

    assert hub.lookups == []
    (sent,) = hub.requests
    assert sent.path == "/tti"
    assert sent.parameters["negative_prompt"] == "blurry"
    assert sent.parameters["guidance_scale"] == 6.5


# --------------------------------------------------------------------------------------------
# Translation through the same providers
# --------------------------------------------------------------------------------------------


def test_translation_goes_to_a_chat_model_when_opus_mt_is_not_served(hub, tmp_path):
    translator = HostedTranslator(settings_for(hub, tmp_path), max_retry_wait_s=0.2)
    result = translate_prompt(
        "一只狗在公园里，赛博朋克", glossary=DEFAULT_GLOSSARY, translator=translator
    )

    assert result.translated == "a dog in a park, cyberpunk"
    assert result.translator == f"hosted · {DEFAULT_CHAT_TRANSLATION_MODEL} (chat)"
    (sent,) = hub.requests
    assert sent.path == "/v1/chat/completions" and sent.bearer == KEY
    assert sent.json["model"] == DEFAULT_CHAT_TRANSLATION_MODEL
    system, user = sent.json["messages"]
    assert system == {"role": "system", "content": CHAT_INSTRUCTION}
    assert user == {"role": "user", "content": "一只狗在公园里"}  # the glossary went first


def test_a_chat_model_nobody_serves_says_what_to_set(hub, tmp_path):
    translator = HostedTranslator(settings_for(hub, tmp_path), max_retry_wait_s=0.2)
    hub.enqueue(not_found())
    with pytest.raises(TranslationModelNotServedError) as caught:
        translator.translate("一只猫")
    said = str(caught.value)
    assert f"The chat model {DEFAULT_CHAT_TRANSLATION_MODEL} that translates prompts" in said
    assert "HUATU_TRANSLATION_CHAT_MODEL" in said and KEY not in said
    assert "HUATU_TRANSLATION_CHAT_MODEL" in caught.value.render("zh-CN")


# --------------------------------------------------------------------------------------------
# Image to image where a provider serves it
# --------------------------------------------------------------------------------------------


def test_image_to_image_goes_to_the_provider_that_serves_it(hub, tmp_path):
    from huatu.images import InputImage

    both = "acme/draw-and-edit"
    hub.catalogue = catalogue_with(
        HubModel(
            both,
            T2I,
            10,
            (
                Mapping("fal-ai", "fal-ai/acme", T2I),
                Mapping("hf-inference", both, "image-to-image"),
            ),
        )
    )
    settings = settings_for(hub, tmp_path, hosted_model=both)
    service = ImageService.start(settings, backend="hosted", keep_history=False)
    assert service.capabilities.modes == {"txt2img", "img2img"}
    source = Image.new("RGB", (96, 64), (10, 200, 10))
    result = service.generate(
        request(init_image=InputImage.of(source), strength=0.4, seed=13), save=False
    )
    (sent,) = hub.requests
    assert sent.path == f"/hf-inference/models/{both}" and sent.bearer == KEY
    assert sent.parameters["prompt"] == "a dog in a park"
    assert sent.parameters["strength"] == 0.4 and sent.seed == 13
    assert sent.parameters["target_size"] == {"width": 64, "height": 96}
    sent_picture = Image.open(io.BytesIO(base64.b64decode(sent.json["inputs"])))
    assert sent_picture.size == (64, 96)  # fitted to the size asked
    assert result.images[0].size == (64, 96)
    assert "Hosted provider: hf-inference" in result.parameters[0]
    assert "Denoising strength: 0.4" in result.parameters[0]


def test_image_to_image_on_a_model_nobody_serves_for_it_is_refused_before_any_call(hub, tmp_path):
    from huatu.errors import ValidationError
    from huatu.images import InputImage

    service = ImageService.start(settings_for(hub, tmp_path), backend="hosted", keep_history=False)
    with pytest.raises(ValidationError) as refused:
        service.generate(request(init_image=InputImage.of(Image.new("RGB", (64, 64)))), save=False)
    assert refused.value.field == "mode" and "hosted backend" in str(refused.value)
    assert "it can: txt2img" in str(refused.value) and hub.requests == []
