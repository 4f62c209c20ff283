"""The ``huatu`` command: serve, lesson, generate, upscale, models, info, bench.

Each command lives in its own module (:mod:`huatu.cli.serve`, :mod:`huatu.cli.generate`);
this one holds the group and the two small ones. Importing it imports neither torch nor
gradio, so ``huatu --help`` is quick.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from huatu import __version__
from huatu.cli.editing import upscale
from huatu.cli.generate import generate
from huatu.cli.models import models
from huatu.cli.options import failure, text
from huatu.cli.serve import LESSONS, lesson, serve
from huatu.errors import HuatuError

__all__ = ["LESSONS", "main"]


@click.group()
@click.version_option(__version__, prog_name="huatu")
def main() -> None:
    """画图 huatu: turn a text prompt into an image with Stable Diffusion."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


main.add_command(serve)
main.add_command(lesson)
main.add_command(generate)
main.add_command(upscale)
main.add_command(models)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the parameters as JSON.")
def info(file: Path, as_json: bool) -> None:
    """Print the generation parameters stored in an image FILE."""
    from huatu.metadata import parse_parameters, read_parameters

    try:
        parameters = read_parameters(file)
    except HuatuError as error:
        raise failure(error) from None
    if parameters is None:
        raise click.ClickException(text("cli_no_parameters", file=str(file)))
    if not as_json:
        click.echo(parameters)
        return
    parsed = parse_parameters(parameters)
    payload = {
        "prompt": parsed.prompt,
        "negative_prompt": parsed.negative_prompt,
        "settings": parsed.settings,
        "request": parsed.to_request_fields(),
    }
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2))


@main.command()
@click.option("--quick", is_flag=True, help="The short run (under 10 minutes).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("bench/results/latest.json"),
    show_default=True,
    help="Where the results JSON goes.",
)
@click.option(
    "--compile/--no-compile",
    "compile_unet",
    default=None,
    help="Include the torch.compile case. [default: full runs only]",
)
def bench(quick: bool, out: Path, compile_unet: bool | None) -> None:
    """Benchmark SD 1.5 (random weights, nothing downloaded): plain diffusers vs huatu."""
    from huatu.bench.run import main as run_benchmark

    run_benchmark(quick, out, compile_unet)
