"""The editing modes through the edges: the A1111 API with the unmodified ``webuiapi``
client, and the command line (``--init-image`` …, ``huatu upscale``, prompt files)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import pytest
import webuiapi
from PIL import Image, ImageDraw

from huatu.images import prepared_mask
from huatu.metadata import parse_parameters, read_parameters
from tests.helpers import huatu_env, invoke_huatu, serving_app

SIDE = 64
FAST = {"steps": 4, "width": SIDE, "height": SIDE, "seed": 9}


def picture(colour=(200, 30, 30), size=(SIDE, SIDE)) -> Image.Image:
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle((10, 10, 40, 40), fill=(10, 200, 10))
    return image


def square_mask(size=(SIDE, SIDE)) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle((20, 20, 44, 44), fill=255)
    return mask


def b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def outside_kept(result: Image.Image, source: Image.Image, mask: Image.Image, blur: int) -> bool:
    soft = prepared_mask(mask, source.size, invert=False, blur=blur)
    outside = [(x, y) for x in range(SIDE) for y in range(SIDE) if soft.getpixel((x, y)) == 0]
    return bool(outside) and all(result.getpixel(xy) == source.getpixel(xy) for xy in outside)


@pytest.fixture(scope="module")
def url(tiny_service):
    with serving_app(tiny_service) as base_url:
        yield base_url


@pytest.fixture
def api(url) -> webuiapi.WebUIApi:
    host, port = url.removeprefix("http://").split(":")
    return webuiapi.WebUIApi(host=host, port=int(port), steps=4)


# -- A1111 API ----------------------------------------------------------------------------------


def test_img2img_with_and_without_a_mask(api):
    source = picture()
    varied = api.img2img(
        images=[source], prompt="a cat", denoising_strength=0.6, width=SIDE, height=SIDE, seed=9
    )
    assert varied.image.size == (SIDE, SIDE)
    assert varied.info["denoising_strength"] == 0.6
    assert "Denoising strength: 0.6" in varied.info["infotexts"][0]

    mask = square_mask()
    painted = api.img2img(
        images=[source],
        mask_image=mask,
        prompt="a cat",
        mask_blur=4,
        inpaint_full_res=False,
        width=SIDE,
        height=SIDE,
        seed=9,
    )
    image = painted.image.convert("RGB")
    assert outside_kept(image, source, mask, 4)
    settings = parse_parameters(painted.info["infotexts"][0]).settings
    assert settings["Mask blur"] == "4" and settings["Masked content"] == "original"


def test_txt2img_hires_fix(api):
    result = api.txt2img(
        prompt="a lighthouse",
        width=SIDE,
        height=SIDE,
        enable_hr=True,
        hr_scale=2,
        hr_upscaler="Lanczos",
        hr_second_pass_steps=4,
        denoising_strength=0.5,
        seed=3,
    )
    assert result.image.size == (128, 128)
    settings = parse_parameters(result.info["infotexts"][0]).settings
    assert settings["Hires upscale"] == "2" and settings["Hires upscaler"] == "Lanczos"
    assert settings["Size"] == "128x128"


def test_extra_single_image_png_info_and_upscalers(api, url):
    source = picture()
    source.info["parameters"] = "a dog\nSteps: 4, Sampler: Euler, Seed: 1, Size: 64x64"
    bigger = api.extra_single_image(image=source, upscaler_1="Lanczos", upscaling_resize=2)
    assert bigger.image.size == (128, 128)
    kept = read_parameters(bigger.image)
    assert kept.startswith("a dog") and "Postprocess upscale by: 2" in kept

    info = api.png_info(bigger.image)
    assert info.info.startswith("a dog")
    assert info.json["parameters"]["Prompt"] == "a dog"
    names = [item["name"] for item in httpx.get(f"{url}/sdapi/v1/upscalers").json()]
    assert names == ["None", "Lanczos", "Nearest"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"init_images": ["bm90IGFuIGltYWdl"]}, "init_images", "complete PNG"),
        ({"init_images": []}, "init_images", "required for img2img"),
        ({"denoising_strength": 1.5}, "denoising_strength", "from 0 to 1"),
        ({"inpainting_fill": 7}, "inpainting_fill", "one of 0, 1, 2, 3"),
        ({"resize_mode": 3}, "resize_mode", "one of 0, 1, 2"),
        ({"mask": "bm90IGFuIGltYWdl"}, "mask", "complete PNG"),
    ],
)
def test_bad_img2img_fields_answer_422_naming_the_field(url, body, field, words):
    sent = {"prompt": "a cat", "init_images": [b64(picture())], **FAST, **body}
    answer = httpx.post(f"{url}/sdapi/v1/img2img", json=sent, timeout=60)
    assert answer.status_code == 422, answer.text
    (detail,) = answer.json()["detail"]
    assert detail["loc"] == ["body", field] and words in detail["msg"]
    fine = httpx.post(f"{url}/sdapi/v1/txt2img", json={"prompt": "still", **FAST}, timeout=60)
    assert fine.status_code == 200


# -- command line -------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    picture().save(tmp_path / "source.png")
    square_mask().save(tmp_path / "mask.png")
    return tmp_path


def run(args: list[str], files: Path, cache_dir: Path):
    env = huatu_env(cache_dir, files / "outputs")
    return invoke_huatu(*args, env=env, cwd=files)


def test_generate_inpaints_and_outpaints_from_files(files, cache_dir):
    common = ["--model", "tiny", "--steps", "4", "--width", "64", "--height", "64"]
    answer = run(
        ["generate", "a cat", "--init-image", "source.png", "--mask", "mask.png", *common],
        files,
        cache_dir,
    )
    assert answer.returncode == 0, answer.stderr
    made = Image.open(answer.stdout.strip()).convert("RGB")
    assert outside_kept(made, picture(), square_mask(), 4)

    answer = run(
        ["generate", "a cat", "--init-image", "source.png", "--outpaint", "8,8,0,16", *common],
        files,
        cache_dir,
    )
    assert answer.returncode == 0, answer.stderr
    assert Image.open(answer.stdout.strip()).size == (80, 80)

    refused = run(["generate", "a cat", "--init-image", "missing.png", *common], files, cache_dir)
    assert refused.returncode == 2 and "--init-image" in refused.stderr


def test_prompt_file_lines_carry_pictures_relative_to_the_file(files, cache_dir):
    folder = files / "batch"
    folder.mkdir()
    picture((0, 0, 200)).save(folder / "blue.png")
    lines = [
        {"prompt": "a dog", "init_image": "blue.png", "strength": 0.5},
        {"prompt": "a cat", "init_image": "../source.png", "mask": "../mask.png"},
    ]
    (folder / "edits.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    answer = run(
        [
            "generate",
            "--from-file",
            "batch/edits.jsonl",
            "--model",
            "tiny",
            "--steps",
            "4",
            "--width",
            "64",
            "--height",
            "64",
        ],
        files,
        cache_dir,
    )
    assert answer.returncode == 0, answer.stderr
    first, second = answer.stdout.split()
    assert "Denoising strength: 0.5" in read_parameters(first)
    assert "Mask blur: 4" in read_parameters(second)


def test_upscale_command(files, cache_dir):
    answer = run(["upscale", "source.png", "--scale", "2"], files, cache_dir)
    assert answer.returncode == 0, answer.stderr
    assert Image.open(answer.stdout.strip()).size == (128, 128)
    refused = run(["upscale", "source.png", "--scale", "9"], files, cache_dir)
    assert refused.returncode == 2 and "scale" in refused.stderr


# -- OpenAI API ---------------------------------------------------------------------------------


def png_file(image: Image.Image, name: str) -> tuple[str, bytes, str]:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return (name, buffer.getvalue(), "image/png")


@pytest.fixture
def openai_client(url):
    import openai

    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)


def decoded(item) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(item.b64_json))).convert("RGB")


def test_openai_edit_repaints_the_transparent_pixels_of_the_mask(openai_client):
    source = picture()
    mask = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 255))
    ImageDraw.Draw(mask).rectangle((20, 20, 44, 44), fill=(0, 0, 0, 0))  # edit here
    answer = openai_client.images.edit(
        image=png_file(source, "source.png"),
        mask=png_file(mask, "mask.png"),
        prompt="a cat",
        n=1,
        size="64x64",
        extra_body={"steps": 4, "seed": 5},
    )
    (item,) = answer.data
    assert answer.size == "64x64"
    assert outside_kept(decoded(item), source, square_mask(), 4)


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # openai's, for DALL·E 2
def test_openai_edit_of_a_transparent_picture_and_a_variation(openai_client):
    cut = picture().convert("RGBA")
    ImageDraw.Draw(cut).rectangle((20, 20, 44, 44), fill=(0, 0, 0, 0))
    edited = openai_client.images.edit(
        image=png_file(cut, "cut.png"), prompt="a cat", extra_body={"steps": 4}
    )
    assert decoded(edited.data[0]).size == (SIDE, SIDE)  # the picture's own size

    varied = openai_client.images.create_variation(
        image=png_file(picture(), "source.png"), n=2, size="256x256"
    )
    assert [decoded(item).size for item in varied.data] == [(256, 256)] * 2


def test_openai_edit_refusals_name_the_field(openai_client):
    import openai

    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.images.edit(image=("x.png", b"not a picture", "image/png"), prompt="a cat")
    assert caught.value.body["param"] == "image" and "complete PNG" in caught.value.message
    opaque = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 255))
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.images.edit(
            image=png_file(picture(), "a.png"), mask=png_file(opaque, "m.png"), prompt="a cat"
        )
    assert caught.value.body["param"] == "mask" and "transparent" in caught.value.message
