"""Which backend serves a model, and why: the rule behind ``--backend auto``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from huatu.backends.registry import AUTO, get_backend
from huatu.config import TINY_MODEL, Settings
from huatu.errors import ValidationError
from huatu.messages import Notice


@dataclass(frozen=True)
class BackendChoice:
    """The backend picked for a model.

    Attributes:
        backend: a backend id of :mod:`huatu.backends.registry`.
        model: the model it will serve.
        reason: why, as a catalog notice (shown in the UI and the CLI in the person's
            language).
    """

    backend: str
    model: str
    reason: Notice


def runs_only_locally(model: str, settings: Settings | None = None) -> bool:
    """Whether ``model`` is the built-in tiny model, a path on this machine, or (given
    ``settings``) a checkpoint of the models folders."""
    if model == TINY_MODEL or Path(model).expanduser().exists():
        return True
    if settings is None:
        return False
    from huatu.models.folders import CHECKPOINT, library_for

    return library_for(settings).find(CHECKPOINT, model) is not None


def choose_backend(
    settings: Settings,
    *,
    model: str | None = None,
    backend: str | None = None,
    has_gpu: Callable[[], bool] | None = None,
) -> BackendChoice:
    """Pick the backend for ``model``.

    ``auto`` means: the tiny model and local folders run locally; otherwise hosted when a
    Hugging Face key is set and there is no GPU; otherwise local. The chosen model is the one
    the backend serves when ``model`` is asked (the hosted default for the local default).

    Args:
        settings: provides the defaults and whether a key is set.
        model: model to serve. Default ``settings.model``.
        backend: ``auto`` or a backend id. Default ``settings.backend``.
        has_gpu: tells whether a GPU is present (only asked when it matters). Default
            :func:`huatu.device.gpu_available`.

    Raises:
        UnknownNameError: ``backend`` is neither ``auto`` nor a known backend.
        ValidationError: the tiny model or a local folder was asked of a backend that
            cannot run local files.
    """
    model = model or settings.model
    backend = backend or settings.backend
    local = runs_only_locally(model, settings)
    if backend != AUTO:
        spec = get_backend(backend)
        if not spec.runs_local_files and local:
            raise ValidationError("model", model, "local_only")
        served = spec.served_model(model, settings)
        return BackendChoice(backend, served, Notice("choice_flag", {"backend": backend}))
    if model == TINY_MODEL:
        return BackendChoice("local", model, Notice("choice_tiny"))
    if local:
        return BackendChoice("local", model, Notice("choice_folder"))
    if not settings.hf_api_key:
        return BackendChoice("local", model, Notice("choice_no_key"))
    if has_gpu is None:
        from huatu.device import gpu_available

        has_gpu = gpu_available
    if has_gpu():
        return BackendChoice("local", model, Notice("choice_gpu"))
    served = get_backend("hosted").served_model(model, settings)
    return BackendChoice("hosted", served, Notice("choice_key_no_gpu"))
