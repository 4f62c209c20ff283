"""Making an existing picture bigger: the one rule every edge's "upscale" follows.

Lanczos (or nearest) resampling today; :data:`huatu.images.UPSCALERS` is where a learned
upscaler joins later. The result keeps the source's A1111 parameters (when it has them) and
adds A1111's ``Postprocess upscale by`` / ``Postprocess upscaler`` to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from huatu.checks import check_number
from huatu.errors import ValidationError
from huatu.images import MAX_IMAGE_PIXELS, UPSCALERS, upscale

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.images import InputImage

MIN_UPSCALE, MAX_UPSCALE = 1.0, 4.0
DEFAULT_UPSCALE = 2.0


@dataclass(frozen=True)
class Upscaled:
    """An upscaled picture.

    Attributes:
        image: the bigger picture. parameters: its A1111 text. path: where it was saved, or
        ``None`` when it was not.
    """

    image: Image
    parameters: str
    path: Path | None


def check_upscale(
    picture: InputImage, scale: object, upscaler: object, *, field: str = "scale"
) -> tuple[float, str]:
    """``scale`` (1–4) and ``upscaler`` (:data:`~huatu.images.UPSCALERS`) checked for
    ``picture``: the result must stay within the pixel limit.

    Raises:
        ValidationError: naming ``field`` or ``upscaler``.
    """
    number = check_number(field, scale, MIN_UPSCALE, MAX_UPSCALE)
    if upscaler not in UPSCALERS:
        raise ValidationError("upscaler", upscaler, "choice", choices=", ".join(UPSCALERS))
    width, height = (round(side * number) for side in picture.size)
    if width * height > MAX_IMAGE_PIXELS:
        raise ValidationError(field, scale, "image_pixels", limit="4096×4096")
    return number, str(upscaler)


def upscale_picture(
    picture: InputImage,
    scale: object,
    upscaler: object = "Lanczos",
    *,
    outputs_dir: Path,
    save: bool = True,
    folder: Path | None = None,
) -> Upscaled:
    """Upscale ``picture`` by ``scale`` with ``upscaler`` and save it (A1111's extras tab).

    Args:
        picture: the checked source (:func:`huatu.images.read_image`).
        scale: 1–4. upscaler: ``Lanczos`` or ``Nearest``. Default ``Lanczos``.
        outputs_dir: the outputs folder (for the default dated folder).
        save: write the PNG. Default ``True``. folder: where. Default: the dated folder.

    Raises:
        ValidationError: a bad scale or upscaler, or a result over the pixel limit.
        StorageError: the PNG could not be written.
    """
    from huatu.history.files import save_png
    from huatu.metadata import read_parameters

    number, name = check_upscale(picture, scale, upscaler)
    bigger = upscale(picture.image, number, name)
    given = read_parameters(picture.image) or ""
    added = f"Postprocess upscale by: {number:g}, Postprocess upscaler: {name}"
    parameters = f"{given}, {added}" if given else added
    path = (
        save_png(bigger, parameters, seed=0, outputs_dir=outputs_dir, folder=folder)
        if save
        else None
    )
    return Upscaled(bigger, parameters, path)
