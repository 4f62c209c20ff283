"""The small contract every backend follows, and the values that cross it.

A backend says what it can do in :class:`Capabilities` (the modes it runs, its token limit,
the metadata it adds, the presets it offers, how many runs it takes at once); the service and
the edges ask those, never a backend's id or internals. Backends are created through
:mod:`huatu.backends.registry`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from huatu.messages import Notice
from huatu.request import TXT2IMG

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.models.families import Family
    from huatu.presets import QualityPreset
    from huatu.request import GenerationRequest


@dataclass(frozen=True)
class ProgressEvent:
    """A progress report from a backend.

    Attributes:
        step: steps done so far (0 while waiting).
        total: steps in the run (0 when unknown, e.g. a hosted call).
        message: what is happening, for a person (e.g. "the model is loading, retrying in
            5 s"), rendered at the edge in the person's language. Default none.
        wait_s: seconds until the next retry while waiting on a hosted service, else ``None``.
        preview: a small approximate picture of the image forming, on the steps where the
            caller asked for one (``preview_every``), else ``None``.
    """

    step: int
    total: int
    message: Notice | None = None
    wait_s: float | None = None
    preview: Image | None = None


ProgressCallback = Callable[[ProgressEvent], None]


class CancelToken:
    """Set from any thread to ask a running generation to stop at its next step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the run to stop."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Sleep up to ``timeout_s`` seconds, waking at once on :meth:`cancel`; return
        whether it was cancelled."""
        return self._event.wait(timeout_s)


@dataclass
class BackendOutput:
    """What a backend returns for one request.

    Attributes:
        images: the images, in seed order; one per requested image that was not withheld.
        seeds: the seed each returned image was made with.
        flagged: how many images the safety checker flagged and withheld.
        notices: things the user should know (rendered in their language at the edge).
        sent: the request as the model ran it, when the backend changed it (e.g. a hosted
            model that takes no negative prompt, or fewer steps); the metadata records this
            one. Default ``None``: as asked.
        unused: request fields the model did not take at all (``negative_prompt``,
            ``guidance_scale``); the metadata leaves them out. Default none.
    """

    images: list[Image]
    seeds: list[int]
    flagged: int = 0
    notices: list[Notice] = field(default_factory=list)
    sent: GenerationRequest | None = None
    unused: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, asked by the service and the edges instead of its id.

    Attributes:
        modes: the request modes it runs (:data:`huatu.request.MODES`). Default text to
            image only.
        token_limit: content tokens its text encoder reads (the rest of a prompt is
            ignored, and a notice says so), or ``None`` when it does not count tokens.
            Default ``None``.
        prompt_chunks: a prompt longer than ``token_limit`` is encoded in chunks of that
            many tokens (A1111's way), so nothing is ignored. Default off.
        schedulers: the scheduler ids it honours; others run with its own sampler (and the
            metadata says so). Default none.
        presets: each quality preset id → the preset as this backend runs it (the Fast
            preset differs by backend and by which weights are at hand). Default none.
        preset_notes: a preset id → what a person should know when choosing it here (e.g.
            why Fast is the slower fallback). Default none.
        metadata_fields: the A1111 metadata fields it may add to an image
            (:meth:`Backend.metadata_fields`). Default none.
        concurrency: generations it runs at once. Default 1.
        test_model: it draws noise, not pictures (the built-in tiny model). Default off.
        alternatives: other models a person may switch to on this backend (e.g. the hosted
            models providers serve), offered in the studio's model choice. Default none.
        family: the model family it runs (:mod:`huatu.models.families`): its sizes, size
            limit and presets; ``None`` when it is not one of the table's (a hosted model).
        embedding_width: the width of its text encoder's token vectors: the textual-inversion
            embeddings of that width fit it. Default ``None``: it takes none.
        extra_networks: it reads A1111's ``<lora:name:weight>`` tags and embedding names in
            prompts. Default off: a prompt with such a tag is refused, not sent as text.
        vae_override: it decodes with a VAE of the models folders' ``VAE/`` when asked
            (its ``use_vae(name)``; its ``vae_name`` says which). Default off.
        in_process_weights: it holds the model's weights in this process, so a model switch
            releases them before loading the next (:mod:`huatu.models.switching`). Default
            off.
        step_cache: it runs a request's ``step_cache`` (DeepCache on its UNet,
            :mod:`huatu.backends.step_cache`). Default off.
        fast_decode: it decodes with TAESD when a request asks (``fast_decode``). Default
            off.
    """

    modes: frozenset[str] = frozenset({TXT2IMG})
    token_limit: int | None = None
    prompt_chunks: bool = False
    schedulers: frozenset[str] = frozenset()
    presets: Mapping[str, QualityPreset] = field(default_factory=lambda: MappingProxyType({}))
    preset_notes: Mapping[str, Notice] = field(default_factory=lambda: MappingProxyType({}))
    metadata_fields: tuple[str, ...] = ()
    concurrency: int = 1
    test_model: bool = False
    alternatives: tuple[str, ...] = ()
    family: Family | None = None
    embedding_width: int | None = None
    extra_networks: bool = False
    vae_override: bool = False
    in_process_weights: bool = False
    step_cache: bool = False
    fast_decode: bool = False


class Backend(Protocol):
    """A way of turning a validated request into images.

    Attributes:
        id: its id in :mod:`huatu.backends.registry` (``local``, ``hosted`` …), recorded
            in the history.
        model: the model it serves (Hub id, folder, URL, models-folder name or ``tiny``).
        model_hash: A1111's ``Model hash`` of its checkpoint file (10 hex digits), or
            ``None`` when it has no one file (a diffusers folder, a Hub id, a hosted model).
        detail: how it runs, for the status line (text, or a notice rendered in the person's
            language): device, dtype and options, or where hosted calls go.
        description: one line for people: backend, model and ``detail``.
        capabilities: what it can do now (it may change, e.g. once the Fast path's weights
            failed to load).
    """

    id: str
    model: str
    model_hash: str | None
    detail: str | Notice
    description: str

    @property
    def capabilities(self) -> Capabilities: ...

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        preview_every: int = 0,
    ) -> BackendOutput:
        """Generate ``request.num_images`` images; ``request.seed`` is never -1 here and
        ``request.mode`` is one of ``capabilities.modes``.

        ``preview_every``: attach a preview to every N-th progress event (0: never; backends
        without intermediate results ignore it).
        """
        ...

    def token_count(self, text: str) -> int | None:
        """Tokens the model's text encoder sees for ``text``, or ``None`` when unknown."""
        ...

    def sampler_label(self, request: GenerationRequest) -> str:
        """The sampler name to record in metadata for ``request``."""
        ...

    def metadata_fields(self, request: GenerationRequest) -> dict[str, str]:
        """More A1111 settings for the images of ``request`` after it ran (names from
        ``capabilities.metadata_fields``, e.g. ``{"VAE": "TAESD"}``)."""
        ...
