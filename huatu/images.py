"""Pictures from outside, checked once; and the pixel work around editing (pure PIL).

Every image input — an upload, a base64 field, a multipart part, a file on the command line —
goes through :func:`read_image` before anything runs: size and pixel limits (no decompression
bombs), a readable and complete picture, EXIF orientation applied, the first frame of an
animation (said). The rest are the pixel steps of the editing modes: fitting a source to the
requested size (A1111's three resize modes), the mask (invert, blur), the outpainting canvas,
the composite that keeps every pixel outside the mask, and upscaling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huatu.errors import ValidationError
from huatu.messages import Notice

if TYPE_CHECKING:
    from PIL.Image import Image

#: Largest encoded image accepted, in bytes.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: Most pixels of an accepted image (a decompression bomb declares far more).
MAX_IMAGE_PIXELS = 4096 * 4096
#: A1111's resize modes, by huatu's id: what to do when the source's size is not the size asked.
RESIZE_MODES = ("just_resize", "crop_and_resize", "resize_and_fill")
DEFAULT_RESIZE_MODE = "just_resize"


@dataclass(frozen=True, eq=False)
class InputImage:
    """A checked picture from outside.

    Attributes:
        image: the decoded picture (RGB, or L for a mask), EXIF orientation applied.
        digest: ``sha256`` of its pixels, size and mode: equal pictures are equal inputs.
    """

    image: Image
    digest: str

    @classmethod
    def of(cls, image: Image) -> InputImage:
        """Wrap an image made here (no checks; e.g. a generated picture sent on)."""
        data = f"{image.mode}:{image.size}:".encode() + image.tobytes()
        return cls(image, hashlib.sha256(data).hexdigest())

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self.image.size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InputImage) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        width, height = self.size
        return f"<image {width}×{height} {self.digest[:12]}>"


def read_image(
    field: str, source: Any, *, mask: bool = False, alpha: bool = False
) -> tuple[InputImage, list[Notice]]:
    """Check and decode one image input.

    Args:
        field: the edge's name for the input, named in every refusal (``init_images``,
            ``image``, ``--init-image`` …).
        source: the encoded image (``bytes``), base64 text (a ``data:`` URI is accepted;
            text is never read as a file name), a :class:`~pathlib.Path` on this machine (only
            the command line and prompt files give one), or a PIL image.
        mask: read it as a mask: greyscale (``L``), white means "repaint". Default off: RGB.
        alpha: keep its transparency (RGBA), for an edge whose convention reads it (OpenAI's
            masks). Default off.

    Returns:
        The checked image and the notices to show (e.g. "the first frame was used").

    Raises:
        ValidationError: naming ``field``: not an image, truncated, over 20 MB, over
            4096×4096 pixels.
    """
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    notices: list[Notice] = []
    if isinstance(source, PILImage.Image):
        picture = source
    else:
        data = _encoded(field, source)
        if len(data) > MAX_IMAGE_BYTES:
            size = f"{len(data) / 1024 / 1024:.1f} MB"
            raise ValidationError(field, size, "image_bytes", limit=MAX_IMAGE_BYTES // 2**20)
        try:
            picture = PILImage.open(io.BytesIO(data))
        except (UnidentifiedImageError, OSError, ValueError):
            raise ValidationError(field, _shown(source), "image_unreadable") from None
    width, height = picture.size
    if width * height > MAX_IMAGE_PIXELS or width < 1 or height < 1:
        raise ValidationError(field, f"{width}×{height}", "image_pixels", limit="4096×4096")
    try:
        if getattr(picture, "n_frames", 1) > 1:
            picture.seek(0)
            notices.append(Notice("image_first_frame", {"field": field}))
        picture.load()
        texts = {k: v for k, v in picture.info.items() if isinstance(v, str)}  # e.g. parameters
        picture = ImageOps.exif_transpose(picture) or picture
        if mask:
            converted = _mask_of(picture)
        else:
            converted = picture.convert("RGBA") if alpha else flatten(picture)
        converted.info.update(texts)
    except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError):
        raise ValidationError(field, _shown(source), "image_unreadable") from None
    return InputImage.of(converted), notices


def _encoded(field: str, source: Any) -> bytes:
    """The encoded bytes of ``source`` (bytes, base64 text or a path)."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    if isinstance(source, Path):
        return _file_bytes(field, source)
    if isinstance(source, str):  # base64 only: text never names a file on this machine
        text = "".join(source.split())
        if text.startswith("data:") and "," in text:
            text = text.split(",", 1)[1]
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(field, _shown(source), "image_unreadable") from None
    raise ValidationError(field, _shown(source), "image_unreadable")


