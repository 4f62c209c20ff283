"""The pictures an editing run started from, kept once each under the outputs folder.

A source picture and its mask are written as PNGs named by their content hash,
``outputs/sources/ab/abcdef….png``, so the same picture used again is stored once; the
history records their paths (relative to the outputs folder) with the entry, and restoring
the entry reads them back — only from that folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.images import InputImage

#: Where the sources are kept, under the outputs folder.
SOURCES_FOLDER = "sources"
#: The history's names for them (in an entry's ``extra``).
SOURCE_KEY = "Source image"
MASK_KEY = "Mask image"


def keep_picture(outputs_dir: Path, picture: InputImage) -> str:
    """Write ``picture`` once (by its digest) and return its path relative to
    ``outputs_dir``.

    Raises:
        StorageError: it could not be written (the sentence names the folder).
    """
    from huatu.history.files import save_error, write_png

    relative = Path(SOURCES_FOLDER) / picture.digest[:2] / f"{picture.digest}.png"
    target = outputs_dir / relative
    if not target.is_file():
        try:
            write_png(picture.image, target, "")
        except OSError as exc:
            raise save_error(target.parent, exc) from exc
    return relative.as_posix()


def load_picture(outputs_dir: Path, relative: str | None) -> Image | None:
    """The kept picture at ``relative`` (inside the sources folder only), or ``None``."""
    from PIL import Image as PILImage

    if not relative:
        return None
    root = (outputs_dir / SOURCES_FOLDER).resolve()
    target = (outputs_dir / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return None
    with PILImage.open(target) as picture:
        picture.load()
        return picture.copy()


def kept_sources(
    outputs_dir: Path, init_image: InputImage | None, mask: InputImage | None
) -> dict[str, str]:
    """The history's record of an editing run's pictures (none for text to image)."""
    found: dict[str, str] = {}
    if init_image is not None:
        found[SOURCE_KEY] = keep_picture(outputs_dir, init_image)
    if mask is not None:
        found[MASK_KEY] = keep_picture(outputs_dir, mask)
    return found
