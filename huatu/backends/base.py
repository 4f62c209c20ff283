"""The small contract every backend follows, and the values that cross it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.messages import Notice
    from huatu.request import GenerationRequest


@dataclass(frozen=True)
class ProgressEvent:
    """A progress report from a backend.

    Attributes:
        step: steps done so far (0 while waiting).
        total: steps in the run (0 when unknown, e.g. a hosted call).
        message: what is happening, for a person (e.g. "Model is loading, retrying in 5 s").
        wait_s: seconds until the next retry while waiting on a hosted service, else ``None``.
        preview: a small approximate picture of the image forming, on the steps where the
            caller asked for one (``preview_every``), else ``None``.
    """

    step: int
    total: int
    message: str = ""
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


@dataclass
class BackendOutput:
    """What a backend returns for one request.

    Attributes:
        images: the images, in seed order; one per requested image that was not withheld.
        seeds: the seed each returned image was made with.
        flagged: how many images the safety checker flagged and withheld.
        notices: things the user should know (rendered in their language at the edge).
    """

    images: list[Image]
    seeds: list[int]
    flagged: int = 0
    notices: list[Notice] = field(default_factory=list)


class Backend(Protocol):
    """A way of turning a validated request into images.

    Attributes:
        id: ``"local"`` or ``"hosted"``.
        model: the model it serves (Hub id, folder, URL or ``tiny``).
        description: one line for people: backend, model, device and dtype.
        max_concurrency: how many generations may run at once.
    """

    id: str
    model: str
    description: str
    max_concurrency: int

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        preview_every: int = 0,
    ) -> BackendOutput:
        """Generate ``request.num_images`` images; ``request.seed`` is never -1 here.

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