def _file_bytes(field: str, path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            shown = f"{size / 1024 / 1024:.1f} MB"
            raise ValidationError(field, shown, "image_bytes", limit=MAX_IMAGE_BYTES // 2**20)
        return path.read_bytes()
    except OSError:
        raise ValidationError(field, str(path)[:200], "image_file") from None


def _shown(source: Any) -> str:
    """How a refused input is named: a file's name, else its kind and size."""
    if isinstance(source, Path):
        return str(source)[:200]
    if isinstance(source, (bytes, bytearray)):
        return f"{len(source):,} bytes"
    if isinstance(source, str):
        return f"{len(source):,} characters of text" if len(source) > 200 else source
    return type(source).__name__


def flatten(picture: Image) -> Image:
    """RGB; transparency becomes white (as a person sees it on a page)."""
    from PIL import Image as PILImage

    if picture.mode in ("RGBA", "LA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        white = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        return PILImage.alpha_composite(white, rgba).convert("RGB")
    return picture.convert("RGB")


def _mask_of(picture: Image) -> Image:
    """Greyscale: white repaints. A mask with transparency is read by its alpha: what is
    transparent stays, what is opaque and light repaints."""
    if picture.mode in ("RGBA", "LA"):
        from PIL import ImageChops

        return ImageChops.multiply(picture.convert("L"), picture.getchannel("A"))
    return picture.convert("L")


def alpha_to_mask(picture: Image) -> Image:
    """OpenAI's convention as a huatu mask: fully transparent pixels are repainted (white),
    the rest kept (black); an image without transparency keeps everything."""
    from PIL import Image as PILImage

    if picture.mode != "RGBA":
        return PILImage.new("L", picture.size, 0)
    alpha = picture.getchannel("A")
    return alpha.point(lambda value: 255 if value == 0 else 0)


def natural_size(size: tuple[int, int], *, low: int = 64, high: int = 1024) -> tuple[int, int]:
    """The size to make from a picture of ``size`` when none is asked: the same, scaled down
    to fit ``high`` (and up to ``low``), each side a multiple of 8."""
    width, height = size
    scale = min(1.0, high / max(width, height))
    scale = max(scale, low / min(width, height)) if min(width, height) * scale < low else scale
    return tuple(  # type: ignore[return-value]
        max(low, min(high, int(side * scale) // 8 * 8)) for side in (width, height)
    )


# --------------------------------------------------------------------------------------------
# Fitting a source to the size asked (A1111's resize modes)


def fit(image: Image, width: int, height: int, mode: str = DEFAULT_RESIZE_MODE) -> Image:
    """``image`` at ``width``×``height`` by A1111's resize ``mode``.

    ``just_resize`` stretches; ``crop_and_resize`` scales to cover and crops the middle;
    ``resize_and_fill`` scales to fit inside and fills the rest by stretching the picture's
    edge rows and columns outward. A picture already at the size is returned as it is.
    """
    from PIL import Image as PILImage

    if image.size == (width, height):
        return image
    lanczos = PILImage.Resampling.LANCZOS
    if mode == "just_resize":
        return image.resize((width, height), lanczos)
    ratio = width / height
    source_ratio = image.width / image.height
    if mode == "crop_and_resize":
        scale = width / image.width if source_ratio < ratio else height / image.height
        scaled = image.resize(
            (max(width, round(image.width * scale)), max(height, round(image.height * scale))),
            lanczos,
        )
        left = (scaled.width - width) // 2
        top = (scaled.height - height) // 2
        return scaled.crop((left, top, left + width, top + height))
    scale = width / image.width if source_ratio > ratio else height / image.height
    inner_size = (
        max(1, min(width, round(image.width * scale))),
        max(1, min(height, round(image.height * scale))),
    )
    inner = image.resize(inner_size, lanczos)
    canvas = inner.resize((width, height), lanczos)  # the picture's own colours around it
    canvas.paste(inner, ((width - inner.width) // 2, (height - inner.height) // 2))
    return canvas


# --------------------------------------------------------------------------------------------
# Masks, outpainting and keeping what is outside the mask


def prepared_mask(mask: Image, size: tuple[int, int], *, invert: bool, blur: int) -> Image:
    """The mask as it is applied: at ``size``, inverted when asked, blurred by ``blur`` px
    (Gaussian), so its edge blends; white repaints."""
    from PIL import Image as PILImage
    from PIL import ImageFilter, ImageOps

    if mask.size != size:
        mask = mask.resize(size, PILImage.Resampling.LANCZOS)
    if invert:
        mask = ImageOps.invert(mask)
    if blur > 0:
        mask = mask.filter(ImageFilter.GaussianBlur(blur))
    return mask


def outpaint_canvas(
    image: Image, mask: Image | None, amounts: tuple[int, int, int, int]
) -> tuple[Image, Image]:
    """The picture on a canvas grown by ``amounts`` = (left, right, up, down) pixels, and the
    mask that repaints the new area (and whatever ``mask`` marks in the old one).

    The new area starts as the picture's edge stretched outward, which the model then
    repaints; the old pixels sit unchanged at ``(left, up)``.
    """
    from PIL import Image as PILImage

    left, right, up, down = amounts
    width, height = image.width + left + right, image.height + up + down
    canvas = image.resize((width, height), PILImage.Resampling.BILINEAR)
    canvas.paste(image, (left, up))
    grown = PILImage.new("L", (width, height), 255)
    grown.paste(mask if mask is not None else PILImage.new("L", image.size, 0), (left, up))
    return canvas, grown


def keep_outside(generated: Image, original: Image, mask: Image) -> Image:
    """``generated`` where ``mask`` is white, ``original`` where it is black, blended between:
    every pixel outside the (blurred) mask is the original's."""
    from PIL import Image as PILImage

    if generated.size != original.size:
        generated = generated.resize(original.size, PILImage.Resampling.LANCZOS)
    return PILImage.composite(generated, original, mask)


def noise_fill(image: Image, mask: Image, seed: int) -> Image:
    """``image`` with its masked area replaced by seeded noise (A1111's "latent noise"
    masked content: the model repaints it from nothing)."""
    import random

    from PIL import Image as PILImage

    noise_bytes = random.Random(seed).randbytes(image.width * image.height * 3)
    noise = PILImage.frombytes("RGB", image.size, noise_bytes)
    return PILImage.composite(noise, image, mask.point(lambda value: 255 if value else 0))


# --------------------------------------------------------------------------------------------
# Upscaling


#: The upscalers, by A1111's names (the interface a learned upscaler joins later).
UPSCALERS = ("Lanczos", "Nearest")


def upscale(image: Image, scale: float, upscaler: str = "Lanczos") -> Image:
    """``image`` ``scale`` times larger (sides rounded) with ``upscaler``."""
    from PIL import Image as PILImage

    method = {"Lanczos": PILImage.Resampling.LANCZOS, "Nearest": PILImage.Resampling.NEAREST}
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, method[upscaler])
