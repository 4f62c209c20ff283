"""Image to image, inpainting, outpainting and hires fix on the tiny model: each test fails
when the mode is wrong (the tiny model draws noise, so what is checked is what a mode
promises about the pixels and sizes, not what they show)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from huatu.errors import ValidationError
from huatu.images import (
    InputImage,
    fit,
    keep_outside,
    outpaint_canvas,
    prepared_mask,
    read_image,
    upscale,
)
from huatu.messages import render
from huatu.metadata import parse_parameters, read_parameters
from huatu.request import GenerationRequest
from huatu.service import ImageService

SIDE = 64


def picture(colour=(200, 30, 30), size=(SIDE, SIDE)) -> Image.Image:
    """A red square with a green block: something a mode could lose."""
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle((10, 10, 40, 40), fill=(10, 200, 10))
    return image


def square_mask(size=(SIDE, SIDE), box=(20, 20, 44, 44)) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


def edit(**fields) -> GenerationRequest:
    base = {"prompt": "a cat", "width": SIDE, "height": SIDE, "seed": 3, "num_inference_steps": 4}
    base.update(fields)
    return GenerationRequest.create(**base)


def pixels(image: Image.Image) -> list:
    return list(image.convert("RGB").get_flattened_data())


@pytest.fixture(scope="module")
def service(tiny_service: ImageService) -> ImageService:
    return tiny_service


# -- image to image ---------------------------------------------------------------------------


def test_strength_too_low_for_a_step_returns_the_source_exactly(service):
    source = InputImage.of(picture())
    # 4 steps × 0.2 = 0.8 steps: no denoising step at all, so the result is the source
    result = service.generate(edit(init_image=source, strength=0.2), save=False)
    assert pixels(result.images[0]) == pixels(source.image)
    assert "Denoising strength: 0.2" in result.parameters[0]


def test_strength_one_does_not_depend_on_the_source(service):
    red, blue = InputImage.of(picture()), InputImage.of(picture((0, 0, 250)))
    first = service.generate(edit(init_image=red, strength=1.0), save=False).images[0]
    second = service.generate(edit(init_image=blue, strength=1.0), save=False).images[0]
    assert pixels(first) == pixels(second)


def test_partial_strength_depends_on_the_source_and_counts_its_steps(service):
    red, blue = InputImage.of(picture()), InputImage.of(picture((0, 0, 250)))
    events = []
    first = service.generate(
        edit(init_image=red, strength=0.5, num_inference_steps=10),
        save=False,
        progress=lambda event: events.append((event.step, event.total)),
    ).images[0]
    second = service.generate(
        edit(init_image=blue, strength=0.5, num_inference_steps=10), save=False
    ).images[0]
    assert pixels(first) != pixels(second)
    assert events[-1] == (5, 5)  # strength × steps


def test_the_three_resize_modes_give_the_size_asked():
    wide = picture(size=(128, 64))
    for mode in ("just_resize", "crop_and_resize", "resize_and_fill"):
        assert fit(wide, 64, 64, mode).size == (64, 64)
    cropped = fit(wide, 64, 64, "crop_and_resize")
    assert cropped.getpixel((0, 0)) == wide.getpixel((32, 0))  # the middle, not squeezed
    filled = fit(wide, 64, 64, "resize_and_fill")
    assert filled.getpixel((32, 16)) == wide.resize((64, 32)).getpixel((32, 0))


# -- inpainting and outpainting ---------------------------------------------------------------


@pytest.mark.parametrize("area", ["whole", "only_masked"])
def test_inpainting_keeps_every_pixel_outside_the_blurred_mask(service, area):
    source = picture()
    mask = square_mask()
    result = service.generate(
        edit(
            init_image=InputImage.of(source),
            mask=InputImage.of(mask),
            mask_blur=4,
            inpaint_area=area,
        ),
        save=False,
    ).images[0]
    soft = prepared_mask(mask, source.size, invert=False, blur=4)
    outside = [(x, y) for x in range(SIDE) for y in range(SIDE) if soft.getpixel((x, y)) == 0]
    inside = [(x, y) for x in range(24, 40) for y in range(24, 40)]
    assert len(outside) > SIDE * SIDE // 2
    assert all(result.getpixel(xy) == source.getpixel(xy) for xy in outside)
    assert any(result.getpixel(xy) != source.getpixel(xy) for xy in inside)


def test_an_inverted_mask_repaints_the_rest(service):
    source = picture()
    result = service.generate(
        edit(
            init_image=InputImage.of(source),
            mask=InputImage.of(square_mask()),
            invert_mask=True,
            mask_blur=0,
        ),
        save=False,
    )
    image = result.images[0]
    assert all(
        image.getpixel((x, y)) == source.getpixel((x, y))
        for x in range(21, 44)
        for y in range(21, 44)
    )
    assert "Mask mode: Inpaint not masked" in result.parameters[0]


def test_a_mask_of_another_size_is_resized_and_said(service):
    result = service.generate(
        edit(
            init_image=InputImage.of(picture()),
            mask=InputImage.of(square_mask((32, 32), (10, 10, 22, 22))),
        ),
        save=False,
    )
    assert any("was resized to the picture's size (64×64)" in render(n) for n in result.notices)


def test_outpainting_extends_the_canvas_and_keeps_the_old_pixels(service):
    source = picture()
    result = service.generate(
        edit(init_image=InputImage.of(source), outpaint=(16, 8, 0, 24)), save=False
    )
    image = result.images[0]
    assert image.size == (SIDE + 24, SIDE + 24)
    assert all(
        image.getpixel((x + 16, y)) == source.getpixel((x, y))
        for x in range(SIDE)
        for y in range(SIDE)
    )
    assert "Outpaint: 16 8 0 24" in result.parameters[0]
    assert "Size: 88x88" in result.parameters[0]


def test_outpaint_beyond_the_limits_is_refused_before_anything_runs():
    with pytest.raises(ValidationError) as refused:
        edit(init_image=InputImage.of(picture()), width=1536, height=64, outpaint=(8, 0, 0, 0))
    assert refused.value.field == "outpaint" and "1544×64" in str(refused.value)
    with pytest.raises(ValidationError, match="multiple of 8"):
        edit(init_image=InputImage.of(picture()), outpaint=(5, 0, 0, 0))


def test_pixel_helpers_keep_outside_and_canvas():
    source = picture()
    canvas, grown = outpaint_canvas(source, None, (8, 0, 8, 0))
    assert canvas.size == (72, 72) and canvas.crop((8, 8, 72, 72)).tobytes() == source.tobytes()
    assert grown.getpixel((0, 0)) == 255 and grown.getpixel((40, 40)) == 0
    other = Image.new("RGB", source.size, (1, 2, 3))
    kept = keep_outside(other, source, square_mask())
    assert kept.getpixel((0, 0)) == source.getpixel((0, 0))
    assert kept.getpixel((30, 30)) == (1, 2, 3)


# -- hires fix and upscaling ------------------------------------------------------------------


@pytest.mark.parametrize("upscaler", ["Lanczos", "Latent"])
def test_hires_fix_returns_the_upscaled_size_and_counts_both_passes(service, upscaler):
    events = []
    result = service.generate(
        edit(hires_scale=2, hires_steps=6, hires_strength=0.5, hires_upscaler=upscaler),
        save=False,
        progress=lambda event: events.append((event.step, event.total)),
    )
    assert result.images[0].size == (128, 128)
    assert [step for step, _ in events] == list(range(1, 8))  # 4 + 6 × 0.5
    assert {total for _, total in events} == {7}
    text = result.parameters[0]
    assert "Size: 128x128" in text and "Hires upscale: 2" in text
    assert f"Hires upscaler: {upscaler}" in text and "Denoising strength: 0.5" in text
    parsed = parse_parameters(text).to_request_fields()
    assert parsed["width"] == 64 and parsed["hires_scale"] == 2  # the first pass's size back


def test_hires_fix_past_the_side_limit_is_refused():
    with pytest.raises(ValidationError) as refused:
        edit(width=1152, height=512, hires_scale=1.5)
    assert refused.value.field == "hires_scale" and "1728×768" in str(refused.value)


def test_upscale_is_lanczos_to_the_scaled_size():
    image = picture()
    bigger = upscale(image, 2.5)
    assert bigger.size == (160, 160)
    assert bigger.tobytes() == image.resize((160, 160), Image.Resampling.LANCZOS).tobytes()


# -- shared weights and saved metadata --------------------------------------------------------


def test_editing_pipelines_share_the_text_to_image_weights(service):
    backend = service.backend
    for pipe in (backend.editing.img2img, backend.editing.inpaint):
        assert pipe.unet is backend.pipe.unet and pipe.vae is backend.pipe.vae
        assert pipe.text_encoder is backend.pipe.text_encoder


def test_saved_inpaint_png_reads_back_its_mode(service, tmp_path: Path):
    own = ImageService.start(
        replace(service.settings, outputs_dir=tmp_path), model="tiny", backend="local"
    )
    result = own.generate(
        edit(
            init_image=InputImage.of(picture()),
            mask=InputImage.of(square_mask()),
            mask_blur=6,
            masked_content="latent_noise",
            strength=0.9,
        )
    )
    fields = parse_parameters(read_parameters(result.paths[0])).to_request_fields()
    assert fields["mode"] == "inpaint" and fields["strength"] == 0.9
    assert fields["mask_blur"] == 6 and fields["masked_content"] == "latent_noise"


# -- pictures from outside ----------------------------------------------------------------------


def png(image: Image.Image, **options) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def test_read_image_checks_what_comes_in(tmp_path: Path):
    checked, notices = read_image("init_images", png(picture()))
    assert checked.size == (SIDE, SIDE) and checked.image.mode == "RGB" and notices == []
    with pytest.raises(ValidationError) as refused:
        read_image("init_images", b"not an image at all")
    assert refused.value.field == "init_images" and "complete PNG" in str(refused.value)
    with pytest.raises(ValidationError, match="at most 20 MB"):
        read_image("init_images", b"\0" * (20 * 1024 * 1024 + 1))
    with pytest.raises(ValidationError, match="complete PNG"):
        read_image("init_images", png(picture())[:60])  # truncated
    bomb = png(Image.new("1", (5000, 5000)))
    with pytest.raises(ValidationError, match="4096×4096"):
        read_image("image", bomb)
    with pytest.raises(ValidationError, match="can be read"):
        read_image("--init-image", tmp_path / "missing.png")


def test_read_image_applies_exif_orientation_and_takes_the_first_frame():
    tall = Image.new("RGB", (40, 80), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    import io

    buffer = io.BytesIO()
    tall.save(buffer, format="JPEG", exif=exif)
    turned, _ = read_image("image", buffer.getvalue())
    assert turned.size == (80, 40)
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    first, notices = read_image("image", buffer.getvalue())
    assert first.image.getpixel((0, 0))[0] > 200
    assert "first frame" in render(notices[0])


def test_a_transparent_mask_is_read_by_its_alpha():
    rgba = Image.new("RGBA", (8, 8), (255, 255, 255, 0))
    rgba.putpixel((1, 1), (255, 255, 255, 255))
    mask, _ = read_image("mask", png(rgba), mask=True)
    assert mask.image.mode == "L"
    assert mask.image.getpixel((1, 1)) == 255 and mask.image.getpixel((0, 0)) == 0


def test_requests_need_their_pictures():
    with pytest.raises(ValidationError) as refused:
        GenerationRequest.create(prompt="a", mode="img2img")
    assert refused.value.field == "init_image"
    with pytest.raises(ValidationError) as refused:
        GenerationRequest.create(prompt="a", mode="inpaint", init_image=InputImage.of(picture()))
    assert refused.value.field == "mask"
    with pytest.raises(ValidationError) as refused:
        GenerationRequest.create(prompt="a", init_image=InputImage.of(picture()), strength=1.5)
    assert refused.value.field == "strength"


# -- history: the pictures a run started from --------------------------------------------------


def test_history_keeps_source_and_mask_once_and_restores_them(service, tmp_path: Path):
    import gradio as gr

    from huatu.history.sources import MASK_KEY, SOURCE_KEY
    from huatu.ui.form import FILL
    from huatu.ui.modes import SHOWN_IN
    from huatu.ui.saved import SavedImageHandlers

    own = ImageService.start(
        replace(service.settings, outputs_dir=tmp_path), model="tiny", backend="local"
    )
    source, mask = InputImage.of(picture()), InputImage.of(square_mask())
    for seed in (1, 2):  # the same pictures twice: kept once
        own.generate(edit(init_image=source, mask=mask, seed=seed))
    kept = sorted((tmp_path / "sources").rglob("*.png"))
    assert len(kept) == 2
    entries = own.history.list()
    assert {entry.extra[SOURCE_KEY] for entry in entries} == {
        f"sources/{source.digest[:2]}/{source.digest}.png"
    }
    assert all(MASK_KEY in entry.extra for entry in entries)

    handlers = SavedImageHandlers(service=own, history=own.history)
    ids = [entry.id for entry in entries]
    picked = gr.SelectData(None, {"index": 0, "value": None})
    entry_id, details, sources = handlers.select_history(ids, picked)
    assert entry_id == ids[0] and "Mask blur" in details
    assert sources["visible"] and len(sources["value"]) == 2

    restored = handlers.restore_history(entry_id)
    filled = dict(zip(FILL, restored, strict=True))
    assert filled["mode"] == "inpaint"
    editor = filled["source"]
    assert pixels(editor["background"]) == pixels(source.image)
    (layer,) = editor["layers"]
    assert layer.getchannel("A").getpixel((30, 30)) == 255 and layer.getpixel((0, 0))[3] == 0
    assert filled["mask_blur"] == 4 and filled["strength"] == 0.75
    assert filled["masked_content"] == "original"
    groups = [filled[name]["visible"] for name in SHOWN_IN]
    assert groups == ["inpaint" in modes for modes in SHOWN_IN.values()]


# -- an inpainting checkpoint (9-channel UNet) ---------------------------------------------------


@pytest.fixture(scope="module")
def inpainting_model(tiny_model: Path, tmp_path_factory) -> Path:
    """The tiny model with an inpainting checkpoint's UNet: 9 input channels (latents, mask,
    masked-picture latents), random weights, saved as a diffusers folder."""
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel

    pipe = StableDiffusionPipeline.from_pretrained(tiny_model)
    config = {**pipe.unet.config, "in_channels": 9}
    torch.manual_seed(0)
    pipe.unet = UNet2DConditionModel.from_config(config)
    folder = tmp_path_factory.mktemp("tiny-inpainting")
    pipe.save_pretrained(folder)
    return folder


def test_an_inpainting_checkpoint_inpaints_and_only_inpaints(
    inpainting_model: Path, base_settings, tmp_path: Path
):
    settings = replace(base_settings, outputs_dir=tmp_path)
    own = ImageService.start(settings, model=str(inpainting_model), backend="local")
    assert own.backend is not None, own.load_error
    assert own.capabilities.modes == {"inpaint"}
    assert own.backend.editing.inpaint.unet.config.in_channels == 9
    source, mask = picture(), square_mask()
    result = own.generate(
        edit(init_image=InputImage.of(source), mask=InputImage.of(mask), mask_blur=4), save=False
    )
    soft = prepared_mask(mask, source.size, invert=False, blur=4)
    outside = [(x, y) for x in range(SIDE) for y in range(SIDE) if soft.getpixel((x, y)) == 0]
    assert all(result.images[0].getpixel(xy) == source.getpixel(xy) for xy in outside)
    with pytest.raises(ValidationError) as refused:
        own.generate(edit(), save=False)
    assert refused.value.field == "mode" and "it can: inpaint" in str(refused.value)


def test_text_is_never_read_as_a_file_name(tmp_path: Path):
    """An API client's text is base64 or nothing: it cannot make the server read its files."""
    secret = tmp_path / "private.png"
    picture().save(secret)
    with pytest.raises(ValidationError, match="complete PNG"):
        read_image("init_images", str(secret))
    checked, _ = read_image("--init-image", secret)  # a Path: the command line's own file
    assert checked.size == (SIDE, SIDE)


