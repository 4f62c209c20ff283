"""The studio's editing handlers: upscaling a picture, showing the source used, sending a
picture to image to image or inpainting, and sizing the form to a picture put in.

Layout is in :mod:`huatu.ui.modes`; reading the mode controls into a request is
:func:`huatu.ui.form.edit_values`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from huatu.errors import HuatuError, ValidationError
from huatu.images import natural_size, read_image
from huatu.messages import message, render
from huatu.ui.common import error_for_person, request_language
from huatu.ui.form import editor_pictures, outputs
from huatu.ui.modes import SHOWN_IN, shown

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.request import GenerationRequest
    from huatu.service import ImageService

#: The mask's colour over the source in the "source used" picture.
MASK_TINT = (255, 64, 64)


def upscale_source(form: Mapping[str, Any]) -> Any:
    """The checked picture to upscale (the image editor's).

    Raises:
        ValidationError: no picture, or one that cannot be used.
    """
    background, _ = editor_pictures(form.get("source"))
    if background is None:
        raise ValidationError("init_image", None, "required_for_mode", mode="upscale")
    picture, _ = read_image("init_image", background)
    return picture


def upscale_run(service: ImageService, form: Mapping[str, Any], language: str) -> Iterator[tuple]:
    """Upscale mode: the picture made bigger and saved, shown like a generated one."""
    from huatu.upscaling import upscale_picture

    try:
        picture = upscale_source(form)
        done = upscale_picture(
            picture,
            form.get("upscale_scale"),
            form.get("upscaler") or "Lanczos",
            outputs_dir=service.settings.outputs_dir,
        )
    except HuatuError as error:
        raise error_for_person(error, service, language) from None
    size = f"{done.image.width}×{done.image.height}"
    said = message("upscaled_to", language, size=size)
    yield outputs(
        progress=said, gallery=[(str(done.path), size)], info=said, used=gr.update(visible=False)
    )


def used_preview(request: GenerationRequest) -> Any:
    """The "source used" picture: the source with its mask tinted, shown beside the result of
    an editing run; hidden for text to image."""
    if request.init_image is None:
        return gr.update(visible=False, value=None)
    picture = request.init_image.image
    if request.mask is not None:
        picture = tinted(picture, request.mask.image)
    return gr.update(visible=True, value=picture)


def tinted(picture: Image, mask: Image) -> Image:
    """``picture`` with ``mask``'s white tinted red, half see-through."""
    from PIL import Image as PILImage

    if mask.size != picture.size:
        mask = mask.resize(picture.size)
    overlay = PILImage.new("RGB", picture.size, MASK_TINT)
    return PILImage.composite(
        PILImage.blend(picture, overlay, 0.5), picture, mask.point(lambda v: 255 if v else 0)
    )


def send_to_edit(
    path: Any, mode: str, request: gr.Request | None = None, *, roots: tuple[Path, ...] = ()
) -> tuple:
    """Send to image to image / inpaint: the Generate tab, ``mode`` chosen, the picture at
    ``path`` in the image editor, the size set to the picture's, the mode's controls shown.
    ``path`` is read only inside ``roots`` (the outputs folder, Gradio's cache): a path a page
    sends cannot make the server read its other files. Returns updates for (tabs, mode,
    source, width, height, *mode groups)."""
    target = Path(str(path)).resolve() if path else None
    if target is None or not any(target.is_relative_to(root.resolve()) for root in roots):
        gr.Warning(message("info_nothing", request_language(request)))
        return (gr.skip(),) * (5 + len(SHOWN_IN))
    try:
        picture, _ = read_image("image", target)
    except ValidationError as error:
        gr.Warning(render(error.notice, request_language(request)))
        return (gr.skip(),) * (5 + len(SHOWN_IN))
    width, height = natural_size(picture.size)
    editor = {"background": picture.image, "layers": [], "composite": picture.image}
    return (gr.update(selected="generate"), mode, editor, width, height, *shown(mode))


def picked(evt: gr.SelectData) -> str | None:
    """The path of the gallery picture clicked."""
    value = evt.value if isinstance(evt.value, dict) else {}
    image = value.get("image") if isinstance(value.get("image"), dict) else value
    return image.get("path") if isinstance(image, dict) else None


def sized_to_source(value: Any) -> tuple[Any, Any]:
    """The form's width and height set to a picture put in the image editor (scaled into the
    limits); unchanged without one."""
    background, _ = editor_pictures(value)
    if background is None:
        return gr.skip(), gr.skip()
    return natural_size(background.size)


def readable_roots(outputs_dir: Path) -> tuple[Path, ...]:
    """Where "Send to …" may read a picture: the outputs folder and Gradio's cache (its
    copies of results and uploads)."""
    from gradio.utils import get_upload_folder

    return (outputs_dir, Path(get_upload_folder()))
