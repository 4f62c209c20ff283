"""The schedulers (samplers) huatu offers, by id, with their AUTOMATIC1111 names.

The table is pure data so that the validator, the UI and the metadata parser can use it
without importing diffusers; :func:`make_scheduler` imports diffusers lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from huatu.errors import UnknownNameError

#: The Latent Consistency Model scheduler: the Fast path (few steps, guidance 1–2).
LCM_SCHEDULER = "lcm"


@dataclass(frozen=True)
class SchedulerSpec:
    """One scheduler choice.

    Attributes:
        id: huatu's id, used in requests and on the CLI (``dpmpp_2m_karras``).
        label: the name AUTOMATIC1111 writes in its ``Sampler:`` field (``DPM++ 2M Karras``).
        class_name: the diffusers scheduler class.
        options: keyword arguments given to ``from_config`` on top of the model's config.
    """

    id: str
    label: str
    class_name: str
    options: dict[str, Any] = field(default_factory=dict)


SCHEDULERS: dict[str, SchedulerSpec] = {
    spec.id: spec
    for spec in (
        SchedulerSpec(
            "dpmpp_2m_karras",
            "DPM++ 2M Karras",
            "DPMSolverMultistepScheduler",
            {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
        ),
        SchedulerSpec(
            "dpmpp_2m",
            "DPM++ 2M",
            "DPMSolverMultistepScheduler",
            {"algorithm_type": "dpmsolver++", "solver_order": 2},
        ),
        SchedulerSpec("euler_a", "Euler a", "EulerAncestralDiscreteScheduler"),
        SchedulerSpec("euler", "Euler", "EulerDiscreteScheduler"),
        SchedulerSpec("ddim", "DDIM", "DDIMScheduler"),
        SchedulerSpec("pndm", "PNDM", "PNDMScheduler", {"skip_prk_steps": True}),
        # The Fast path: on the local backend it also enables the LCM-LoRA and decodes with
        # TAESD (huatu.backends.fast). Few steps (4), guidance 1–2.
        SchedulerSpec(LCM_SCHEDULER, "LCM", "LCMScheduler"),
    )
}


def scheduler_ids() -> list[str]:
    """Return the known scheduler ids, the default first."""
    return list(SCHEDULERS)


def get_scheduler_spec(scheduler_id: str) -> SchedulerSpec:
    """Return the spec for ``scheduler_id``.

    Raises:
        UnknownNameError: listing the known ids.
    """
    try:
        return SCHEDULERS[scheduler_id]
    except KeyError:
        raise UnknownNameError("scheduler", scheduler_id, scheduler_ids()) from None


def scheduler_id_from_label(label: str) -> str | None:
    """Map an A1111 sampler name (``"Euler a"``, ``"DPM++ 2M Karras"``) back to an id.

    Also accepts A1111's newer split form, where ``label`` is ``"DPM++ 2M"`` and the
    schedule type ``Karras`` was folded in by the caller. Returns ``None`` when unknown.
    """
    wanted = label.strip().lower()
    for spec in SCHEDULERS.values():
        if spec.label.lower() == wanted or spec.id == wanted:
            return spec.id
    return None


def make_scheduler(scheduler_id: str, base_config: Any) -> Any:
    """Instantiate the diffusers scheduler ``scheduler_id`` from a pipeline's scheduler config.

    Args:
        scheduler_id: one of :func:`scheduler_ids`.
        base_config: ``pipe.scheduler.config`` of the loaded model (keeps its betas etc.).
    """
    import diffusers

    spec = get_scheduler_spec(scheduler_id)
    scheduler_class = getattr(diffusers, spec.class_name)
    return scheduler_class.from_config(base_config, **spec.options)