def test_send_to_edit_reads_only_the_outputs_and_gradio_cache(tmp_path: Path):
    from huatu.ui.edits import send_to_edit

    outputs, elsewhere = tmp_path / "outputs", tmp_path / "elsewhere"
    outputs.mkdir()
    elsewhere.mkdir()
    picture().save(outputs / "made.png")
    picture().save(elsewhere / "private.png")
    sent = send_to_edit(str(outputs / "made.png"), "img2img", roots=(outputs,))
    assert sent[1] == "img2img" and sent[2]["background"].size == (SIDE, SIDE)
    refused = send_to_edit(str(elsewhere / "private.png"), "img2img", roots=(outputs,))
    assert all(value == {"__type__": "update"} for value in refused)  # nothing read


def test_image_info_sends_an_edited_image_back_to_its_mode(service, tmp_path: Path):
    from huatu.ui.form import FILL
    from huatu.ui.saved import SavedImageHandlers

    own = ImageService.start(
        replace(service.settings, outputs_dir=tmp_path), model="tiny", backend="local"
    )
    made = own.generate(edit(init_image=InputImage.of(picture()), outpaint=(8, 0, 0, 16)))
    handlers = SavedImageHandlers(service=own, history=own.history)
    text, fields = handlers.read_image_info(str(made.paths[0]))
    assert fields["mode"] == "inpaint" and fields["outpaint"] == (8, 0, 0, 16)
    filled = handlers.send_info_to_generate(fields, str(made.paths[0]))
    edit_values = dict(zip(FILL, filled, strict=True))
    assert edit_values["mode"] == "inpaint"
    assert edit_values["source"]["background"].size == (SIDE + 8, SIDE + 16)  # the image itself
    assert (edit_values["outpaint_left"], edit_values["outpaint_down"]) == (8, 16)
    assert edit_values["strength"] == 0.75
