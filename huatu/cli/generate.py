"""``huatu generate``: images for a prompt, or for every line of a prompts file.

The request options (``--steps``, ``--guidance`` …) are the studio's short names
(:data:`huatu.fields.FORM`); their help texts come from the validator's own limits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from huatu.cli.editing import edit_options, read_edit_options
from huatu.cli.options import (
    cli_language,
    failure,
    load_cli_settings,
    model_options,
    say,
    start_service,
    text,
    usage_error,
)
from huatu.config import Settings
from huatu.errors import HuatuError, explain
from huatu.fields import FORM, describe
from huatu.messages import Clipped

#: ``generate``'s request options: short name → the value type click reads.
REQUEST_OPTIONS: dict[str, type] = {
    "negative_prompt": str,
    "steps": int,
    "guidance": float,
    "width": int,
    "height": int,
    "seed": int,
    "num_images": int,
    "scheduler": str,
}


def request_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per :data:`REQUEST_OPTIONS` entry (``--num-images`` …), each helped by
    :func:`huatu.fields.describe`; a value not given is ``None`` (the request's default)."""
    for name in reversed(REQUEST_OPTIONS):
        option = click.option(
            f"--{name.replace('_', '-')}",
            name,
            type=REQUEST_OPTIONS[name],
            default=None,
            help=describe(FORM.names[name]),
        )
        command = option(command)
    return command


@click.command()
@click.argument("prompt", required=False)
@model_options
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Generate for every prompt in FILE instead of PROMPT: plain text (one prompt a "
    "line; blank lines and # comments skipped) or JSON Lines (a .jsonl file, or one whose "
    'first line is a JSON object: {"prompt": …, "width": …, "seed": …}). The other '
    "options are the defaults for each line. Every line is checked before anything is "
    "generated. With --out, a rerun skips the lines whose images are all in that folder "
    "already (resume; known from a batch key in each PNG's metadata); without --out, "
    "every run makes everything again.",
)
@request_options
@edit_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the PNGs. [env HUATU_OUTPUTS; default ./outputs/DATE]",
)
def generate(
    prompt: str | None,
    model: str | None,
    backend: str | None,
    from_file: Path | None,
    out: Path | None,
    **form: Any,
) -> None:
    """Generate images for PROMPT (or each prompt of --from-file FILE); print each PNG's
    path on its own line. With --init-image it varies that picture (image to image), with
    --mask or --outpaint too it repaints part of it or extends it (inpainting).

    \b
    With --from-file, stdout lists the PNGs of every line in file order, those made
    earlier (skipped on resume) included; progress goes to stderr. A line that fails
    while generating is reported on stderr with its line number and the others go on;
    the exit status is then 1.
    """
    settings = load_cli_settings()
    if (prompt is None) == (from_file is None):
        raise click.UsageError(text("cli_prompt_or_file"))
    try:
        notices = read_edit_options(form)
        options = FORM.request_fields(form)
        # with --from-file the options are checked on their own first (as defaults)
        request = FORM.request({"prompt": "-" if prompt is None else prompt, **form})
    except HuatuError as error:
        raise usage_error(error, settings) from None
    for notice in notices:
        say("cli_notice", text=notice)
    if from_file is not None:
        _generate_batch(settings, from_file, options, model, backend, out)
        return
    service = start_service(settings, model, backend, required=True)
    try:
        result = _generate_one(settings, service, request, out)
    except HuatuError as error:
        raise failure(error, settings) from None
    click.echo(text("cli_seeds", seeds=", ".join(map(str, result.seeds))), err=True)
    for path in result.paths:
        click.echo(str(path))


BAR_WIDTH = 24


def progress_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """``[█████░░░░░]`` for ``fraction`` (0–1) of the work done."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "█" * filled + "░" * (width - filled) + "]"


def _step_reporter(batch: tuple[int, int] | None = None) -> Callable[[Any], None]:
    """A progress callback writing ``step i/n`` (and hosted waits) to stderr; in a batch
    (``batch`` = this prompt's 1-based position, prompts to make) a bar over the whole
    batch comes first."""

    from huatu.messages import render

    def report(event: Any) -> None:  # a huatu.backends.base.ProgressEvent
        if event.total:
            line = text("cli_step", step=event.step, total=event.total)
            if batch is not None:
                position, count = batch
                done = (position - 1 + event.step / event.total) / count
                line = f"{progress_bar(done)} {position}/{count} · {line}"
            click.echo(f"\r{line}", nl=event.step == event.total, err=True)
        elif event.message is not None:
            click.echo(render(event.message, cli_language()), err=True)

    return report


def _generate_one(
    settings: Settings,
    service: Any,
    request: Any,
    out: Path | None,
    extra: dict[str, str] | None = None,
    batch: tuple[int, int] | None = None,
):  # -> GenerationResult
    """Generate one request with step progress on stderr; print its notices.

    Raises:
        HuatuError: the generation failed, or its image could not be saved (``StorageError``:
            e.g. ``--out`` in a folder that cannot be written).
    """

    result = service.generate(request, progress=_step_reporter(batch), folder=out, extra=extra)
    for notice in result.notices:
        click.echo(text("cli_notice", text=notice), err=True)
    return result


def _generate_batch(
    settings: Settings,
    path: Path,
    options: dict[str, Any],
    model: str | None,
    backend: str | None,
    out: Path | None,
) -> None:
    """``generate --from-file``: validate every line, skip what --out already holds, make
    the rest (a failing line is reported and the others go on; exit status 1 then)."""
    from huatu import batch

    model_name = model or settings.model
    try:
        items = batch.read_batch(path, options, model=model_name)
    except HuatuError as error:
        raise usage_error(error, settings) from None
    done = batch.find_done(out, items) if out is not None else {}
    todo = [item for item in items if item.key not in done]
    say("cli_prompts_in_file", count=len(items), path=str(path))
    if done:
        say("cli_skipping_done", count=len(items) - len(todo), folder=str(out))
    service = start_service(settings, model, backend, required=True) if todo else None
    failed: list[int] = []
    position = 0
    for item in items:
        if item.key in done:
            for made in done[item.key]:
                click.echo(str(made))
            continue
        position += 1
        shown = Clipped(item.request.prompt, 60)
        said = text(
            "cli_batch_line", position=position, count=len(todo), line=item.line, prompt=shown
        )
        click.echo(said, err=True)
        extra = batch.batch_metadata(item.key, batch.new_run())
        try:
            result = _generate_one(
                settings, service, item.request, out, extra, batch=(position, len(todo))
            )
        except HuatuError as error:
            failed.append(item.line)
            say("cli_line_failed", line=item.line, why=explain(error, cli_language(), settings))
            continue
        click.echo(text("cli_seeds", seeds=", ".join(map(str, result.seeds))), err=True)
        for made in result.paths:
            click.echo(str(made))
    if failed:
        lines = ", ".join(str(line) for line in failed)
        said = text("cli_batch_failed", failed=len(failed), count=len(todo), lines=lines)
        raise click.ClickException(said)
