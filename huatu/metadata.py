"""AUTOMATIC1111-compatible generation metadata: the PNG text chunk named ``parameters``.

AUTOMATIC1111 (A1111), Forge, Fooocus (in its A1111-compatible mode) and many image browsers
write and read the settings of a generation as plain text in this shape::

    <prompt, may span several lines>
    Negative prompt: <negative, may span several lines>
    Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 123, Size: 512x768, Model: ...

The ``Negative prompt:`` line is left out when the negative prompt is empty. The last line
holds ``Key: value`` settings; a value that contains ``,``, ``:``, ``"`` or a line break is
written JSON-quoted. :func:`parse_parameters` splits such text exactly the way A1111's
``parse_generation_parameters`` does, so whatever A1111 reads from a file, huatu reads too.

It also puts the text into PNG bytes (:func:`png_bytes`) and reads it back from PNG, JPEG
and WebP files (:func:`read_parameters`); writing files is :mod:`huatu.history.files`' job.
This module is pure: Pillow and the standard library only (no torch, no gradio).

Why this module is long (about 470 lines, over the ~400 aimed at): writer and reader are two
halves of one format that change together (the round-trip and A1111-agreement tests hold them
to each other).
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from PIL import Image, PngImagePlugin

from huatu.backends.fast import TAESD_LABEL
from huatu.edit_fields import fields_from_metadata, metadata_of
from huatu.errors import HuatuError, StorageError
from huatu.messages import Quoted
from huatu.request import GenerationRequest
from huatu.schedulers import scheduler_id_from_label

PARAMETERS_KEY = "parameters"
"""The name of the PNG text chunk (and ``Image.info`` key) holding the parameters text."""

NEGATIVE_PREFIX = "Negative prompt:"

# A1111's own regex for one ``Key: value`` item of the settings line (modules/infotext_utils.py).
_PARAM_RE = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
# A key huatu is willing to write: what _PARAM_RE reads back unchanged (no edge spaces).
_KEY_RE = re.compile(r"\w[\w \-/]*[\w\-/]")
_SIZE_RE = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")
_INT_RE = re.compile(r"\s*[+-]?[0-9]+\s*")

# Keys format_parameters writes itself; ``extra`` may not repeat them.
_BUILTIN_KEYS = ("Steps", "Sampler", "CFG scale", "Seed", "Size", "Model hash", "Model", "Version")

# A1111 >= 1.9 writes ``Schedule type: Automatic`` when the sampler runs on its default
# schedule; these are the defaults (from A1111's sampler table) for the samplers huatu knows.
_A1111_DEFAULT_SCHEDULE = {"dpm++ 2m": "Karras"}

# What Pillow raises for files it cannot read: unknown or truncated formats, broken chunks.
_UNREADABLE = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
)

_EXIF_IFD = 0x8769
_EXIF_USER_COMMENT = 0x9286


class MetadataKeyError(HuatuError, ValueError):
    """A metadata key :func:`format_parameters` cannot write (the sentence names it)."""


def _version() -> str:
    import huatu

    return str(getattr(huatu, "__version__", None) or "0.1.0")


# --------------------------------------------------------------------------------------------
# Writing the text


def format_number(value: float) -> str:
    """Write a number the way A1111 shows it: ``7`` for ``7.0``, ``7.5`` for ``7.5``.

    Args:
        value: an ``int`` or ``float``; whole floats lose their ``.0``, others keep their
            shortest exact form (``repr``).
    """
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    number = float(value)
    if math.isfinite(number) and number.is_integer():
        return str(int(number))
    return repr(number)


def quote_value(value: str) -> str:
    """Return ``value`` ready for the settings line: as is, or JSON-quoted when needed.

    Quoted (``json.dumps``, non-ASCII kept, as A1111 does) when the value contains ``,``,
    ``:``, ``"``, a line break or another non-printable character, starts or ends with
    whitespace, or is empty: the cases where the bare text might not read back as itself.

    Args:
        value: the setting's text.
    """
    needs_quotes = (
        value == ""
        or value != value.strip()
        or any(char in value for char in ',:"')
        or any(not char.isprintable() for char in value)
    )
    return json.dumps(value, ensure_ascii=False) if needs_quotes else value


def _setting_text(value: object) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    return str(value)


def format_parameters(
    request: GenerationRequest,
    *,
    seed: int,
    sampler: str,
    model: str,
    model_hash: str | None = None,
    extra: Mapping[str, object] | None = None,
    unused: Collection[str] = (),
) -> str:
    """Write the A1111 ``parameters`` text for one generated image.

    The prompt and negative prompt are written unchanged (line breaks included); the settings
    line is ``Steps, Sampler, CFG scale, Seed, Size, Model hash, Model``, then the ``extra``
    items in their order, then ``Version: huatu <version>``. Values are quoted with
    :func:`quote_value` wherever the bare text would not parse back.

    Note that A1111's reader strips each line of the prompts and treats a prompt line that
    starts with ``Negative prompt:`` as the start of the negative prompt; such prompts are
    written as given and read back the way A1111 would read them.

    Args:
        request: the request the image was made from (its prompt, negative prompt,
            ``num_inference_steps``, ``guidance_scale``, ``width`` and ``height`` are written;
            its ``seed`` and ``scheduler`` are not, see the next arguments).
        seed: the seed this very image used (the drawn seed, never ``-1``). Required.
        sampler: the A1111 sampler name to write, e.g. ``"DPM++ 2M Karras"``
            (``SCHEDULERS[request.scheduler].label``). Required.
        model: the model's name or id, e.g. ``"stable-diffusion-v1-5/stable-diffusion-v1-5"``.
            Required.
        model_hash: A1111's ``Model hash`` of the checkpoint file (10 hex digits), written
            before ``Model``. Default ``None``: none (a diffusers folder or a Hub id).
        extra: further ``Key: value`` settings written before ``Version``, in order; ``None``
            values are skipped, numbers are written like CFG scale. Keys must be 2+ characters
            of letters, digits, ``_``, ``-``, ``/`` and inner spaces, and must not repeat a key
            written anyway. Default ``None`` (none).
        unused: request fields the model did not take, left out of the text:
            ``negative_prompt`` (no negative prompt line), ``guidance_scale`` (no CFG scale).
            Default none.

    Raises:
        MetadataKeyError: an ``extra`` key cannot be written so that it reads back, or repeats
            one of the standard keys.
    """
    settings: dict[str, str] = {
        "Steps": _setting_text(request.num_inference_steps),
        "Sampler": _setting_text(sampler),
        "CFG scale": _setting_text(request.guidance_scale),
        "Seed": _setting_text(seed),
        "Size": "x".join(_setting_text(side) for side in request.output_size),
    }
    if model_hash:
        settings["Model hash"] = model_hash
    settings["Model"] = _setting_text(model)
    for key, value in metadata_of(request).items():  # the mode's own (A1111's names)
        settings[key] = _setting_text(value)
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
            raise MetadataKeyError("metadata_key_unwritable", name=Quoted(key))
        if key in _BUILTIN_KEYS:
            raise MetadataKeyError("metadata_key_reserved", name=Quoted(key))
        if value is not None:
            settings[key] = _setting_text(value)
    settings["Version"] = f"huatu {_version()}"
    if "guidance_scale" in unused:
        del settings["CFG scale"]

    lines = [request.prompt]
    if request.negative_prompt and "negative_prompt" not in unused:
        lines.append(f"{NEGATIVE_PREFIX} {request.negative_prompt}")
    lines.append(", ".join(f"{key}: {quote_value(value)}" for key, value in settings.items()))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Reading the text


def _unquote(text: str) -> str:
    """A1111's ``unquote``: JSON-decode ``"..."``, else return the text unchanged."""
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        decoded = json.loads(text)
    except ValueError:
        return text
    return decoded if isinstance(decoded, str) else text


