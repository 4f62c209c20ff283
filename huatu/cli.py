"""The ``huatu`` command: serve, lesson, generate, info.

Options take their defaults from the environment (and ``.env``); huatu's errors become click
errors here, at the edge, as one sentence without a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from huatu import __version__
from huatu.config import Settings, load_settings
from huatu.errors import HuatuError

BACKEND_CHOICES = click.Choice(["auto", "local", "hosted"])
# The tutorial's four apps (huatu.ui.lessons.BUILDERS; named here so --help needs no gradio).
LESSONS = ("basic", "advanced", "blocks", "accordion")


def _settings() -> Settings:
    try:
        return load_settings()
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--model`` and ``--backend`` (defaults: HUATU_MODEL, HUATU_BACKEND) to a command."""

    @click.option(
        "--model",
        default=None,
        help="Hub id, local diffusers folder, or 'tiny' (built-in offline test model). "
        "[env HUATU_MODEL; default stable-diffusion-v1-5/stable-diffusion-v1-5]",
    )
    @click.option(
        "--backend",
        type=BACKEND_CHOICES,
        default=None,
        help="auto: hosted when HF_API_KEY is set and there is no GPU, else local. "
        "[env HUATU_BACKEND; default auto]",
    )
    @click.option(
        "--allow-pickle",
        is_flag=True,
        default=False,
        help="Also load .bin/.ckpt/.pt weights, which can run code hidden in the file "
        "(only for models you trust). [env HUATU_ALLOW_PICKLE; default: .safetensors only]",
    )
    @functools.wraps(command)
    def wrapper(*args: Any, allow_pickle: bool = False, **kwargs: Any) -> Any:
        if allow_pickle:  # read with the other settings by _settings()
            os.environ["HUATU_ALLOW_PICKLE"] = "1"
        return command(*args, **kwargs)

    return wrapper


port_option = click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port on 127.0.0.1. [env GRADIO_SERVER_PORT; default 7860]",
)


def _start_service(
    settings: Settings, model: str | None, backend: str | None, *, required: bool = False
):  # -> ImageService
    """Choose and load the backend; print what runs and why (or why nothing does).

    Args:
        required: fail with the load error instead of starting without a model (for
            one-shot commands such as ``generate``). Default ``False`` (apps start anyway
            and show the error on the page).
    """
    from huatu.service import ImageService

    click.echo(f"huatu: loading {model or settings.model} …", err=True)
    if settings.allow_pickle:
        from huatu.backends.local import PICKLE_WARNING

        click.echo(f"huatu: WARNING: {PICKLE_WARNING}", err=True)
    if settings.compile:
        click.echo(
            "huatu: compiling the UNet for this machine — a minute or more the first time, "
            f"seconds once cached in {settings.cache_dir / 'inductor'} …",
            err=True,
        )
    try:
        service = ImageService.start(settings, model=model, backend=backend)
    except HuatuError as error:
        raise click.UsageError(str(error)) from None
    if service.load_error and required:
        raise click.ClickException(service.load_error)
    click.echo(f"huatu: {service.status}", err=True)
    return service


def _check_port_free(host: str, port: int) -> None:
    """Fail early, before loading a model, when ``host:port`` cannot be listened on."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise click.UsageError(
                f"Cannot listen on {host}:{port} ({error.strerror}): another program (maybe "
                "another huatu) uses it. Stop it or pass --port with a free port."
            ) from None


def _port(port: int | None, settings: Settings) -> int:
    return port if port is not None else settings.port


@click.group()
@click.version_option(__version__, prog_name="huatu")
def main() -> None:
    """画图 huatu: turn a text prompt into an image with Stable Diffusion."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@main.command()
