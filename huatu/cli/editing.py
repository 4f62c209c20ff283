"""The editing options of ``huatu generate`` (``--init-image``, ``--mask`` …) and
``huatu upscale``.

Each option is a request field under its own name (help texts from
:func:`huatu.fields.describe`); picture files are checked by :func:`huatu.images.read_image`
before anything runs, named as the command line names them (``--init-image``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from huatu.cli.options import failure, load_cli_settings, say, text, usage_error
from huatu.edit_fields import HIRES_UPSCALERS, INPAINT_AREAS, MASKED_CONTENT
from huatu.errors import HuatuError, ValidationError
from huatu.fields import describe
from huatu.images import RESIZE_MODES, UPSCALERS

_PATH = click.Path(dir_okay=False, path_type=Path)
#: ``generate``'s editing options: request field → the value type click reads.
EDIT_OPTIONS: dict[str, Any] = {
    "init_image": _PATH,
    "mask": _PATH,
    "strength": float,
    "resize_mode": click.Choice(RESIZE_MODES),
    "mask_blur": int,
    "masked_content": click.Choice(MASKED_CONTENT),
    "inpaint_area": click.Choice(INPAINT_AREAS),
    "invert_mask": bool,
    "outpaint": str,
    "hires_scale": float,
    "hires_steps": int,
    "hires_strength": float,
    "hires_upscaler": click.Choice(HIRES_UPSCALERS),
    "step_cache": bool,  # not edits, but flags of the same kind
    "fast_decode": bool,
}
#: The fields that hold pictures (read from files).
PICTURES = ("init_image", "mask")


def edit_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per :data:`EDIT_OPTIONS` entry (``--init-image`` …); a value not given
    is ``None`` (the request's default)."""
    for name in reversed(EDIT_OPTIONS):
        flag = f"--{name.replace('_', '-')}"
        kind = EDIT_OPTIONS[name]
        if kind is bool:
            option = click.option(flag, name, is_flag=True, default=None, help=describe(name))
        else:
            metavar = "L,R,U,D" if name == "outpaint" else None
            option = click.option(
                flag, name, type=kind, default=None, metavar=metavar, help=describe(name)
            )
        command = option(command)
    return command


def read_edit_options(form: dict[str, Any], base: Path | None = None) -> list[Any]:
    """Turn the editing options in ``form`` into request values, in place: picture files
    read and checked, ``--outpaint L,R,U,D`` split. Relative paths are taken from ``base``
    (the prompts file's folder). Returns the notices to show.

    Raises:
        ValidationError: a picture that cannot be used, or a bad ``--outpaint``.
    """
    from huatu.images import read_image

    notices: list[Any] = []
    for name in PICTURES:
        value = form.get(name)
        if value is None or not isinstance(value, (str, Path)):
            continue
        path = Path(value).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        picture, said = read_image(f"--{name.replace('_', '-')}", path, mask=name == "mask")
        form[name] = picture
        notices += said
    outpaint = form.get("outpaint")
    if isinstance(outpaint, str):
        form["outpaint"] = _amounts(outpaint)
    return notices


def _amounts(text_value: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text_value.split(","))
    except ValueError:
        raise ValidationError("--outpaint", text_value, "outpaint", multiple=8) from None


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--scale", type=float, default=2.0, show_default=True, help="How many times bigger, 1 to 4."
)
@click.option(
    "--upscaler", type=click.Choice(UPSCALERS), default="Lanczos", show_default=True, help="How."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the PNG. [env HUATU_OUTPUTS; default ./outputs/DATE]",
)
def upscale(file: Path, scale: float, upscaler: str, out: Path | None) -> None:
    """Make the picture FILE bigger; print the new PNG's path (its parameters kept, with the
    upscale added)."""
    from huatu.images import read_image
    from huatu.upscaling import upscale_picture

    settings = load_cli_settings()
    try:
        picture, notices = read_image("FILE", file)
        for notice in notices:
            say("cli_notice", text=notice)
        done = upscale_picture(
            picture, scale, upscaler, outputs_dir=settings.outputs_dir, folder=out
        )
    except ValidationError as error:
        raise usage_error(error, settings) from None
    except HuatuError as error:
        raise failure(error, settings) from None
    click.echo(text("cli_upscaled", size=f"{done.image.width}×{done.image.height}"), err=True)
    click.echo(str(done.path))
