"""The studio's MCP server, served for real and driven by the ``mcp`` package's client."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import io
from collections.abc import Awaitable, Callable
from typing import Any

import gradio as gr
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from PIL import Image

from huatu.api.gate import ApiGate
from huatu.metadata import parse_parameters, read_parameters
from huatu.server import Access
from huatu.service import ImageService
from huatu.ui.mcp_tool import make_generate_image
from tests.helpers import serving_app

MCP_PATH = "/gradio_api/mcp/"
PARAMETERS = [
    "prompt",
    "negative_prompt",
    "steps",
    "guidance",
    "width",
    "height",
    "seed",
    "num_images",
    "scheduler",
    "model",
]


def with_session(
    url: str, work: Callable[[ClientSession], Awaitable[Any]], headers: dict | None = None
) -> Any:
    """Connect an MCP client session to ``url``'s MCP server, run ``work`` in it, return what
    it returns."""

    async def run() -> Any:
        async with (
            create_mcp_http_client(headers=headers) as http,
            streamable_http_client(url + MCP_PATH, http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await asyncio.wait_for(session.initialize(), 30)
            return await work(session)

    # in a thread of its own: Playwright's sync API (browser tests, same pytest session) keeps
    # an event loop running in the main thread, where asyncio.run() would refuse to start
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def images_and_texts(result) -> tuple[list[Image.Image], list[str]]:
    """The decoded images and the texts of a tool result, in order."""
    images = [
        Image.open(io.BytesIO(base64.b64decode(item.data)))
        for item in result.content
        if item.type == "image"
    ]
    texts = [item.text for item in result.content if item.type == "text"]
    return images, texts


@pytest.fixture
def service(tiny_service, settings) -> ImageService:
    """The tiny model's service with this test's own outputs folder."""
    return ImageService(settings, tiny_service.choice, tiny_service.backend)


def test_mcp_offers_documented_tools_and_one_draws(service):
    async def work(session: ClientSession):
        tools = (await session.list_tools()).tools
        drawn = await session.call_tool(
            "generate_image",
            {"prompt": "a red fox", "steps": 2, "width": 64, "height": 64, "seed": 7},
        )
        refused = await session.call_tool(
            "generate_image", {"prompt": "a red fox", "steps": 2, "width": 65, "height": 64}
        )
        again = await session.call_tool(
            "generate_image",
            {"prompt": "two foxes", "steps": 2, "width": 96, "height": 64, "num_images": 2},
        )
        ui_only = await session.call_tool("generate", {"prompt": "a red fox"})
        return tools, drawn, refused, again, ui_only

    with serving_app(service, mcp=True) as url:
        tools, drawn, refused, again, ui_only = with_session(url, work)
        schema = httpx.get(url + "/gradio_api/mcp/schema", timeout=30).json()

        # two tools (the studio's UI endpoints stay out), described for an agent
        assert [tool.name for tool in tools] == ["generate_image", "edit_image"]
        assert [tool["name"] for tool in schema] == ["generate_image", "edit_image"]
        tool = tools[0]
        assert tool.description.startswith("Generate images from a text prompt")
        assert "Returns:" in tool.description and "seed" in tool.description
        properties = tool.inputSchema["properties"]
        assert list(properties) == PARAMETERS
        assert tool.inputSchema["required"] == ["prompt"]
        assert all(properties[name].get("description") for name in PARAMETERS)
        assert {name: properties[name].get("default") for name in PARAMETERS} == {
            "prompt": None,
            "negative_prompt": None,  # Gradio leaves out falsy defaults ("")
            "steps": 20,
            "guidance": 7.0,
            "width": 512,
            "height": 512,
            "seed": -1,
            "num_images": 1,
            "scheduler": "dpmpp_2m_karras",
            "model": None,  # empty: the loaded model
        }
        assert "models folder" in properties["model"]["description"]
        assert properties["steps"]["type"] == "integer"
        assert "euler_a" in properties["scheduler"]["enum"]
        assert "-1 picks a random seed" in properties["seed"]["description"]
        assert "multiple of 8" in properties["width"]["description"]

        # a call answers the image and its seed and parameters
        assert not drawn.isError
        images, texts = images_and_texts(drawn)
        assert [(image.format, image.size) for image in images] == [("PNG", (64, 64))]
        assert "seed(s): 7." in texts[-1] and "Seed: 7, Size: 64x64" in texts[-1]
        # the image's URL serves the saved PNG, metadata included
        (link,) = [text for text in texts if text.startswith("Image URL: ")]
        saved = httpx.get(link.removeprefix("Image URL: "), timeout=30)
        assert saved.status_code == 200
        parsed = parse_parameters(read_parameters(saved.content))
        assert parsed.prompt == "a red fox" and parsed.settings["Seed"] == "7"

        # a bad value is an error result naming the field and the value
        assert refused.isError
        assert "`width`" in refused.content[0].text and "65" in refused.content[0].text
        # and the server keeps serving
        assert not again.isError
        images, texts = images_and_texts(again)
        assert [image.size for image in images] == [(96, 64), (96, 64)]
        assert "None" not in texts  # no empty outputs for the images not made
        assert ui_only.isError and "Unknown tool" in ui_only.content[0].text


def test_mcp_is_served_only_when_asked(service):
    with serving_app(service) as url:
        for path in (MCP_PATH, "/gradio_api/mcp/sse", "/gradio_api/mcp/schema"):
            assert httpx.get(url + path, timeout=30).status_code == 404, path
        assert httpx.post(url + MCP_PATH, json={}, timeout=30).status_code == 404


def test_mcp_behind_an_api_key(service):
    async def work(session: ClientSession):
        tools = (await session.list_tools()).tools
        result = await session.call_tool(
            "generate_image",
            {"prompt": "a fox", "steps": 2, "width": 64, "height": 64, "seed": 3},
        )
        return tools, result

    with serving_app(service, mcp=True, access=Access(api_key="k-123")) as url:
        tools, result = with_session(url, work, headers={"Authorization": "Bearer k-123"})
        assert [tool.name for tool in tools] == ["generate_image", "edit_image"]
        assert not result.isError
        assert [image.size for image in images_and_texts(result)[0]] == [(64, 64)]
        # without the key the connection is refused
        with pytest.raises(Exception) as refused:
            with_session(url, lambda session: session.list_tools())
        assert refused.group_contains(httpx.HTTPStatusError, match="401 Unauthorized")
        assert httpx.post(url + MCP_PATH, json={}, timeout=30).status_code == 401


def test_a_flood_of_tool_calls_is_told_the_server_is_busy(service):
    full = ApiGate(limit=0)
    with pytest.raises(gr.Error, match="The server is busy"):
        make_generate_image(service, full)(prompt="a fox", steps=2, width=64, height=64)
    assert list(service.settings.outputs_dir.rglob("*.png")) == []


def test_the_tool_answers_in_the_callers_language(service):
    from huatu.request import GenerationRequest
    from huatu.ui.mcp_tool import result_text

    request = GenerationRequest.create(
        prompt="a fox", num_inference_steps=2, width=64, height=64, seed=7, num_images=2
    )
    result = service.generate(request, save=False)
    chinese = result_text(result, "zh-CN")
    assert chinese.startswith("已生成 2 张图片；种子：7, 8。")
    assert "第 2 张图片（种子 8）的参数：" in chinese and result.parameters[1] in chinese
    english = result_text(result)
    assert english.startswith("Generated 2 image(s); seed(s): 7, 8.")
    assert "Image 2 (seed 8) parameters:" in english


def test_edit_image_repaints_a_saved_image_and_keeps_the_rest(service):
    from PIL import ImageDraw

    from huatu.images import prepared_mask

    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((16, 16, 40, 40), fill=255)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    mask_b64 = base64.b64encode(buffer.getvalue()).decode()

    async def work(session: ClientSession):
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        drawn = await session.call_tool(
            "generate_image",
            {"prompt": "a fox", "steps": 2, "width": 64, "height": 64, "seed": 4},
        )
        (link,) = [
            item.text
            for item in drawn.content
            if item.type == "text" and item.text.startswith("Image URL: ")
        ]
        url = link.removeprefix("Image URL: ")
        edited = await session.call_tool(
            "edit_image",
            {"prompt": "a cat", "image": url, "mask": mask_b64, "steps": 4, "seed": 4},
        )
        elsewhere = await session.call_tool(
            "edit_image", {"prompt": "a cat", "image": "http://example.com/a.png"}
        )
        return tools["edit_image"], drawn, edited, elsewhere

    with serving_app(service, mcp=True) as url:
        tool, drawn, edited, elsewhere = with_session(url, work)
    assert tool.description.startswith("Edit a picture") and tool.inputSchema["required"] == [
        "prompt",
        "image",
    ]
    (source,) = images_and_texts(drawn)[0]
    assert not edited.isError, edited.content[0].text
    (result,) = images_and_texts(edited)[0]
    source, result = source.convert("RGB"), result.convert("RGB")
    soft = prepared_mask(mask, (64, 64), invert=False, blur=4)
    outside = [(x, y) for x in range(64) for y in range(64) if soft.getpixel((x, y)) == 0]
    assert outside and all(result.getpixel(xy) == source.getpixel(xy) for xy in outside)
    assert "Mask blur: 4" in images_and_texts(edited)[1][-1]
    assert elsewhere.isError and "URL of an image this server made" in elsewhere.content[0].text
