"""The local backend's options: --low-memory (VAE tiling; CPU offload on CUDA) and --compile."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest

from huatu.backends.local import LocalBackend
from huatu.config import load_settings
from huatu.request import GenerationRequest
from tests.helpers import invoke_huatu


def test_the_flags_are_read_from_the_environment():
    settings = load_settings({"HUATU_COMPILE": "1", "HUATU_LOW_MEMORY": "true"}, dotenv=False)
    assert settings.compile and settings.low_memory
    assert not load_settings({}, dotenv=False).low_memory
    with pytest.raises(ValueError, match="HUATU_LOW_MEMORY must be 1 or 0.*'maybe'"):
        load_settings({"HUATU_LOW_MEMORY": "maybe"}, dotenv=False)


def test_low_memory_decodes_tile_by_tile_and_the_image_stays_close(settings):
    plain = LocalBackend("tiny", settings)
    saving = LocalBackend("tiny", replace(settings, low_memory=True))
    assert saving.pipe.vae.use_tiling and not plain.pipe.vae.use_tiling
    assert "low memory" in saving.description
    # the tiny VAE tiles above its 32-pixel sample size, so 128x128 is decoded in tiles
    request = GenerationRequest.create(
        prompt="a fox", num_inference_steps=2, width=128, height=128, seed=3
    )
    tiled = np.asarray(saving.generate(request).images[0], dtype=np.float32)
    whole = np.asarray(plain.generate(request).images[0], dtype=np.float32)
    assert tiled.shape == whole.shape == (128, 128, 3)
    # tiles are blended at their seams, so pixels differ a little there and nowhere much
    assert np.abs(tiled - whole).mean() / 255 < 0.05


@pytest.mark.skipif(
    not os.environ.get("HUATU_SLOW_TESTS"),
    reason="compiling even the tiny UNet takes about a minute; set HUATU_SLOW_TESTS=1",
)
def test_compile_happens_at_load_and_keeps_the_image(settings, tmp_path):
    request = GenerationRequest.create(prompt="a fox", num_inference_steps=2, width=64, height=64)
    request = request.with_seed(5)
    eager = LocalBackend("tiny", settings)
    compiled = LocalBackend("tiny", replace(settings, compile=True, cache_dir=tmp_path))
    assert "compiled in" in compiled.description
    assert any((tmp_path / "inductor").iterdir())  # the kernels are cached on disk
    a = np.asarray(eager.generate(request).images[0], dtype=np.float32)
    b = np.asarray(compiled.generate(request).images[0], dtype=np.float32)
    assert np.abs(a - b).mean() / 255 < 0.01


@pytest.fixture(scope="module")
def pickled_model(tmp_path_factory, tiny_model):
    """The tiny model saved again with pickle (.bin) weights."""
    from diffusers import StableDiffusionPipeline

    folder = tmp_path_factory.mktemp("pickled") / "tiny-pickled"
    pipe = StableDiffusionPipeline.from_pretrained(tiny_model)
    pipe.save_pretrained(folder, safe_serialization=False)
    assert list(folder.rglob("*.bin"))
    return folder


def test_pickle_weights_are_refused_unless_allowed(settings, pickled_model, caplog):
    from huatu.errors import ModelLoadError

    with pytest.raises(ModelLoadError) as refused:
        LocalBackend(str(pickled_model), settings)
    assert "only a pickle format" in str(refused.value)
    assert "--allow-pickle" in str(refused.value)
    allowed = LocalBackend(str(pickled_model), replace(settings, allow_pickle=True))
    assert "can run any code" in caplog.text  # the warning is logged
    request = GenerationRequest.create(prompt="a fox", num_inference_steps=2, width=64, height=64)
    assert allowed.generate(request.with_seed(1)).images[0].size == (64, 64)


def test_the_cli_refuses_pickle_weights_and_warns_when_they_are_allowed(
    pickled_model, cli_env, tmp_path
):
    """Through the ``generate`` command, in process (its subprocess run is in test_cli.py)."""
    before = os.environ.get("HUATU_ALLOW_PICKLE")
    command = ["generate", "a fox", "--model", str(pickled_model)]
    small = ["--steps", "1", "--width", "64", "--height", "64"]
    refused = invoke_huatu(*command, *small, env=cli_env, cwd=tmp_path)
    assert refused.returncode == 1 and "only a pickle format" in refused.stderr
    assert "Traceback" not in refused.stderr
    allowed = invoke_huatu(*command, *small, "--allow-pickle", env=cli_env, cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert "WARNING" in allowed.stderr and "can run any code" in allowed.stderr
    assert allowed.stdout.strip().endswith(".png")
    assert os.environ.get("HUATU_ALLOW_PICKLE") == before  # the flag ends with the command
