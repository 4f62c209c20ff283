"""What the ``huatu`` commands share: settings, the model options, starting the service,
and turning huatu's errors into click's.

Options take their defaults from the environment (and ``.env``); huatu's errors become click
errors here, at the edge, as one sentence without a traceback (:func:`huatu.errors.explain`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from huatu.backends.registry import BACKENDS, backend_choices
from huatu.config import DEFAULT_MODEL, Settings, load_settings
from huatu.errors import SettingsError, explain
from huatu.messages import Notice, language_from_header, message, render

if TYPE_CHECKING:
    from huatu.service import ImageService


def load_cli_settings() -> Settings:
    """The settings, or a usage error naming the bad variable."""
    try:
        return load_settings()
    except SettingsError as error:
        raise usage_error(error) from None


def cli_language() -> str:
    """The language the command speaks: Chinese when the locale is (``LC_ALL``,
    ``LC_MESSAGES`` or ``LANG`` such as ``zh_CN.UTF-8``), else English."""
    locale = next(
        (os.environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if os.environ.get(name)),
        "",
    )
    return language_from_header(locale)


def text(key: str, **params: object) -> str:
    """The catalog sentence ``key`` in the command's language."""
    return message(key, cli_language(), **params)


def say(key: str, **params: object) -> None:
    """Tell the person (on stderr, after ``huatu:``) the catalog sentence ``key``."""
    click.echo(f"huatu: {text(key, **params)}", err=True)


def usage_error(error: BaseException, settings: Settings | None = None) -> click.UsageError:
    """A click usage error (exit status 2) saying ``error`` in one sentence."""
    return click.UsageError(explain(error, cli_language(), settings))


def failure(error: BaseException, settings: Settings | None = None) -> click.ClickException:
    """A click failure (exit status 1) saying ``error`` in one sentence."""
    return click.ClickException(explain(error, cli_language(), settings))


def _backend_help() -> str:
    lines = "; ".join(
        f"{spec.id}: {spec.summary}"
        + (f" (needs {spec.key_variable})" if spec.key_variable else "")
        for spec in BACKENDS.values()
    )
    return (
        f"auto: hosted when HF_API_KEY is set and there is no GPU, else local; {lines}. "
        "[env HUATU_BACKEND; default auto]"
    )


def _extra_dirs(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> None:
    """``--extra-model-dir``: read with the other settings by :func:`load_cli_settings`."""
    if value:
        os.environ["HUATU_EXTRA_MODEL_DIRS"] = os.pathsep.join(str(path) for path in value)


extra_dirs_option = click.option(
    "--extra-model-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    multiple=True,
    expose_value=False,
    callback=_extra_dirs,
    help="An AUTOMATIC1111, Forge or ComfyUI install (or its models folder) whose checkpoints, "
    "LoRAs, VAEs and embeddings to use where they are; repeat for more. "
    "[env HUATU_EXTRA_MODEL_DIRS]",
)


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--model``, ``--backend``, ``--allow-pickle`` and ``--extra-model-dir``
    (defaults: HUATU_MODEL, HUATU_BACKEND, HUATU_ALLOW_PICKLE, HUATU_EXTRA_MODEL_DIRS) to a
    command."""

    @click.option(
        "--model",
        default=None,
        help="A checkpoint of the models folder (e.g. dream.safetensors), a Hub id, a local "
        "diffusers folder or .safetensors file, or 'tiny' (built-in offline test model). "
        f"[env HUATU_MODEL; default {DEFAULT_MODEL}]",
    )
    @click.option(
        "--backend", type=click.Choice(backend_choices()), default=None, help=_backend_help()
    )
    @click.option(
        "--allow-pickle",
        is_flag=True,
        default=False,
        help="Also load .bin/.ckpt/.pt weights, which can run code hidden in the file "
        "(only for models you trust). [env HUATU_ALLOW_PICKLE; default: .safetensors only]",
    )
    @extra_dirs_option
    @functools.wraps(command)
    def wrapper(*args: Any, allow_pickle: bool = False, **kwargs: Any) -> Any:
        if allow_pickle:  # read with the other settings by load_cli_settings()
            os.environ["HUATU_ALLOW_PICKLE"] = "1"
        return command(*args, **kwargs)

    return wrapper


port_option = click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port on 127.0.0.1. [env GRADIO_SERVER_PORT; default 7860]",
)


def start_service(
    settings: Settings, model: str | None, backend: str | None, *, required: bool = False
) -> ImageService:
    """Choose and load the backend; print what runs and why (or why nothing does).

    Args:
        settings: huatu settings.
        model: ``--model``. Default (``None``): ``settings.model``.
        backend: ``--backend``. Default (``None``): ``settings.backend``.
        required: fail with the load error instead of starting without a model (for
            one-shot commands such as ``generate``). Default ``False`` (apps start anyway
            and show the error on the page).
    """
    from huatu.errors import HuatuError
    from huatu.service import ImageService

    try:  # the model the backend will serve (hosted, the local default means another)
        _, chosen = ImageService.plan(settings, model=model, backend=backend)
    except HuatuError as error:
        raise usage_error(error, settings) from None
    say("cli_loading", model=chosen.model)
    if settings.allow_pickle:
        say("cli_warning", text=Notice("pickle_warning"))
    if settings.compile:
        say("cli_compiling", folder=str(settings.cache_dir / "inductor"))
    try:
        service = ImageService.start(
            settings, model=model, backend=backend, background=not required
        )
    except HuatuError as error:
        raise usage_error(error, settings) from None
    if service.load_error is not None and required:
        raise failure(service.load_error, settings)
    language = cli_language()
    click.echo(f"huatu: {render(service.status_notice(language), language)}", err=True)
    if service.is_test_model:
        say("test_model")
    return service


def port_of(port: int | None, settings: Settings) -> int:
    """``--port``, else the settings' port."""
    return port if port is not None else settings.port
