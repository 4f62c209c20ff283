"""The local backend's batches: compatible text-to-image requests as one pipeline call.

Requests may run together (:func:`batch_key`) when only their texts, seeds and image counts
differ: text to image without a hires pass, the same size, steps, sampler, CFG scale and
options, no LoRA or embedding (those change the model for the whole call), and not where
"Faster" merges tokens (which tokens merge is drawn from the run's seed). In the batch each
image keeps its own generator (``seed + i``) and its own prompt's embeddings, so it comes out
as it would alone, up to float rounding of the larger batch; each request sees its own steps
and previews, and its stop takes it out of the batch at the next step. A batch that runs out
of memory runs again request by request, as it would with batching off.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from contextlib import AbstractContextManager, suppress
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from huatu.backends.base import BackendOutput, ProgressEvent
from huatu.backends.editing import common_arguments
from huatu.errors import GenerationCancelled, is_out_of_memory
from huatu.request import TXT2IMG

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.backends.batching import Job
    from huatu.backends.fast import FastPath
    from huatu.backends.networks import PromptNetworks
    from huatu.messages import Notice
    from huatu.prompts.encoding import Conditioning, PromptEncoder
    from huatu.request import GenerationRequest

log = logging.getLogger(__name__)


class LocalRuns(Protocol):
    """What a batch uses of :class:`~huatu.backends.local.LocalBackend` (see there)."""

    pipe: Any
    prompts: PromptEncoder | None
    networks: PromptNetworks
    fast: FastPath
    merges_tokens: bool

    def caches(self, request: GenerationRequest) -> bool: ...
    def fast_path(self, request: GenerationRequest) -> bool: ...
    def taesd_decodes(self, request: GenerationRequest) -> bool: ...
    def scheduler_for(self, request: GenerationRequest) -> None: ...
    def less_work(self, request: GenerationRequest, seed: int) -> AbstractContextManager: ...
    def preview(self, latents: Any, done: int, total: int, every: int, taesd: bool) -> Any: ...
    def images_of(
        self, latents: Any, request: GenerationRequest
    ) -> tuple[list[Image], list[bool], list[Notice]]: ...


def batch_key(backend: LocalRuns, request: GenerationRequest) -> Hashable | None:
    """What ``request`` must share with others to run in one batch with them, or ``None``
    when it runs alone (see the module).

    Raises:
        UnknownModelError: the prompt names a LoRA or embedding that is not there (refused
            before the request waits in line).
    """
    if request.mode != TXT2IMG or request.hires_scale != 1 or backend.prompts is None:
        return None
    if backend.caches(request) and backend.merges_tokens:
        return None
    used = backend.networks.find(request)
    if used.loras or used.embeddings:
        return None
    return (
        request.width,
        request.height,
        request.num_inference_steps,
        request.guidance_scale,
        request.scheduler,
        request.step_cache,
        request.fast_decode,
    )


def kept_output(
    images: list[Image], seeds: list[int], flags: list[bool], notices: list[Notice]
) -> BackendOutput:
    """The output of a run's ``images`` (made with ``seeds``): those the safety checker
    flagged are withheld and counted."""
    triples = zip(images, seeds, flags, strict=True)
    kept = [(image, seed) for image, seed, flag in triples if not flag]
    return BackendOutput(
        images=[image for image, _ in kept],
        seeds=[seed for _, seed in kept],
        flagged=sum(bool(flag) for flag in flags),
        notices=list(notices),
    )


def run_together(backend: LocalRuns, jobs: list[Job]) -> None:
    """Run ``jobs`` (one batch key) as one pipeline call per prompt length (a prompt of
    more 75-token chunks is a longer sequence: it cannot share a call with a shorter one)
    and finish each job with its own images; under the backend's lock."""
    assert backend.prompts is not None  # a batch key says so
    groups: dict[tuple[int, ...], list[tuple[Job, Conditioning]]] = {}
    for job in jobs:
        conditioning = backend.prompts.encode(job.request.prompt, job.request.negative_prompt)
        groups.setdefault(tuple(conditioning.prompt_embeds.shape), []).append((job, conditioning))
    for members in groups.values():
        try:
            with suppress(GenerationCancelled):  # every member stopped: on to the next group
                _denoise(backend, members)
        except Exception as error:
            if not is_out_of_memory(error) or len(members) == 1:
                raise
            log.warning("a batch of %d requests ran out of memory: each alone", len(members))
            _free_cached_memory()
            for member in members:  # each as it would run with batching off
                if not member[0].finished:
                    with suppress(GenerationCancelled):
                        _denoise(backend, [member])


def _denoise(backend: LocalRuns, members: list[tuple[Job, Conditioning]]) -> None:
    """One pipeline call for ``members``, each finished with its slice of the images."""
    import torch

    request = members[0][0].request  # what they share
    spans: list[tuple[Job, int, int]] = []
    for job, _ in members:
        start = spans[-1][2] if spans else 0
        spans.append((job, start, start + job.request.num_images))
    seeds = [seed for job, _ in members for seed in job.request.seeds]
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    decodes = backend.taesd_decodes(request)

    def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict) -> dict:
        done, total = step + 1, pipe.num_timesteps
        for job, start, stop in spans:
            if job.finished:
                continue
            if job.stopped:  # leaves the batch now; the others go on
                job.finish(error=GenerationCancelled())
            elif job.progress is not None:
                latents = tensors["latents"][start:stop]
                preview = backend.preview(latents, done, total, job.preview_every, decodes)
                job.progress(ProgressEvent(step=done, total=total, preview=preview))
        if all(job.finished for job, _, _ in spans):
            raise GenerationCancelled()
        return tensors

    backend.fast.use_lora(backend.fast_path(request))
    backend.scheduler_for(request)
    stacked = _stacked(members)
    arguments = common_arguments(replace(request, num_images=1), generators, on_step_end, stacked)
    with backend.less_work(request, seeds[0]):
        latents = backend.pipe(width=request.width, height=request.height, **arguments).images
    images, flags, notices = backend.images_of(latents, request)
    for job, start, stop in spans:
        output = kept_output(images[start:stop], seeds[start:stop], flags[start:stop], notices)
        job.finish(output)


def _free_cached_memory() -> None:
    """Give the CUDA caching allocator's free blocks back, where there is CUDA."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _stacked(members: list[tuple[Job, Conditioning]]) -> Conditioning:
    """The members' embeddings one after another, each repeated once per image it asks."""
    from dataclasses import fields

    import torch

    from huatu.prompts.encoding import Conditioning

    def stack(name: str) -> Any:
        values = [(job.request.num_images, getattr(part, name)) for job, part in members]
        if values[0][1] is None:
            return None
        return torch.cat([value.repeat(count, *[1] * (value.dim() - 1)) for count, value in values])

    return Conditioning(**{field.name: stack(field.name) for field in fields(Conditioning)})
