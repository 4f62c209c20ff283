"""Batch generation for ``huatu generate --from-file``: read a prompts file, know what is done.

A prompts file is one of:

* **plain text**: one prompt per line; blank lines and lines whose first non-blank character
  is ``#`` are skipped; each prompt is stripped of surrounding whitespace.
* **JSON Lines**: the file's name ends in ``.jsonl``, or its first non-blank, non-``#``
  line is a JSON object. Every such line must then be a JSON object with ``prompt`` and,
  optionally, per-line settings under huatu's request field names: ``negative_prompt``,
  ``num_inference_steps`` (or ``steps``), ``guidance_scale`` (or ``guidance``), ``width``,
  ``height``, ``seed``, ``num_images``, ``scheduler``. ``null`` means "not given" (the
  command line's value, else huatu's default).

The command line's options are the defaults for every line; a line's own values win. Every
line is validated (by :meth:`GenerationRequest.create`, the one validator) before anything
is generated, and a bad line is reported with the file, its line number, the field and the
value.

**Resuming.** Each line gets a stable *batch key*: a hash of its resolved request (seed
``-1`` stays ``-1``, so a random-seed line keeps its key after it ran), the model, and its
*occurrence* (0 for the first line asking for exactly that request, 1 for the second …),
so a prompt listed twice makes two sets of images while inserting, removing or reordering
other lines changes nothing. The key and a per-run token are written into each PNG's
``parameters`` text (``Batch key: …, Batch run: …``). A line is *done* when the output
folder holds, for its key, ``num_images`` PNGs from one run: a run killed half-way leaves
fewer and is redone. The PNGs themselves are the record (no manifest to lose or go stale);
they are read chunk by chunk, never decoded.

This module imports neither torch nor gradio.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huatu.errors import HuatuError, ValidationError
from huatu.fields import FORM
from huatu.messages import Notice, Quoted
from huatu.metadata import parse_parameters, read_parameters
from huatu.request import GenerationRequest

#: PNG metadata key holding a line's batch key.
KEY_FIELD = "Batch key"
#: PNG metadata key holding the token of the run (one generation) that made the image.
RUN_FIELD = "Batch run"

#: Request fields a line may set, in the request's order (besides the short names of
#: :data:`huatu.fields.FORM`, e.g. ``steps``).
FIELDS = tuple(field.name for field in dataclasses.fields(GenerationRequest))
#: The names a JSON Lines line may use, as the "unknown field" sentence lists them.
_KNOWN = ", ".join([*FIELDS, *(short for short, field in FORM.names.items() if short != field)])


class BatchFileError(HuatuError, ValueError):
    """A prompts file cannot be used; the sentence names the file and, when known, the line.

    Args:
        name: the file's name as the person gave it.
        line: the 1-based line number, or ``None`` for the whole file.
        problem: what is wrong, a sentence of the catalog (``batch_*``, or a refused field's).
        field: the request field at fault, when one is. Default ``None``.
    """

    def __init__(self, name: str, line: int | None, problem: Notice, field: str | None = None):
        self.name = name
        self.line = line
        self.field = field
        if line is None:
            super().__init__("batch_file", name=name, problem=problem)
        else:
            super().__init__("batch_line", name=name, line=line, problem=problem)


@dataclass(frozen=True)
class BatchItem:
    """One line of a prompts file, resolved and validated.

    Attributes:
        line: its 1-based line number in the file.
        request: the validated request (command-line defaults filled in).
        key: its batch key (hex), see :func:`batch_key`.
    """

    line: int
    request: GenerationRequest
    key: str


def read_batch(
    path: Path,
    defaults: Mapping[str, Any] | None = None,
    *,
    model: str = "",
    name: str | None = None,
) -> list[BatchItem]:
    """Read and validate a prompts file (see the module docs for the formats).

    Args:
        path: the file (UTF-8; a byte-order mark is allowed).
        defaults: request fields from the command line, used where a line gives none;
            ``None`` values are ignored. Default ``None`` (huatu's defaults).
        model: the model the batch runs on, part of each key. Default ``""``.
        name: how to name the file in messages. Default ``str(path)``.

    Raises:
        BatchFileError: the file cannot be read, has no prompts, or a line is bad.
    """
    name = str(path) if name is None else name
    try:
        data = path.read_bytes()
    except OSError as error:
        problem = Notice("batch_unreadable", {"reason": error.strerror})
        raise BatchFileError(name, None, problem) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise BatchFileError(name, line, Notice("batch_not_utf8")) from None
    jsonl = True if path.suffix.lower() == ".jsonl" else None
    return parse_batch(
        text, name=name, jsonl=jsonl, defaults=defaults, model=model, folder=path.parent
    )


def parse_batch(
    text: str,
    *,
    name: str = "prompts",
    jsonl: bool | None = None,
    defaults: Mapping[str, Any] | None = None,
    model: str = "",
    folder: Path | None = None,
) -> list[BatchItem]:
    """Parse and validate the text of a prompts file.

    Args:
        text: the file's text.
        name: how to name the file in messages. Default ``"prompts"``.
        jsonl: ``True`` for JSON Lines, ``False`` for plain text, ``None`` to decide from the
            first content line (a JSON object means JSON Lines). Default ``None``.
        defaults: request fields used where a line gives none (``None`` values ignored).
            Default ``None``.
        model: the model the batch runs on, part of each key. Default ``""``.
        folder: where a line's picture paths (``init_image``, ``mask``) start from.
            Default: the current folder.

    Raises:
        BatchFileError: no prompts, or a bad line (naming line, field and value).
    """
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    lines = [(number, raw.rstrip("\r")) for number, raw in enumerate(text.split("\n"), 1)]
    content = [(n, line) for n, line in lines if line.strip() and not _is_comment(line)]
    if not content:
        raise BatchFileError(name, None, Notice("batch_no_prompts"))
    if jsonl is None:
        jsonl = _json_object(content[0][1]) is not None
    base = {key: value for key, value in (defaults or {}).items() if value is not None}
    counts: dict[str, int] = defaultdict(int)
    items = []
    for number, line in content:
        fields = _json_fields(name, number, line) if jsonl else {"prompt": line.strip()}
        try:
            given = {key: value for key, value in fields.items() if value is not None}
            given = _with_pictures(given, folder or Path("."))
            request = GenerationRequest.create(**{**base, **given})
        except ValidationError as error:
            raise BatchFileError(name, number, error.notice, error.field) from None
        identity = _identity(request, model)
        key = batch_key(request, occurrence=counts[identity], model=model)
        counts[identity] += 1
        items.append(BatchItem(line=number, request=request, key=key))
    return items


def _with_pictures(fields: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``fields`` with their picture paths (relative to ``folder``) read and checked."""
    from huatu.images import read_image

    for name in ("init_image", "mask"):
        value = fields.get(name)
        if isinstance(value, str):
            path = Path(value).expanduser()
            picture, _ = read_image(
                name, path if path.is_absolute() else folder / path, mask=name == "mask"
            )
            fields[name] = picture
    return fields


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _json_object(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _json_fields(name: str, number: int, line: str) -> dict[str, Any]:
    """One JSON Lines line as request fields (short names resolved, unknown names refused)."""
    try:
        value = json.loads(line)
    except ValueError as error:
        reason = getattr(error, "msg", str(error))
        problem = Notice("batch_bad_json", {"reason": reason})
        raise BatchFileError(name, number, problem) from None
    if not isinstance(value, dict):
        raise BatchFileError(name, number, Notice("batch_not_object"))
    fields: dict[str, Any] = {}
    for given, item in value.items():
        (field,) = FORM.request_fields({given: item})  # the request's name for it
        if field not in FIELDS:
            problem = Notice("batch_unknown_field", {"given": Quoted(given), "known": _KNOWN})
            raise BatchFileError(name, number, problem, given)
        if field in fields:
            problem = Notice("batch_field_twice", {"name": field})
            raise BatchFileError(name, number, problem, field)
        fields[field] = item
    if fields.get("prompt") is None:
        raise BatchFileError(name, number, Notice("batch_no_prompt"), "prompt")
    return fields


#: The request's fields when batch keys were first written: always part of a key. A field
#: added later (``mode`` …) is part of it only when not at its default, so keys written
#: before it existed stay valid and a resume finds the images made then.
KEYED_FIELDS = (
    "prompt",
    "negative_prompt",
    "num_inference_steps",
    "guidance_scale",
    "width",
    "height",
    "seed",
    "num_images",
    "scheduler",
)
#: Every field's default as :meth:`GenerationRequest.to_dict` writes it.
_DEFAULTS = GenerationRequest(prompt="").to_dict()


def _identity(request: GenerationRequest, model: str) -> str:
    fields = {
        name: value
        for name, value in request.to_dict().items()
        if name in KEYED_FIELDS or value != _DEFAULTS[name]
    }
    return json.dumps({"model": model, **fields}, sort_keys=True, ensure_ascii=False)


def batch_key(request: GenerationRequest, *, occurrence: int = 0, model: str = "") -> str:
    """The stable key of one batch line: 16 hex digits.

    Args:
        request: the line's validated request (a random seed stays ``-1``).
        occurrence: how many earlier lines asked for exactly this request. Default 0.
        model: the model it runs on. Default ``""``.
    """
    text = f"{_identity(request, model)}\n{occurrence}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def new_run() -> str:
    """A fresh token for one generation run (8 hex digits)."""
    return secrets.token_hex(4)


def batch_metadata(key: str, run: str) -> dict[str, str]:
    """The extra PNG metadata of a batch image (``ImageService.generate(extra=...)``).

    Args:
        key: the line's batch key. run: the token of this run (:func:`new_run`).
    """
    return {KEY_FIELD: key, RUN_FIELD: run}


def find_done(folder: Path, items: Iterable[BatchItem]) -> dict[str, list[Path]]:
    """Which items already have all their images in ``folder``, from their PNG metadata.

    Reads the ``parameters`` chunk of every ``*.png`` directly in ``folder`` (no pixels are
    decoded; unreadable files and PNGs of other batches are ignored). An item is done when
    one run (same ``Batch run``) left at least ``num_images`` PNGs with its key; if several
    runs did, the newest counts.

    Args:
        folder: the batch's output folder (``--out``); missing means nothing is done.
        items: the batch's items.

    Returns:
        ``{key: paths}`` for the done items: absolute paths, ordered by seed.
    """
    wanted = {item.key: item.request.num_images for item in items}
    folder = Path(os.path.abspath(folder))  # absolute, as the paths of new images are
    if not wanted or not folder.is_dir():
        return {}
    runs: dict[tuple[str, str], list[tuple[int, Path, float]]] = defaultdict(list)
    for path in sorted(folder.glob("*.png")):
        try:
            mtime = path.stat().st_mtime
            text = read_parameters(path) if path.is_file() else None
        except (OSError, HuatuError):
            continue
        if not text:
            continue
        settings = parse_parameters(text).settings
        key = settings.get(KEY_FIELD)
        if key not in wanted:
            continue
        seed = settings.get("Seed", "")
        number = int(seed) if seed.isdigit() else 0
        runs[(key, settings.get(RUN_FIELD, ""))].append((number, path, mtime))
    done: dict[str, tuple[float, list[Path]]] = {}
    for (key, _run), found in runs.items():
        if len(found) < wanted[key]:
            continue
        newest = max(mtime for _, _, mtime in found)
        if key not in done or newest > done[key][0]:
            done[key] = (newest, [path for _, path, _ in sorted(found)])
    return {key: paths for key, (_, paths) in done.items()}
