"""The hosted backend through the edges: the studio via gradio_client, and the CLI."""

from __future__ import annotations

import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from huatu.metadata import parse_parameters, read_parameters
from huatu.service import ImageService
from huatu.ui.studio import build_studio
from tests.helpers import huatu_env, invoke_huatu, serving
from tests.standin_hf import StandInHF, gone, image, rate_limited, seed_colour

KEY = "hf_test_SECRET_edges_4242"
#: Served by hf-inference in the stand-in Hub's catalogue, and takes every setting.
MODEL = "stabilityai/stable-diffusion-xl-base-1.0"


@pytest.fixture
def stand_in():
    with StandInHF(expected_key=KEY) as server:
        yield server


@pytest.mark.usefixtures("hub_reaches_stand_in")
def test_studio_on_hosted_backend_retries_and_keeps_the_key_hidden(stand_in, settings):
    hosted = replace(
        settings,
        hf_api_key=KEY,
        hf_router=stand_in.url,
        hf_endpoint=stand_in.url,
        hosted_timeout_s=20,
    )
    service = ImageService.start(hosted, model=MODEL, backend="hosted")
    assert service.backend is not None and "via hf-inference" in service.status
    stand_in.enqueue(rate_limited("1"), image())
    with serving(build_studio(service)) as url:
        client = Client(url, verbose=False)
        _, _, gallery, info, _ = client.predict(
            prompt="a dog in a park", width=256, height=128, seed=5, api_name="/generate"
        )
        path = gallery[0]["image"]
        picture = Image.open(path)
        assert picture.size == (256, 128)
        assert picture.convert("RGB").getpixel((0, 0)) == seed_colour(5)
        assert "Seed: 5" in info
        sent = stand_in.requests
        assert len(sent) == 2 and all(r.seed == 5 and r.bearer == KEY for r in sent)
        assert sent[-1].path == f"/hf-inference/models/{MODEL}"
        assert sent[-1].parameters["width"] == 256
        fields = parse_parameters(read_parameters(path))
        assert fields.settings["Model"] == MODEL and fields.settings["Seed"] == "5"
        # the service picked its own sampler: no preset is claimed for these settings
        assert fields.settings["Sampler"] == "Hosted default" and "Preset" not in fields.settings

        stand_in.enqueue(gone())
        with pytest.raises(AppError, match="not served") as caught:
            client.predict(prompt="a cat", seed=6, api_name="/generate")
        assert KEY not in str(caught.value)
        for page in ("", "config", "gradio_api/info"):
            with urllib.request.urlopen(f"{url}{page}") as response:
                assert KEY not in response.read().decode("utf-8", "replace")
    saved = list(settings.outputs_dir.rglob("*.png"))
    assert len(saved) == 1 and KEY.encode() not in saved[0].read_bytes()


def test_cli_uses_the_tutorial_endpoint_and_shows_the_wait(stand_in, cache_dir, tmp_path: Path):
    stand_in.enqueue(rate_limited("1"), image("json-string"))
    (tmp_path / ".env").write_text(f"HF_API_KEY={KEY}\nHF_API_TTI_BASE={stand_in.tti_url}\n")
    env = huatu_env(cache_dir, tmp_path / "outputs")
    args = ("a mecha robot in a favela", "--backend", "hosted", "--seed", "11")
    done = invoke_huatu(
        "generate",
        *args,
        "--width",
        "128",
        "--height",
        "128",
        "--out",
        "pngs",
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "tutorial endpoint" in done.stderr and "retrying in" in done.stderr
    assert KEY not in done.stderr + done.stdout
    (path,) = [Path(line) for line in done.stdout.splitlines()]
    assert Image.open(tmp_path / path).size == (128, 128)
    assert stand_in.requests[-1].json["inputs"] == "a mecha robot in a favela"
    assert stand_in.requests[-1].seed == 11
