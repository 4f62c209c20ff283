"""What each hosted model family takes, and a request fitted to it.

Families differ: FLUX.1 [schnell] runs a few steps and takes neither a negative prompt nor a
guidance scale; FLUX.1 [dev] takes guidance but no negative prompt; Stable Diffusion (XL, 3)
takes all of them. A hosted request sends only what the model takes (:func:`fit_request`),
says which of the person's settings were left out (notices, in their language), and the PNG's
metadata records what was sent — never a setting that was not used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from huatu.messages import Notice
from huatu.request import DEFAULT_GUIDANCE, DEFAULT_STEPS

if TYPE_CHECKING:
    from huatu.request import GenerationRequest

NEGATIVE_PROMPT = "negative_prompt"
GUIDANCE = "guidance_scale"


@dataclass(frozen=True)
class HostedFamily:
    """What the models of one family take.

    Attributes:
        name: the family, for people (e.g. ``FLUX.1 [schnell]``).
        negative_prompt: it reads a negative prompt.
        guidance: it reads a guidance scale (CFG).
        max_steps: the most steps it runs (a request asking more sends this many), or
            ``None`` for no limit beyond huatu's own. Default ``None``.
        default_steps: the steps sent when the person kept huatu's default, or ``None`` to
            send huatu's default. Default ``None``.
    """

    name: str
    negative_prompt: bool
    guidance: bool
    max_steps: int | None = None
    default_steps: int | None = None


FLUX_SCHNELL = HostedFamily(
    "FLUX.1 [schnell]", negative_prompt=False, guidance=False, max_steps=4, default_steps=4
)
FLUX = HostedFamily("FLUX.1", negative_prompt=False, guidance=True)
SDXL = HostedFamily("Stable Diffusion XL", negative_prompt=True, guidance=True)
STABLE_DIFFUSION = HostedFamily("Stable Diffusion", negative_prompt=True, guidance=True)
#: Any other model: everything is sent (the text-to-image task's own parameters).
GENERIC = HostedFamily("text-to-image", negative_prompt=True, guidance=True)
#: Name patterns (in the lower-cased Hub id) → family, the first match wins.
FAMILY_PATTERNS: tuple[tuple[str, HostedFamily], ...] = (
    ("schnell", FLUX_SCHNELL),
    ("flux", FLUX),
    ("stable-diffusion-xl", SDXL),
    ("sdxl", SDXL),
    ("stable-diffusion", STABLE_DIFFUSION),
)


def family_of(model: str) -> HostedFamily:
    """The family of the hosted ``model`` (a Hub id), by its name; :data:`GENERIC` when
    unknown."""
    name = model.lower()
    return next((family for pattern, family in FAMILY_PATTERNS if pattern in name), GENERIC)


@dataclass(frozen=True)
class FittedRequest:
    """A request as it is sent to a hosted model.

    Attributes:
        sent: the request with what the model does not take cleared (no negative prompt) and
            its steps within the model's limit.
        unused: the request fields not sent at all (:data:`NEGATIVE_PROMPT`,
            :data:`GUIDANCE`): the metadata leaves them out.
        notices: the person's own settings that were left out or changed, one sentence each.
    """

    sent: GenerationRequest
    unused: frozenset[str]
    notices: tuple[Notice, ...]


def fit_request(request: GenerationRequest, model: str) -> FittedRequest:
    """Fit ``request`` to what the hosted ``model`` takes (see :func:`family_of`).

    A setting the person chose that the model ignores gets a notice (a negative prompt, a
    guidance scale other than the default, more steps than the model runs); a default is
    changed quietly (e.g. FLUX.1 [schnell] runs 4 steps where huatu's default is 20).
    """
    family = family_of(model)
    unused: set[str] = set()
    notices: list[Notice] = []
    changes: dict[str, object] = {}
    params = {"model": model, "family": family.name}
    if not family.negative_prompt:
        unused.add(NEGATIVE_PROMPT)
        if request.negative_prompt:
            notices.append(Notice("hosted_ignores_negative", params))
            changes["negative_prompt"] = ""
    if not family.guidance:
        unused.add(GUIDANCE)
        if request.guidance_scale != DEFAULT_GUIDANCE:
            notices.append(Notice("hosted_ignores_guidance", params))
    steps = request.num_inference_steps
    if request.num_inference_steps == DEFAULT_STEPS and family.default_steps is not None:
        steps = family.default_steps
    elif family.max_steps is not None and steps > family.max_steps:
        steps = family.max_steps
        notices.append(
            Notice(
                "hosted_steps_capped",
                {**params, "most": steps, "asked": request.num_inference_steps},
            )
        )
    if steps != request.num_inference_steps:
        changes["num_inference_steps"] = steps
    sent = replace(request, **changes) if changes else request  # type: ignore[arg-type]
    return FittedRequest(sent=sent, unused=frozenset(unused), notices=tuple(notices))
