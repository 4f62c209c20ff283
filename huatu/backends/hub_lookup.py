"""Which Inference Providers serve a model, asked of the Hugging Face Hub once per session.

Before huatu sends a hosted request it asks the Hub API (``HfApi.model_info(model,
expand=["inferenceProviderMapping"])``) which providers serve the model for a task, so a model
nobody serves is reported once at start, with models that are served
(``HfApi.list_models(pipeline_tag=..., inference_provider=..., sort="likes")``), instead of
failing at every request. Answers are kept for the session; when the Hub cannot be reached the
answer is ``None`` and the caller tries the request as configured.

:func:`point_library_at` makes ``huggingface_hub`` itself use huatu's Hub and router
addresses (``HF_ENDPOINT``, ``HUATU_HF_ROUTER``), so its provider calls go where huatu's do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from huatu.config import AUTO_PROVIDER

if TYPE_CHECKING:
    from huatu.config import Settings

TEXT_TO_IMAGE = "text-to-image"
IMAGE_TO_IMAGE = "image-to-image"
TRANSLATION = "translation"
CONVERSATIONAL = "conversational"
#: Most served models offered when a model is not served.
MAX_SUGGESTIONS = 10
#: Deadline of one Hub API call, in seconds.
LOOKUP_TIMEOUT_S = 10.0

_lock = threading.Lock()
_infos: dict[tuple[str, str], object] = {}  # a model's info (``False``: no such model)
_suggestions: dict[tuple[str, str, str], tuple[str, ...]] = {}


@dataclass(frozen=True)
class ProviderRoute:
    """One provider serving a model.

    Attributes:
        provider: the provider's name, e.g. ``fal-ai``.
        provider_id: the model's name at that provider, e.g. ``fal-ai/flux/schnell``.
    """

    provider: str
    provider_id: str


@dataclass(frozen=True)
class ModelServing:
    """What the Hub says about one model and one task.

    Attributes:
        model: the Hub id asked about.
        task: the task asked about, e.g. ``text-to-image``.
        exists: the Hub knows the model.
        routes: the providers serving it live for ``task``, in the Hub's order (the order the
            person set in their Hugging Face settings when their key was sent).
    """

    model: str
    task: str
    exists: bool
    routes: tuple[ProviderRoute, ...]

    def route_for(self, provider: str) -> ProviderRoute | None:
        """The route of ``provider`` (``auto``: the first one), or ``None`` when it does not
        serve the model."""
        if provider == AUTO_PROVIDER:
            return self.routes[0] if self.routes else None
        return next((route for route in self.routes if route.provider == provider), None)


def point_library_at(settings: Settings) -> None:
    """Make ``huggingface_hub`` use ``settings.hf_endpoint`` for Hub lookups and
    ``settings.hf_router`` for provider calls (its ``ENDPOINT`` and
    ``INFERENCE_PROXY_TEMPLATE``); both are process-wide, as huatu's settings are."""
    from huggingface_hub import constants

    template = f"{settings.hf_router.rstrip('/')}/{{provider}}"
    constants.INFERENCE_PROXY_TEMPLATE = template
    constants.ENDPOINT = settings.hf_endpoint


def look_up(model: str, task: str, settings: Settings) -> ModelServing | None:
    """Which providers serve ``model`` for ``task`` (the Hub is asked once per model and
    session).

    Args:
        model: a Hub id.
        task: e.g. :data:`TEXT_TO_IMAGE` or :data:`TRANSLATION`.
        settings: ``hf_endpoint`` (where the Hub is) and ``hf_api_key`` (sent, so the Hub
            orders providers as the person set them).

    Returns:
        The answer, or ``None`` when the Hub could not be asked (offline mode, unreachable,
        the key refused, an unreadable answer): then nothing is known.
    """
    cache_key = (settings.hf_endpoint, model)
    with _lock:
        info = _infos.get(cache_key)
    if info is None:
        info = _model_info(model, settings)
        if info is None:
            return None
        with _lock:
            _infos[cache_key] = info
    if info is False:
        return ModelServing(model, task, exists=False, routes=())
    known = _providers_for(task)
    routes = tuple(
        ProviderRoute(mapping.provider, mapping.provider_id)
        for mapping in info.inference_provider_mapping or ()
        if mapping.task == task
        and mapping.status == "live"
        and (known is None or mapping.provider in known)
    )
    return ModelServing(model, task, exists=True, routes=routes)


def served_models(
    task: str, provider: str, settings: Settings, *, limit: int = MAX_SUGGESTIONS
) -> tuple[str, ...] | None:
    """Up to ``limit`` models served for ``task`` (by ``provider``, or any for ``auto``), most
    liked first, asked once per session; ``None`` when the Hub could not be asked."""
    wanted = "all" if provider == AUTO_PROVIDER else provider
    cache_key = (settings.hf_endpoint, task, wanted)
    with _lock:
        if cache_key in _suggestions:
            return _suggestions[cache_key]
    from huggingface_hub import HfApi

    api = HfApi(endpoint=settings.hf_endpoint, token=settings.hf_api_key or False)
    try:
        with _asking_the_hub():
            found = tuple(
                info.id
                for info in api.list_models(
                    pipeline_tag=task, inference_provider=wanted, sort="likes", limit=limit
                )
            )
    except (_Unknown, _NotFound):
        return None
    with _lock:
        _suggestions[cache_key] = found
    return found


def forget() -> None:
    """Forget every answer (a new session, or a test)."""
    with _lock:
        _infos.clear()
        _suggestions.clear()


# -- internals --------------------------------------------------------------------------------


class _Unknown(Exception):
    """The Hub could not be asked."""


class _NotFound(Exception):
    """The Hub has no such model."""


def _model_info(model: str, settings: Settings) -> object:
    """The model's info with its provider mapping; ``False`` when the Hub has no such model;
    ``None`` when the Hub could not be asked."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=settings.hf_endpoint, token=settings.hf_api_key or False)
    try:
        with _asking_the_hub():
            return api.model_info(
                model, expand=["inferenceProviderMapping"], timeout=LOOKUP_TIMEOUT_S
            )
    except _NotFound:
        return False
    except _Unknown:
        return None


@contextmanager
def _asking_the_hub() -> Iterator[None]:
    """Around a Hub API call: no call in offline mode; "no such repository" becomes
    :class:`_NotFound`, any other failure :class:`_Unknown`."""
    import httpx2
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    if constants.HF_HUB_OFFLINE:
        raise _Unknown()
    try:
        yield
    except RepositoryNotFoundError:
        raise _NotFound() from None
    except (HfHubHTTPError, OfflineModeIsEnabled, httpx2.HTTPError, OSError, ValueError):
        raise _Unknown() from None
    except (KeyError, TypeError, AttributeError):  # an answer of an unexpected shape
        raise _Unknown() from None


def _providers_for(task: str) -> frozenset[str] | None:
    """The providers the installed ``huggingface_hub`` can call for ``task`` (``None`` when it
    does not say)."""
    try:
        from huggingface_hub.inference._providers import PROVIDERS
    except ImportError:  # pragma: no cover - a future huggingface_hub may move it
        return None
    return frozenset(name for name, tasks in PROVIDERS.items() if task in tasks)
