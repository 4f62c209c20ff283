"""Starting the hosted backend: ask the Hub which provider serves the model, once.

The registry's factory for ``hosted``. Unless the tutorial's endpoint (``HF_API_TTI_BASE``) or
an endpoint URL is used, the Hub is asked which providers serve the model for text-to-image
(:mod:`huatu.backends.hub_lookup`): ``auto`` becomes the first of them, and a model nobody
serves is refused in one sentence that names up to ten models that are served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from huatu.backends.hosted import HostedBackend
from huatu.backends.hosted_wire import is_url
from huatu.config import AUTO_PROVIDER
from huatu.errors import ModelLoadError
from huatu.messages import Notice

if TYPE_CHECKING:
    from huatu.backends.hub_lookup import ModelServing
    from huatu.config import Settings


def create_hosted_backend(model: str, settings: Settings) -> HostedBackend:
    """The registry's factory: a hosted backend for ``model`` (unless ``HUATU_HOSTED_MODEL``
    names another; the local default model means the hosted default).

    Unless the tutorial's endpoint or an endpoint URL is used, the Hub is asked once which
    providers serve the model for text-to-image (:mod:`huatu.backends.hub_lookup`): ``auto``
    becomes the first of them, and a model nobody serves is refused here, with up to ten
    models that are served. When the Hub cannot be asked, the calls go to the provider as
    configured (``hf-inference`` for ``auto``) and fail, if they do, with their own sentences.

    Raises:
        ModelLoadError: no Hugging Face key is set, or no provider serves the model (its
            ``alternatives`` are served models).
    """
    from dataclasses import replace

    from huatu.backends.hub_lookup import (
        IMAGE_TO_IMAGE,
        TEXT_TO_IMAGE,
        look_up,
        served_models,
    )

    if not settings.hf_api_key:
        raise ModelLoadError("no_hosted_key")
    settings = replace(settings, model=model)
    hosted = settings.effective_hosted_model
    if settings.hf_api_tti_base or is_url(hosted):
        return HostedBackend(settings)
    provider = settings.hosted_provider
    serving = look_up(hosted, TEXT_TO_IMAGE, settings)
    if serving is None:  # the Hub could not be asked (and its list would retry for long)
        return HostedBackend(settings)
    served = served_models(TEXT_TO_IMAGE, provider, settings) or ()
    alternatives = tuple(name for name in served if name != hosted)
    route = serving.route_for(provider)
    if route is None:
        raise _not_served(serving, provider, alternatives)
    editing = look_up(hosted, IMAGE_TO_IMAGE, settings)
    edit_route = editing.route_for(provider) if editing is not None else None
    return HostedBackend(settings, route=route, alternatives=alternatives, edit_route=edit_route)


def _not_served(serving: ModelServing, provider: str, alternatives: tuple[str, ...]) -> Exception:
    """The refusal of a model the Hub says is not served (as asked), naming served models."""
    if not serving.exists:
        key = "hosted_model_unknown"
    elif provider == AUTO_PROVIDER or not serving.routes:
        key = "hosted_model_not_served"
    else:
        key = "hosted_model_not_served_by"
    others = ", ".join(route.provider for route in serving.routes)
    offer = (
        Notice("hosted_served_models", {"models": ", ".join(alternatives)})
        if alternatives
        else Notice("hosted_served_models_unknown")
    )
    return ModelLoadError(
        key,
        alternatives=alternatives,
        model=serving.model,
        provider=provider,
        others=others,
        offer=offer,
    )