@model_options
@port_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback needs --auth or HUATU_API_KEY.",
)
@click.option("--listen", is_flag=True, help="Listen on every interface (--host 0.0.0.0).")
@click.option(
    "--auth",
    default=None,
    metavar="USER:PASSWORD",
    help="Ask every request for HTTP Basic credentials (comma-separate several pairs). "
    "[env HUATU_AUTH]",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Listen beyond loopback without credentials (anyone on the network can use it).",
)
@click.option(
    "--share",
    is_flag=True,
    help="Also open a public *.gradio.live link through Gradio's share server (needs "
    "credentials, like --listen).",
)
@click.option(
    "--mcp", is_flag=True, help="Also serve the generate_image MCP tool at /gradio_api/mcp/."
)
@click.option(
    "--compile/--no-compile",
    "compile_unet",
    default=None,
    help="torch.compile the UNet at start (slow first start, cached after). [env HUATU_COMPILE]",
)
@click.option(
    "--low-memory/--no-low-memory",
    default=None,
    help="CUDA: model CPU offload; all: VAE tiling above 512x512. [env HUATU_LOW_MEMORY]",
)
def serve(
    model: str | None,
    backend: str | None,
    port: int | None,
    host: str,
    listen: bool,
    auth: str | None,
    insecure_no_auth: bool,
    share: bool,
    mcp: bool,
    compile_unet: bool | None,
    low_memory: bool | None,
) -> None:
    """Start the studio and the HTTP APIs on http://127.0.0.1:PORT.

    Credentials: HUATU_API_KEY (sent as "Authorization: Bearer KEY") and/or --auth
    user:password (HTTP Basic); when either is set, every page and API asks for it.
    """
    from huatu.server import Access, build_app, is_loopback
    from huatu.server import serve as run_server

    settings = _settings()
    if compile_unet is not None or low_memory is not None:
        settings = replace(
            settings,
            compile=settings.compile if compile_unet is None else compile_unet,
            low_memory=settings.low_memory if low_memory is None else low_memory,
        )
    host = "0.0.0.0" if listen else host
    try:
        access = Access.from_settings(settings, auth)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    exposed = [
        what
        for what, on in ((f"listen on {host}", not is_loopback(host)), ("open a share link", share))
        if on
    ]
    if exposed and not access.required:
        if not insecure_no_auth:
            raise click.UsageError(
                f"Refusing to {' and '.join(exposed)} without credentials: anyone who can "
                "reach it could use this machine. Set HUATU_API_KEY or pass --auth "
                "user:password (or --insecure-no-auth if you really mean it)."
            )
        click.echo(
            f"huatu: WARNING: going to {' and '.join(exposed)} without credentials; anyone "
            "who can reach it can generate images and read them.",
            err=True,
        )
    port = _port(port, settings)
    _check_port_free(host, port)
    service = _start_service(settings, model, backend)
    # through a share link requests name the link's host, so the Host check is off then
    app = build_app(service, access=access, mcp=mcp, host=host, port=port, check_host=not share)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"huatu: serving on http://{shown}:{port}", err=True)
    if mcp:
        click.echo(f"huatu: MCP server at http://{shown}:{port}/gradio_api/mcp/", err=True)
    if not share:
        run_server(app, host, port)
        return
    from huatu.server import ServerThread, open_share_link

    try:
        server = ServerThread(app, host, port).start()
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    try:
        click.echo(f"huatu: public link {open_share_link(shown, port)}", err=True)
    except OSError as error:
        click.echo(f"huatu: could not open a share link ({error}); serving locally only", err=True)
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()


@main.command()
@click.argument("name", type=click.Choice(LESSONS))
@model_options
@port_option
def lesson(name: str, model: str | None, backend: str | None, port: int | None) -> None:
    """Run one of the tutorial's four apps: basic, advanced, blocks or accordion."""
    settings = _settings()
    service = _start_service(settings, model, backend)
    from huatu.ui.lessons import build_lesson

    _launch(build_lesson(name, service), _port(port, settings))


def _launch(demo: Any, port: int) -> None:
    from huatu.ui.common import launch

    click.echo(f"huatu: serving on http://127.0.0.1:{port}", err=True)
    launch(demo, port)


