"""Every backend huatu has, by id: the one list the CLI, selection and the service read.

A new backend is a module implementing :class:`~huatu.backends.base.Backend` and one line in
:data:`BACKENDS`. Factories are import paths, so nothing heavy (torch, diffusers, httpx) is
imported until a backend is created.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from huatu.errors import UnknownNameError

if TYPE_CHECKING:
    from huatu.backends.base import Backend
    from huatu.config import Settings

#: The pseudo-backend that picks one by the rule in :mod:`huatu.backends.selection`.
AUTO = "auto"


@dataclass(frozen=True)
class BackendSpec:
    """One backend.

    Attributes:
        id: its name on the command line and in ``HUATU_BACKEND``.
        summary: one line for ``--help``.
        factory: ``"module:callable"`` taking ``(model, settings)`` and returning a loaded
            backend, or raising :class:`~huatu.errors.ModelLoadError`.
        runs_local_files: it can run the built-in tiny model and model folders on this
            machine.
        key_variable: the environment variable holding the key it needs, if any.
        serves: ``"module:callable"`` taking ``(model, settings)`` and returning the model it
            serves when ``model`` is asked (e.g. the hosted default for the local default),
            or ``None`` for ``model`` itself. Default ``None``.
        checker: ``"module:callable"`` taking ``(model, settings)`` that raises
            :class:`~huatu.errors.ModelLoadError` for a model it can tell is unusable without
            loading it (a damaged file …). Default ``None``: no check.
    """

    id: str
    summary: str
    factory: str
    runs_local_files: bool
    key_variable: str | None = None
    serves: str | None = None
    checker: str | None = None

    def check(self, model: str, settings: Settings) -> None:
        """Refuse ``model`` before anything is loaded or released, when the backend can tell.

        Raises:
            ModelLoadError: the model cannot be used; the sentence says why.
        """
        if self.checker is not None:
            _load(self.checker)(model, settings)

    def create(self, model: str, settings: Settings) -> Backend:
        """Create (and load) this backend for ``model``.

        Raises:
            ModelLoadError: the model cannot be used; the sentence says what to do.
        """
        return _load(self.factory)(model, settings)

    def served_model(self, model: str, settings: Settings) -> str:
        """The model this backend serves when ``model`` is asked."""
        return model if self.serves is None else _load(self.serves)(model, settings)


def _load(path: str) -> Any:
    """The object at ``"module:name"``, importing the module."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


BACKENDS: dict[str, BackendSpec] = {
    spec.id: spec
    for spec in (
        BackendSpec(
            "local",
            "diffusers on this machine (GPU, Apple MPS or CPU)",
            "huatu.backends.local:LocalBackend",
            runs_local_files=True,
            checker="huatu.models.loading:check_model",
        ),
        BackendSpec(
            "hosted",
            "Hugging Face hosted inference",
            "huatu.backends.hosted_start:create_hosted_backend",
            runs_local_files=False,
            key_variable="HF_API_KEY",
            serves="huatu.config:hosted_model_of",
        ),
        BackendSpec(
            "ray",
            "diffusers on Ray Serve replicas (a local Ray instance or a cluster)",
            "huatu.backends.ray_serve:RayBackend",
            runs_local_files=True,
            checker="huatu.models.loading:check_model",
        ),
    )
}


def backend_choices() -> list[str]:
    """What ``--backend`` accepts: ``auto`` and every backend id."""
    return [AUTO, *BACKENDS]


def get_backend(backend_id: str) -> BackendSpec:
    """The backend ``backend_id``.

    Raises:
        UnknownNameError: listing the known ids (and ``auto``).
    """
    try:
        return BACKENDS[backend_id]
    except KeyError:
        raise UnknownNameError("backend", backend_id, backend_choices()) from None