def _parse_int(text: str) -> int | None:
    if _INT_RE.fullmatch(text):
        return int(text)
    number = _parse_float(text)
    if number is not None and number.is_integer():
        return int(number)
    return None


def _parse_float(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _scheduler_from_settings(settings: Mapping[str, str]) -> str | None:
    sampler = settings.get("Sampler", "").strip()
    if not sampler:
        return None
    schedule = settings.get("Schedule type", "").strip()
    if schedule.lower() == "automatic":
        schedule = _A1111_DEFAULT_SCHEDULE.get(sampler.lower(), "")
    if schedule.lower() == "uniform":  # A1111's plain schedule: the sampler on its own
        schedule = ""
    label = f"{sampler} {schedule}" if schedule else sampler
    return scheduler_id_from_label(label)


@dataclass(frozen=True)
class ParsedParameters:
    """The parts of an A1111 ``parameters`` text.

    Attributes:
        prompt: the prompt, lines stripped as A1111 strips them; ``""`` if none. Required.
        negative_prompt: the negative prompt, lines stripped. Default ``""`` (none).
        settings: the settings line's ``Key: value`` items in their order, quoted values
            decoded (``{"Steps": "20", "Size": "512x768", ...}``). Later duplicates win;
            items with an empty bare value are dropped, as A1111 drops them. Default ``{}``.
            Not part of the hash (a dict cannot be hashed), but compared by ``==``.
    """

    prompt: str
    negative_prompt: str = ""
    settings: dict[str, str] = field(default_factory=dict, hash=False)

    def to_request_fields(self) -> dict[str, Any]:
        """Map to :class:`~huatu.request.GenerationRequest` field names.

        ``prompt`` and ``negative_prompt`` are always given. ``num_inference_steps``
        (``Steps``), ``guidance_scale`` (``CFG scale``), ``width``/``height`` (``Size``
        ``WxH``), ``seed`` (``Seed``) and ``scheduler`` (``Sampler``, with A1111's newer
        ``Schedule type`` folded in, mapped by
        :func:`~huatu.schedulers.scheduler_id_from_label`) are given only when present and
        readable: a value that is not a number, or a sampler huatu does not offer, is left
        out rather than raised. Ranges are not checked here; ``GenerationRequest.create``
        does that.
        """
        fields: dict[str, Any] = {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
        }
        settings = self.settings
        if "Steps" in settings and (steps := _parse_int(settings["Steps"])) is not None:
            fields["num_inference_steps"] = steps
        if "CFG scale" in settings and (cfg := _parse_float(settings["CFG scale"])) is not None:
            fields["guidance_scale"] = cfg
        if "Size" in settings and (size := _SIZE_RE.fullmatch(settings["Size"])):
            fields["width"] = int(size.group(1))
            fields["height"] = int(size.group(2))
        if "Seed" in settings and (seed := _parse_int(settings["Seed"])) is not None:
            fields["seed"] = seed
        scheduler = _scheduler_from_settings(settings)
        if scheduler is not None:
            fields["scheduler"] = scheduler
        if settings.get("Cache", "").startswith("DeepCache"):
            fields["step_cache"] = True
        if settings.get("VAE") == TAESD_LABEL:
            fields["fast_decode"] = True
        edits = fields_from_metadata(settings)
        scale = edits.get("hires_scale", 1)
        if scale != 1 and "width" in fields:  # Size is the result's: the first pass's is less
            fields["width"], fields["height"] = (
                round(fields[side] / scale / 8) * 8 for side in ("width", "height")
            )
        return {**fields, **edits}


def parse_parameters(text: str) -> ParsedParameters:
    """Split an A1111 ``parameters`` text into prompt, negative prompt and settings.

    Mirrors A1111's ``parse_generation_parameters``: the text is stripped and split on
    ``\\n``; the last line is the settings line only if A1111's item regex finds at least 3
    ``Key: value`` items in it, else it belongs to the prompt (or negative prompt). Every
    other line is stripped; from the first line starting with ``Negative prompt:`` on (that
    prefix removed) lines form the negative prompt, the lines before form the prompt.
    Quoted values are JSON-decoded. Nothing is raised for odd text: the worst case is that
    everything ends up in ``prompt``.

    Args:
        text: the ``parameters`` text, e.g. from :func:`read_parameters`.
    """
    *lines, last_line = text.strip().split("\n")
    if len(_PARAM_RE.findall(last_line)) < 3:
        lines.append(last_line)
        last_line = ""

    prompt = ""
    negative = ""
    in_negative = False
    for raw_line in lines:
        line = raw_line.strip()
        if line.startswith(NEGATIVE_PREFIX):
            in_negative = True
            line = line[len(NEGATIVE_PREFIX) :].strip()
        if in_negative:
            negative += ("" if negative == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line

    settings: dict[str, str] = {}
    for key, value in _PARAM_RE.findall(last_line):
        if not value:  # A1111 fails on value[0] and skips the item
            continue
        settings[key] = _unquote(value)
    return ParsedParameters(prompt=prompt, negative_prompt=negative, settings=settings)


# --------------------------------------------------------------------------------------------
# PNG files


def _png_info(parameters: str) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    try:
        parameters.encode("latin-1")
    except UnicodeEncodeError:
        info.add_itxt(PARAMETERS_KEY, parameters)
    else:
        info.add_text(PARAMETERS_KEY, parameters)
    return info


def png_bytes(image: Image.Image, parameters: str) -> bytes:
    """Return ``image`` encoded as PNG with the ``parameters`` text chunk, in memory.

    The chunk is ``tEXt`` when ``parameters`` encodes as Latin-1, else UTF-8 ``iTXt``. Files
    are written from these bytes by :func:`huatu.history.write_png` (and the history store).

    Args:
        image: the image (any mode Pillow can write as PNG: RGB, RGBA, L, P ...).
        parameters: the text to store, usually from :func:`format_parameters`.
    """
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=_png_info(parameters))
    return buffer.getvalue()


def _decode_user_comment(raw: object) -> str | None:
    """Decode an EXIF UserComment the way A1111 reads it (piexif's ``UserComment.load``)."""
    if isinstance(raw, str):
        return raw or None
    if not isinstance(raw, bytes) or not raw:
        return None
    prefix, body = raw[:8], raw[8:]
    if prefix == b"UNICODE\x00":
        if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
            text = body.decode("utf-16", errors="ignore")
        else:
            text = body.decode("utf-16-be", errors="ignore")
    elif prefix == b"ASCII\x00\x00\x00":
        text = body.decode("ascii", errors="ignore")
    elif prefix == b"\x00" * 8:
        text = body.decode("utf-8", errors="ignore")
    else:
        text = raw.decode("utf-8", errors="ignore")
    text = text.rstrip("\x00")
    return text or None


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Most bytes a compressed text chunk may inflate to (a parameters text is a few KB).
_MAX_TEXT_BYTES = 1 << 20


def _png_parameters(handle: IO[bytes]) -> str | None:
    """The ``parameters`` text of a PNG read chunk by chunk, without decoding any pixels.

    Image data is skipped with ``seek``, so a small file that claims a huge size costs
    nothing; compressed text is inflated to at most 1 MiB.

    Raises:
        ValueError: the chunk stream is broken (truncated file, bad length).
    """
    import zlib

    handle.seek(len(_PNG_SIGNATURE))
    while True:
        header = handle.read(8)
        if len(header) < 8:
            raise ValueError("truncated PNG")
        length, kind = struct.unpack(">I4s", header)
        if kind in (b"tEXt", b"zTXt", b"iTXt") and length <= 4 * _MAX_TEXT_BYTES:
            data = handle.read(length)
            if len(data) < length:
                raise ValueError("truncated PNG")
            handle.seek(4, io.SEEK_CUR)
            key, _, rest = data.partition(b"\0")
            if key != PARAMETERS_KEY.encode("latin-1"):
                continue
            if kind == b"tEXt":
                return rest.decode("latin-1")
            if kind == b"zTXt":
                return zlib.decompressobj().decompress(rest[1:], _MAX_TEXT_BYTES).decode("latin-1")
            compressed, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\0")  # language tag
            _, _, text = rest.partition(b"\0")  # translated keyword
            if compressed:
                text = zlib.decompressobj().decompress(text, _MAX_TEXT_BYTES)
            return text.decode("utf-8")
        if kind == b"IEND":
            return None
        handle.seek(length + 4, io.SEEK_CUR)


def _parameters_of(image: Image.Image) -> str | None:
    value = image.info.get(PARAMETERS_KEY)
    if value is None and isinstance(image, PngImagePlugin.PngImageFile) and image.fp:
        # A chunk after the image data is not in ``info`` yet: walk the file's chunks.
        value = _png_parameters(image.fp)
    if value is not None:
        return str(value)
    if image.format in ("JPEG", "WEBP", "MPO", "TIFF") or "exif" in image.info:
        # A1111 stores the text of JPEG and WebP files in the EXIF UserComment.
        comment = image.getexif().get_ifd(_EXIF_IFD).get(_EXIF_USER_COMMENT)
        return _decode_user_comment(comment)
    return None


def read_parameters(source: str | Path | bytes | Image.Image) -> str | None:
    """Return the ``parameters`` text stored in an image, or ``None`` if it has none.

    For PNG the text chunk named ``parameters`` (``tEXt``, ``zTXt`` or ``iTXt``, before or
    after the image data); for JPEG and WebP the EXIF UserComment, where A1111 puts it.

    Args:
        source: a file path, the file's bytes, or an already opened Pillow image (an image
            made in memory is looked up in its ``info`` dict).

    Raises:
        StorageError: the file cannot be opened, or it is not an image Pillow can read.
    """
    if isinstance(source, Image.Image):
        try:
            return _parameters_of(source)
        except _UNREADABLE as exc:
            raise StorageError("image_given_unreadable") from exc
    if isinstance(source, (bytes, bytearray, memoryview)):
        unreadable = StorageError("image_data_unreadable")
        handle: IO[bytes] = io.BytesIO(bytes(source))
    else:
        name = Path(source).name  # not the folder: it may be a server's temp path
        unreadable = StorageError("image_unreadable", name=name)
        try:
            handle = open(source, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise StorageError("image_cannot_open", name=name, reason=reason) from exc
    try:
        with handle:
            if handle.read(len(_PNG_SIGNATURE)) == _PNG_SIGNATURE:
                return _png_parameters(handle)
            handle.seek(0)
            with Image.open(handle) as image:
                return _parameters_of(image)
    except (*_UNREADABLE, ValueError, UnicodeDecodeError) as exc:
        raise unreadable from exc