@main.command()
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
@click.option("--negative-prompt", default="", help="What to avoid. [default: none]")
@click.option("--steps", type=int, default=None, help="Denoising steps, 1-100. [default 25]")
@click.option("--guidance", type=float, default=None, help="Guidance scale, 0-20. [default 7]")
@click.option("--width", type=int, default=None, help="Width, 64-1024, multiple of 8. [512]")
@click.option("--height", type=int, default=None, help="Height, 64-1024, multiple of 8. [512]")
@click.option("--seed", type=int, default=None, help="Seed; -1 for random. [default -1]")
@click.option("--num-images", type=int, default=None, help="Images to make, 1-4. [default 1]")
@click.option(
    "--scheduler",
    default=None,
    help="dpmpp_2m_karras (default), dpmpp_2m, euler_a, euler, ddim, pndm.",
)
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
    negative_prompt: str,
    steps: int | None,
    guidance: float | None,
    width: int | None,
    height: int | None,
    seed: int | None,
    num_images: int | None,
    scheduler: str | None,
    out: Path | None,
) -> None:
    """Generate images for PROMPT (or each prompt of --from-file FILE); print each PNG's
    path on its own line.

    \b
    With --from-file, stdout lists the PNGs of every line in file order, those made
    earlier (skipped on resume) included; progress goes to stderr. A line that fails
    while generating is reported on stderr with its line number and the others go on;
    the exit status is then 1.
    """
    from huatu.request import GenerationRequest

    settings = _settings()
    if (prompt is None) == (from_file is None):
        raise click.UsageError("Give either a PROMPT or --from-file FILE (not both).")
    options = {
        "negative_prompt": negative_prompt,
        "num_inference_steps": steps,
        "guidance_scale": guidance,
        "width": width,
        "height": height,
        "seed": seed,
        "num_images": num_images,
        "scheduler": scheduler,
    }
    try:
        # with --from-file the options are checked on their own first (as defaults)
        request = GenerationRequest.create(prompt="-" if prompt is None else prompt, **options)
    except HuatuError as error:
        raise click.UsageError(str(error)) from None
    if from_file is not None:
        _generate_batch(settings, from_file, options, model, backend, out)
        return
    service = _start_service(settings, model, backend, required=True)
    try:
        result = _generate_one(settings, service, request, out)
    except HuatuError as error:
        raise click.ClickException(settings.redact(str(error))) from None
    click.echo(f"seed: {', '.join(str(seed) for seed in result.seeds)}", err=True)
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

    def report(event: Any) -> None:  # a huatu.backends.base.ProgressEvent
        if event.total:
            line = f"step {event.step}/{event.total}"
            if batch is not None:
                position, count = batch
                done = (position - 1 + event.step / event.total) / count
                line = f"{progress_bar(done)} {position}/{count} · {line}"
            click.echo(f"\r{line}", nl=event.step == event.total, err=True)
        elif event.message:
            click.echo(event.message, err=True)

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
        HuatuError: the generation failed (the message is for people, not yet redacted).
        click.ClickException: the image could not be written (``OSError``).
    """
    from huatu.messages import render

    try:
        report = _step_reporter(batch)
        result = service.generate(request, progress=report, folder=out, extra=extra)
    except OSError as error:  # e.g. --out in a folder that cannot be written
        where = error.filename or out or settings.outputs_dir
        message = f"Cannot write the image to {where}: {error.strerror}."
        raise click.ClickException(message) from None
    for notice in result.notices:
        click.echo(f"notice: {render(notice)}", err=True)
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
        raise click.UsageError(str(error)) from None
    done = batch.find_done(out, items) if out is not None else {}
    todo = [item for item in items if item.key not in done]
    click.echo(f"huatu: {len(items)} prompt(s) in {path}", err=True)
    if done:
        skipped = len(items) - len(todo)
        click.echo(f"huatu: skipping {skipped} already done (their images are in {out})", err=True)
    service = _start_service(settings, model, backend, required=True) if todo else None
    failed: list[int] = []
    position = 0
    for item in items:
        if item.key in done:
            for made in done[item.key]:
                click.echo(str(made))
            continue
        position += 1
        shown = " ".join(item.request.prompt.split())
        shown = shown if len(shown) <= 60 else shown[:59] + "…"
        click.echo(f"[{position}/{len(todo)}] line {item.line}: {shown}", err=True)
        extra = batch.batch_metadata(item.key, batch.new_run())
        try:
            result = _generate_one(
                settings, service, item.request, out, extra, batch=(position, len(todo))
            )
        except HuatuError as error:
            failed.append(item.line)
            message = settings.redact(str(error))
            click.echo(f"huatu: line {item.line} failed: {message}", err=True)
            continue
        click.echo(f"seed: {', '.join(str(seed) for seed in result.seeds)}", err=True)
        for made in result.paths:
            click.echo(str(made))
    if failed:
        lines = ", ".join(str(line) for line in failed)
        raise click.ClickException(f"{len(failed)} of {len(todo)} prompt(s) failed (line {lines}).")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the parameters as JSON.")
def info(file: Path, as_json: bool) -> None:
    """Print the generation parameters stored in an image FILE."""
    from huatu.metadata import parse_parameters, read_parameters

    try:
        text = read_parameters(file)
    except HuatuError as error:
        raise click.ClickException(str(error)) from None
    if text is None:
        raise click.ClickException(f"{file} carries no generation parameters.")
    if not as_json:
        click.echo(text)
        return
    parsed = parse_parameters(text)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
