"""Settings from the environment and .env, backend selection, notices."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from huatu.backends.selection import choose_backend
from huatu.config import DEFAULT_HOSTED_MODEL, DEFAULT_MODEL, Settings, load_settings
from huatu.device import cpu_supports_bf16
from huatu.errors import SettingsError, UnknownNameError, ValidationError
from huatu.messages import Notice, language_from_header, render
from huatu.prompt_checks import foreign_script, prompt_notices

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_defaults_without_environment():
    settings = load_settings({}, dotenv=False)
    assert settings.model == DEFAULT_MODEL
    assert settings.backend == "auto" and settings.port == 7860
    assert settings.hf_api_key is None and settings.hosted_provider == "auto"
    assert settings.hf_endpoint == "https://huggingface.co"
    # the local default (SD 1.5) is served by no provider: hosted, it means FLUX.1 [schnell]
    assert settings.effective_hosted_model == DEFAULT_HOSTED_MODEL
    assert replace(settings, model="owner/name").effective_hosted_model == "owner/name"
    tutorial = replace(settings, hf_api_tti_base="https://tti.example.com")
    assert tutorial.effective_hosted_model == DEFAULT_MODEL  # the endpoint runs what it runs


def test_dotenv_found_upward_and_environment_wins(tmp_path: Path, monkeypatch):
    (tmp_path / ".env").write_text(
        "HF_API_KEY=hf_from_dotenv_123\nHUATU_MODEL=tiny\nGRADIO_SERVER_PORT=7999\n"
    )
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    settings = load_settings({"GRADIO_SERVER_PORT": "8123"})
    assert settings.hf_api_key == "hf_from_dotenv_123"
    assert settings.model == "tiny"
    assert settings.port == 8123


def test_hf_token_is_the_fallback_key():
    assert load_settings({"HF_TOKEN": "hf_tok"}, dotenv=False).hf_api_key == "hf_tok"
    both = load_settings({"HF_TOKEN": "hf_tok", "HF_API_KEY": "hf_key"}, dotenv=False)
    assert both.hf_api_key == "hf_key"


def test_key_is_not_in_repr_and_is_redacted():
    settings = Settings(hf_api_key="hf_SECRET_value")
    assert "hf_SECRET_value" not in repr(settings)
    assert settings.redact("Bearer hf_SECRET_value failed") == "Bearer *** failed"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GRADIO_SERVER_PORT": "http"}, "GRADIO_SERVER_PORT must be a port number"),
        ({"GRADIO_SERVER_PORT": "70000"}, "but is '70000'"),
        ({"HUATU_HOSTED_TIMEOUT": "-3"}, "HUATU_HOSTED_TIMEOUT must be more than 0"),
    ],
)
def test_bad_environment_values_are_named(env, message):
    with pytest.raises(ValueError, match=message):
        load_settings(env, dotenv=False)


def _no_gpu() -> bool:
    return False


def _gpu() -> bool:
    return True


@pytest.mark.parametrize(
    ("key", "model", "backend", "gpu", "expected", "reason"),
    [
        (None, DEFAULT_MODEL, "auto", _no_gpu, "local", "no Hugging Face key"),
        ("hf_x", DEFAULT_MODEL, "auto", _no_gpu, "hosted", "key is set and there is no GPU"),
        ("hf_x", DEFAULT_MODEL, "auto", _gpu, "local", "a GPU is available"),
        ("hf_x", "tiny", "auto", _no_gpu, "local", "tiny model runs locally"),
        (None, DEFAULT_MODEL, "hosted", _no_gpu, "hosted", "--backend hosted"),
        ("hf_x", DEFAULT_MODEL, "local", _no_gpu, "local", "--backend local"),
    ],
)
def test_backend_selection(key, model, backend, gpu, expected, reason):
    choice = choose_backend(Settings(hf_api_key=key), model=model, backend=backend, has_gpu=gpu)
    served = DEFAULT_HOSTED_MODEL if expected == "hosted" else model
    assert choice.backend == expected and choice.model == served
    assert reason in render(choice.reason)
    assert CJK.search(render(choice.reason, "zh-CN"))  # said in Chinese too, by key


def test_local_folder_runs_locally(tmp_path: Path):
    choice = choose_backend(Settings(hf_api_key="hf_x"), model=str(tmp_path), has_gpu=_no_gpu)
    assert choice.backend == "local" and "local folder" in render(choice.reason)
    with pytest.raises(ValidationError, match="runs only on the local backend"):
        choose_backend(Settings(), model="tiny", backend="hosted")


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="Available: auto, local, hosted"):
        choose_backend(Settings(), backend="cloud")


def test_cpu_bf16_detection_reads_cpu_flags(tmp_path: Path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f amx_bf16 amx_tile\n")
    assert cpu_supports_bf16(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2\n")
    assert not cpu_supports_bf16(cpuinfo)
    assert not cpu_supports_bf16(tmp_path / "missing")


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("a dog in a park", None),
        ("café crème, 4k, (masterpiece:1.2) 🐶", None),
        ("公园里的一只狗", "cjk"),
        ("a dog 在公园", "cjk"),
        ("собака в парке", "other"),
    ],
)
def test_foreign_script_detection(text, script):
    assert foreign_script(text) == script


def test_notices_for_chinese_and_long_prompts_in_both_languages():
    notices = prompt_notices(
        {"prompt": "公园里的一只狗", "negative_prompt": "word " * 80},
        count_tokens=lambda text: len(text.split()),
        max_tokens=75,
    )
    assert [n.key for n in notices] == ["non_english_prompt", "prompt_truncated"]
    assert "only understands English" in render(notices[0], "en")
    assert "只懂英文" in render(notices[0], "zh-CN")
    assert "80 tokens" in render(notices[1], "en") and "负面提示" in render(notices[1], "zh-CN")


def test_language_from_accept_language():
    assert language_from_header("zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert language_from_header("zh-TW") == "zh-CN"
    assert language_from_header("en-US,en;q=0.9") == "en"
    assert language_from_header(None) == "en"
    assert render(Notice("seed_used", {"seeds": "5"}), "fr") == "Seed: 5"


def test_clip_token_estimate_splits_like_clip_pre_tokenizer():
    from huatu.prompt_checks import estimate_clip_tokens

    assert estimate_clip_tokens("a dog in a park") == 5
    assert estimate_clip_tokens("masterpiece, (best quality:1.2), 4k") == 13
    assert estimate_clip_tokens("") == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HUATU_DEVICE": "tpu"}, "HUATU_DEVICE must be one of cuda, mps, cpu, but is 'tpu'."),
        ({"HUATU_DTYPE": "float64"}, "HUATU_DTYPE must be one of float16, bfloat16, float32"),
    ],
)
def test_bad_device_or_dtype_is_named(env, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_settings(env, dotenv=False)


def test_ray_replicas_come_from_the_environment_and_the_flags() -> None:
    import click

    from huatu.cli.serve import with_ray_flags
    from huatu.config import RayOptions

    env = {"HUATU_RAY_ADDRESS": "auto", "HUATU_RAY_REPLICAS": "1-3", "HUATU_RAY_GPUS": "1"}
    settings = load_settings(env, dotenv=False)
    assert settings.ray == RayOptions("auto", 1, 3, 1.0)
    assert load_settings({}, dotenv=False).ray == RayOptions()
    for bad in ("0", "3-1", "two"):
        with pytest.raises(SettingsError, match="HUATU_RAY_REPLICAS"):
            load_settings({"HUATU_RAY_REPLICAS": bad}, dotenv=False)
    flagged = with_ray_flags(settings, "ray://head:10001", 2, None, None, 0.5)
    assert flagged.ray == RayOptions("ray://head:10001", 2, 2, 0.5)
    assert with_ray_flags(settings, None, None, 2, None, None).ray.max_replicas == 3
    assert with_ray_flags(settings, None, None, 4, None, None).ray.max_replicas == 4
    with pytest.raises(click.UsageError, match="--replicas"):
        with_ray_flags(settings, None, 2, 1, None, None)
    with pytest.raises(click.UsageError, match="cannot be more"):
        with_ray_flags(settings, None, None, 3, 2, None)
