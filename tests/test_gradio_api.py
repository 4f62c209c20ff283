"""The studio's Gradio API (``/generate``) by keyword, through gradio_client and plain REST."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from gradio_client import Client
from PIL import Image

from huatu.metadata import parse_parameters, read_parameters
from huatu.service import ImageService
from tests.helpers import serving_app

#: /generate's parameters, in order, with their defaults (the prompt has none: required).
GENERATE_DEFAULTS = {
    "prompt": None,
    "negative_prompt": "",
    "steps": 20,
    "guidance": 7.0,
    "width": 512,
    "height": 512,
    "seed": -1,
    "num_images": 1,
    "scheduler": "dpmpp_2m_karras",
    "english_prompt": "",
}


@pytest.fixture
def service(tiny_service, settings) -> ImageService:
    """The tiny model's service with this test's own outputs folder."""
    return ImageService(settings, tiny_service.choice, tiny_service.backend)


def png_seed(image: Image.Image) -> int:
    """The seed recorded in a PNG's ``parameters`` metadata."""
    assert image.format == "PNG"
    return int(parse_parameters(read_parameters(image)).settings["Seed"])


def test_generate_by_keyword_with_gradio_client(service):
    with serving_app(service) as url:
        client = Client(url, verbose=False)
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        # the agent tool is callable but undocumented: the documented API stays the studio's
        assert set(endpoints) == {"/generate", "/stop", "/translate", "/image_info"}
        parameters = endpoints["/generate"]["parameters"]
        assert [p["parameter_name"] for p in parameters] == list(GENERATE_DEFAULTS)
        assert [p["parameter_has_default"] for p in parameters] == [False] + [True] * 9
        assert {p["parameter_name"]: p["parameter_default"] for p in parameters} == (
            GENERATE_DEFAULTS
        )

        progress, preview, gallery, info, english = client.predict(
            prompt="a cat", steps=2, width=64, height=96, seed=5, num_images=2, api_name="/generate"
        )
        images = [Image.open(item["image"]) for item in gallery]
        assert [image.size for image in images] == [(64, 96), (64, 96)]
        assert [png_seed(image) for image in images] == [5, 6]
        assert [item["caption"] for item in gallery] == ["Seed: 5", "Seed: 6"]
        assert info.startswith("Seed: 5, 6") and progress.startswith("Done: 2 image(s)")


def test_generate_through_the_rest_route(service):
    """What the README's curl example does: POST the inputs, then read the event stream."""
    data = ["a cat", "", 2, 7, 64, 96, 5, 1, "euler_a", ""]  # every input, in order
    with serving_app(service) as url, httpx.Client(base_url=url, timeout=60) as http:
        posted = http.post("/gradio_api/call/generate", json={"data": data})
        assert posted.status_code == 200
        event_id = posted.json()["event_id"]
        stream = http.get(f"/gradio_api/call/generate/{event_id}").text
        events = [line for line in stream.splitlines() if line.startswith("event: ")]
        assert events[0] == "event: generating" and events[-1] == "event: complete", stream
        complete = stream.split("event: complete\ndata: ", 1)[1].splitlines()[0]
        progress, preview, gallery, info, last_seeds, english = json.loads(complete)
        assert progress.startswith("Done: 1 image(s)") and info == "Seed: 5"
        (item,) = gallery
        assert item["caption"] == "Seed: 5"
        saved = http.get(item["image"]["url"])
        assert saved.status_code == 200
        with Image.open(io.BytesIO(saved.content)) as png:
            assert png.size == (64, 96) and png_seed(png) == 5
