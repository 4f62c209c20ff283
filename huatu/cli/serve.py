"""``huatu serve`` (the studio and the HTTP APIs on one port) and ``huatu lesson``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from huatu.cli.options import (
    load_cli_settings,
    model_options,
    port_of,
    port_option,
    say,
    start_service,
    text,
    usage_error,
)
from huatu.errors import SettingsError
from huatu.messages import Notice

# The tutorial's four apps (huatu.ui.lessons.BUILDERS; named here so --help needs no gradio).
LESSONS = ("basic", "advanced", "blocks", "accordion")


def check_port_free(host: str, port: int) -> None:
    """Fail early, before loading a model, when ``host:port`` cannot be listened on."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            said = text("cli_port_busy", host=host, port=port, why=error.strerror)
            raise click.UsageError(said) from None


@click.command()
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
@click.option(
    "--batch-images",
    type=click.IntRange(min=1),
    default=None,
    help="Run compatible queued requests together, up to N images (1: never). Default 4 on "
    "CUDA, 1 elsewhere. [env HUATU_BATCH_IMAGES]",
)
@click.option(
    "--ray-address",
    default=None,
    metavar="ADDRESS",
    help="With --backend ray: the cluster (auto, or ray://HOST:10001); none starts a local "
    "Ray instance. [env HUATU_RAY_ADDRESS]",
)
@click.option(
    "--replicas",
    type=click.IntRange(min=1),
    default=None,
    help="With --backend ray: this many replicas. [env HUATU_RAY_REPLICAS=N or A-B]",
)
@click.option("--min-replicas", type=click.IntRange(min=1), default=None, help="Ray: when idle.")
@click.option("--max-replicas", type=click.IntRange(min=1), default=None, help="Ray: at most.")
@click.option(
    "--gpus-per-replica",
    type=click.FloatRange(min=0),
    default=None,
    help="With --backend ray: GPUs each replica takes. [env HUATU_RAY_GPUS]",
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
    batch_images: int | None,
    ray_address: str | None,
    replicas: int | None,
    min_replicas: int | None,
    max_replicas: int | None,
    gpus_per_replica: float | None,
) -> None:
    """Start the studio and the HTTP APIs on http://127.0.0.1:PORT.

    Credentials: HUATU_API_KEY (sent as "Authorization: Bearer KEY") and/or --auth
    user:password (HTTP Basic); when either is set, every page and API asks for it.
    """
    from huatu.server import Access, build_app, is_loopback
    from huatu.server import serve as run_server

    settings = load_cli_settings()
    settings = replace(
        settings,
        compile=settings.compile if compile_unet is None else compile_unet,
        low_memory=settings.low_memory if low_memory is None else low_memory,
        batch_images=settings.batch_images if batch_images is None else batch_images,
    )
    settings = with_ray_flags(
        settings, ray_address, replicas, min_replicas, max_replicas, gpus_per_replica
    )
    host = "0.0.0.0" if listen else host
    try:
        access = Access.from_settings(settings, auth)
    except SettingsError as error:
        raise usage_error(error) from None
    exposed = [
        what
        for what, on in (
            (Notice("cli_exposure_listen", {"host": host}), not is_loopback(host)),
            (Notice("cli_exposure_share"), share),
        )
        if on
    ]
    if exposed and not access.required:
        what = (
            exposed[0]
            if len(exposed) == 1
            else Notice("cli_exposure_both", dict(zip(("first", "second"), exposed, strict=True)))
        )
        if not insecure_no_auth:
            raise click.UsageError(text("cli_exposure_refused", what=what))
        say("cli_exposure_warning", what=what)
    port = port_of(port, settings)
    check_port_free(host, port)
    service = start_service(settings, model, backend)
    # through a share link requests name the link's host, so the Host check is off then
    app = build_app(service, access=access, mcp=mcp, host=host, port=port, check_host=not share)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    say("cli_serving", url=f"http://{shown}:{port}")
    if mcp:
        say("cli_mcp_serving", url=f"http://{shown}:{port}/gradio_api/mcp/")
    if not share:
        run_server(app, host, port)
        return
    from huatu.server import ServerThread, open_share_link

    try:
        server = ServerThread(app, host, port).start()
    except RuntimeError:
        said = text("cli_server_not_started", url=f"http://{host}:{port}")
        raise click.ClickException(said) from None
    try:
        say("cli_public_link", url=open_share_link(shown, port))
    except OSError as error:
        say("cli_no_share_link", why=str(error))
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()


def with_ray_flags(
    settings: Any,
    address: str | None,
    replicas: int | None,
    low: int | None,
    high: int | None,
    gpus: float | None,
) -> Any:
    """``settings`` with the ``--ray-*`` and replica flags given (the others as they were).

    Raises:
        click.UsageError: ``--replicas`` with ``--min/--max-replicas``, or a minimum above
            the maximum.
    """
    ray = settings.ray
    if replicas is not None:
        if low is not None or high is not None:
            raise click.UsageError(text("cli_replicas_conflict"))
        low = high = replicas
    low = ray.min_replicas if low is None else low
    high = max(ray.max_replicas, low) if high is None else high
    if low > high:
        raise click.UsageError(text("cli_replicas_range", low=low, high=high))
    ray = replace(
        ray,
        address=ray.address if address is None else address,
        min_replicas=low,
        max_replicas=high,
        gpus_per_replica=ray.gpus_per_replica if gpus is None else gpus,
    )
    return replace(settings, ray=ray)


@click.command()
@click.argument("name", type=click.Choice(LESSONS))
@model_options
@port_option
def lesson(name: str, model: str | None, backend: str | None, port: int | None) -> None:
    """Run one of the tutorial's four apps: basic, advanced, blocks or accordion."""
    settings = load_cli_settings()
    service = start_service(settings, model, backend)
    from huatu.ui.lessons import build_lesson

    launch_app(build_lesson(name, service), port_of(port, settings))


def launch_app(demo: Any, port: int) -> None:
    from huatu.ui.common import launch

    say("cli_serving", url=f"http://127.0.0.1:{port}")
    launch(demo, port)
