"""The schedulers (samplers) huatu offers, by id, with their AUTOMATIC1111 names.

The table is pure data so that the validator, the UI and the metadata parser can use it
without importing diffusers; :func:`make_scheduler` imports diffusers lazily. AUTOMATIC1111's
way of naming a sampler (a sampler name plus, since A1111 1.9, a schedule type) is read here
too (:func:`a1111_scheduler_id`), and listed as A1111's API lists it (:func:`a1111_samplers`,
:func:`a1111_schedule_types`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from huatu.errors import UnknownNameError, ValidationError

#: The Latent Consistency Model scheduler: the Fast path (few steps, guidance 1–2).
LCM_SCHEDULER = "lcm"
#: A1111 >= 1.9 schedule types huatu can honour (name → label); ``automatic`` means the
#: sampler's own default.
SCHEDULE_TYPES = {"automatic": "Automatic", "uniform": "Uniform", "karras": "Karras"}
#: A1111's default schedule for a sampler, where it is not the plain one.
SAMPLER_DEFAULT_SCHEDULE = {"DPM++ 2M": "karras"}


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


def a1111_scheduler_id(sampler: Any, schedule: Any = None) -> str:
    """huatu's scheduler id for an A1111 sampler name and schedule type.

    ``"DPM++ 2M Karras"`` (the old combined name) and ``"DPM++ 2M"`` with schedule type
    ``Karras`` both give ``dpmpp_2m_karras``; as in A1111, a type named inside the sampler
    name wins, and ``Automatic`` means the sampler's default (Karras for DPM++ 2M).

    Args:
        sampler: A1111's ``sampler_name``, e.g. ``"Euler a"``.
        schedule: A1111's ``scheduler`` (the schedule type: ``Automatic``, ``Uniform`` or
            ``Karras``, any case). Default ``None`` (automatic).

    Raises:
        ValidationError: on ``sampler_name`` or ``scheduler`` (A1111's names for the two),
            listing what is accepted.
    """
    labels = ", ".join(spec.label for spec in SCHEDULERS.values())
    if isinstance(schedule, str) and not schedule.strip():
        schedule = None
    if not isinstance(sampler, str) or not sampler.strip():
        raise ValidationError("sampler_name", sampler, "choice", choices=labels)
    if schedule is not None and (
        not isinstance(schedule, str) or schedule.strip().lower() not in SCHEDULE_TYPES
    ):
        choices = ", ".join(SCHEDULE_TYPES.values())
        raise ValidationError("scheduler", schedule, "choice", choices=choices)
    name = sampler.strip()
    kind = (schedule or "automatic").strip().lower()
    field, value = "scheduler", schedule  # what an unknown combination is blamed on
    for type_name, label in SCHEDULE_TYPES.items():
        if type_name != "automatic" and name.lower().endswith(" " + type_name):
            name, kind = name[: -len(label) - 1].strip(), type_name
            field, value = "sampler_name", sampler
    base = scheduler_id_from_label(name)
    if base is None:
        raise ValidationError("sampler_name", sampler, "choice", choices=labels)
    if kind == "automatic":
        kind = SAMPLER_DEFAULT_SCHEDULE.get(get_scheduler_spec(base).label, "uniform")
    scheduler = base if kind == "uniform" else scheduler_id_from_label(f"{name} {kind}")
    if scheduler is None and field == "sampler_name":
        raise ValidationError(field, value, "choice", choices=labels)
    if scheduler is None:
        choices = ", ".join(
            label
            for type_name, label in SCHEDULE_TYPES.items()
            if type_name in ("automatic", "uniform")
            or scheduler_id_from_label(f"{name} {type_name}")
        )
        raise ValidationError(field, value, "choice", choices=choices)
    return scheduler


def a1111_samplers() -> list[dict[str, Any]]:
    """huatu's schedulers as A1111's ``/samplers`` lists them (``SamplerItem``)."""
    return [
        {
            "name": spec.label,
            "aliases": [spec.id],
            "options": {"scheduler": SAMPLER_DEFAULT_SCHEDULE[spec.label]}
            if spec.label in SAMPLER_DEFAULT_SCHEDULE
            else {},
        }
        for spec in SCHEDULERS.values()
    ]


def a1111_schedule_types() -> list[dict[str, Any]]:
    """The schedule types huatu honours as A1111 >= 1.9's ``/schedulers`` lists them."""
    return [
        {
            "name": name,
            "label": label,
            "aliases": None,
            "default_rho": None,
            "need_inner_model": None,
        }
        for name, label in SCHEDULE_TYPES.items()
    ]


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
