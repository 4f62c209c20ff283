"""Which backend serves a model, and why: the rule behind ``--backend auto``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from huatu.config import TINY_MODEL, Settings
from huatu.errors import UnknownNameError, ValidationError

BACKENDS = ("auto", "local", "hosted")


@dataclass(frozen=True)
class BackendChoice:
    """The backend picked for a model.

    Attributes:
        backend: ``"local"`` or ``"hosted"``.
        model: the model it will serve.
        reason: why, in a few words for people (shown in the UI and the CLI).
    """

    backend: str
    model: str
    reason: str


def choose_backend(
    settings: Settings,
    *,
    model: str | None = None,
    backend: str | None = None,
    has_gpu: Callable[[], bool] | None = None,
) -> BackendChoice:
    """Pick the backend for ``model``.

    ``auto`` means: the tiny model and local folders run locally; otherwise hosted when a
    Hugging Face key is set and there is no GPU; otherwise local.

    Args:
        settings: provides the defaults and whether a key is set.
        model: model to serve. Default ``settings.model``.
        backend: ``auto``, ``local`` or ``hosted``. Default ``settings.backend``.
        has_gpu: tells whether a GPU is present (only asked when it matters). Default
            :func:`huatu.device.gpu_available`.

    Raises:
        UnknownNameError: ``backend`` is not one of :data:`BACKENDS`.
        ValidationError: the tiny model or a local folder was asked of the hosted backend.
    """
    model = model or settings.model
    backend = backend or settings.backend
    if backend not in BACKENDS:
        raise UnknownNameError("backend", backend, list(BACKENDS))
    runs_only_locally = model == TINY_MODEL or Path(model).expanduser().exists()
    if backend == "hosted":
        if runs_only_locally:
            raise ValidationError("model", model, "local_only")
        return BackendChoice("hosted", model, "chosen with --backend hosted")
    if backend == "local":
        return BackendChoice("local", model, "chosen with --backend local")
    if model == TINY_MODEL:
        return BackendChoice("local", model, "the built-in tiny model runs locally")
    if runs_only_locally:
        return BackendChoice("local", model, "the model is a local folder")
    if not settings.hf_api_key:
        return BackendChoice("local", model, "no Hugging Face key (HF_API_KEY) is set")
    if has_gpu is None:
        from huatu.device import gpu_available

        has_gpu = gpu_available
    if has_gpu():
        return BackendChoice("local", model, "a GPU is available")
    return BackendChoice("hosted", model, "a Hugging Face key is set and there is no GPU")
