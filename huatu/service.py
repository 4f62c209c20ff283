"""The one path every edge takes: validate → backend → save with metadata.

UI, lessons, CLI and HTTP APIs all call :meth:`ImageService.generate`, so a rule (a limit, a
default, a metadata field) lives in exactly one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from huatu.backends.base import Backend, CancelToken, Capabilities, ProgressCallback
from huatu.backends.selection import BackendChoice, choose_backend
from huatu.checks import check_family_size
from huatu.config import Settings
from huatu.errors import (
    BackendUnavailableError,
    HuatuError,
    OutOfMemory,
    SafetyCheckerFlagged,
    ValidationError,
    explain,
    is_out_of_memory,
)
from huatu.history.files import save_png
from huatu.history.sources import kept_sources
from huatu.messages import DEFAULT_LANGUAGE, Notice, render
from huatu.metadata import format_parameters
from huatu.models.switching import ModelSwitching
from huatu.presets import matching_preset
from huatu.prompt_checks import prompt_notices
from huatu.prompts.syntax import refuse_extra_networks
from huatu.request import RUN_OPTIONS, GenerationRequest
from huatu.schedulers import LCM_SCHEDULER
from huatu.slots import ANONYMOUS, FairSlots, turn_reporter

if TYPE_CHECKING:
    from PIL.Image import Image

    from huatu.history import HistoryStore
    from huatu.models.fetching import ModelFetch

log = logging.getLogger(__name__)


@dataclass
class GenerationResult:
    """The outcome of one request.

    Attributes:
        request: the request as run (its ``seed`` is the one actually used, never -1).
        images: the images, in seed order.
        seeds: the seed of each image (``request.seed + i``).
        parameters: each image's A1111-style ``parameters`` text.
        paths: where each image was saved (empty when not saved).
        notices: things the person should know (rendered at the edge in their language).
    """

    request: GenerationRequest
    images: list[Image]
    seeds: list[int]
    parameters: list[str]
    paths: list[Path] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


class ImageService(ModelSwitching):
    """Owns the backend for one model and turns requests into saved images.

    Build it with :meth:`start`, which never raises for a model that cannot be loaded: the
    service then reports ``load_error`` and every :meth:`generate` raises it, so an app can
    still start and say what went wrong.

    Args:
        settings: huatu settings (outputs folder etc.).
        choice: the backend choice (which backend, which model, why).
        backend: the loaded backend, or ``None`` if loading failed.
        load_error: why loading failed, when it did.
        history: where saved images are recorded (:class:`huatu.history.HistoryStore`);
            ``None`` saves plain PNGs without a history row. Default ``None``.
    """

    def __init__(
        self,
        settings: Settings,
        choice: BackendChoice,
        backend: Backend | None,
        load_error: HuatuError | None = None,
        history: HistoryStore | None = None,
    ) -> None:
        self.settings = settings
        self.choice = choice
        self.backend = backend
        self.load_error = load_error
        self.history = history
        self._models = [choice.model]  # the first model, then every model switched to
        self.switching_to: str | None = None  # the model loading in place of the released one
        self.download: ModelFetch | None = None  # the model being fetched, while it is
        # Every edge (studio, lessons, HTTP APIs) shares these: a local pipeline runs one
        # generation at a time whoever asks.
        self._slots = FairSlots(self.max_concurrency)

    @classmethod
    def start(
        cls,
        settings: Settings,
        *,
        model: str | None = None,
        backend: str | None = None,
        keep_history: bool = True,
        background: bool = False,
    ) -> ImageService:
        """Choose and load the backend for ``model``.

        Args:
            settings: huatu settings.
            model: model id, folder or ``tiny``. Default ``settings.model``.
            backend: ``auto`` or a backend id. Default ``settings.backend``.
            keep_history: record every saved image in the SQLite history under
                ``settings.outputs_dir``. Default ``True``.
            background: when the model must be downloaded first (a Hub model not on this
                machine yet), return at once and fetch and load it in a thread
                (:meth:`load_in_background`), for an app to be up meanwhile. Default
                ``False``: fetch (with progress bars) and load before returning.

        Raises:
            UnknownNameError / ValidationError: a bad ``backend``/``model`` combination
                (a usage error, reported before anything starts).
        """
        settings, choice = cls.plan(settings, model=model, backend=backend)
        history = None
        if keep_history:
            from huatu.history import HistoryStore

            history = HistoryStore(settings.outputs_dir)
        service = cls(settings, choice, None, history=history)
        if background and service.downloads_first():
            service.load_in_background()
        else:
            service.load_model()
        return service

    @staticmethod
    def plan(
        settings: Settings, *, model: str | None = None, backend: str | None = None
    ) -> tuple[Settings, BackendChoice]:
        """What :meth:`start` runs with: its settings (an explicit ``model`` also names the
        hosted model) and the backend and model it picks (raises as :meth:`start` does)."""
        if model is not None:
            settings = replace(settings, hosted_model=None)
        return settings, choose_backend(settings, model=model, backend=backend)

    @property
    def capabilities(self) -> Capabilities:
        """What the loaded backend can do (nothing but the defaults when none is loaded)."""
        return self.backend.capabilities if self.backend is not None else Capabilities()

    @property
    def is_test_model(self) -> bool:
        """Whether the loaded model is the built-in tiny test model."""
        return self.capabilities.test_model

    def status_notice(
        self, language: str = DEFAULT_LANGUAGE, emphasis: Callable[[str], str] = str
    ) -> Notice:
        """What runs and why, for a status line: backend, model, how it runs and why this
        backend — or why nothing is loaded.

        Args:
            language: the language of the load failure, when there is one (the rest renders
                in any). Default English.
            emphasis: applied to the backend and model names (the studio's Markdown makes
                them bold). Default: none.
        """
        download = self.download
        if self.backend is None and download is not None:
            return Notice("status_downloading", {"progress": download.progress().notice()})
        if self.backend is None and self.switching_to is not None:
            return Notice("status_switching", {"model": emphasis(self.switching_to)})
        if self.backend is None:
            error = explain(self.unavailable(), language, self.settings)
            return Notice("status_not_loaded", {"model": self.choice.model, "error": error})
        return Notice(
            "status",
            {
                "backend": emphasis(self.backend.id),
                "model": emphasis(self.choice.model),
                "detail": self.backend.detail,
                "reason": self.choice.reason,
            },
        )

    @property
    def status(self) -> str:
        """:meth:`status_notice` in English, for logs and the command line."""
        return render(self.status_notice())

    @property
    def max_concurrency(self) -> int:
        """How many generations may run at once (1 for a local pipeline)."""
        return self.capabilities.concurrency

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        save: bool = True,
        folder: Path | None = None,
        preview_every: int = 0,
        extra: Mapping[str, str] | None = None,
        client: str = ANONYMOUS,
    ) -> GenerationResult:
        """Validate ``request``, generate, and save each image with its metadata.

        Args:
            request: what to make; validated here again whatever the edge did.
            progress: receives :class:`~huatu.backends.base.ProgressEvent` values.
            cancel: set it to stop the run at the next step.
            save: write each image as a PNG with its metadata. Default ``True``.
            folder: where to write them. Default ``settings.outputs_dir / "YYYY-MM-DD"``.
            preview_every: ask the backend for a live preview every N steps (0: none).
            extra: more metadata fields for the PNG, e.g. ``{"Original prompt": "…"}``.
            client: who asks (:mod:`huatu.clients`); the slots take turns between clients,
                and ``progress`` hears how many wait ahead. Default: the anonymous client.

        Raises:
            ValidationError: a bad field, or a mode the backend cannot run.
            BackendUnavailableError: the model did not load. GenerationCancelled: stopped by
            ``cancel``. SafetyCheckerFlagged: every image was withheld. HostedError
            subclasses: the hosted service failed.
        """
        request = request.validate()
        self.wait_for_model(progress, cancel)  # the first model is still downloading or loading
        # A stop while waiting ends it (GenerationCancelled).
        self._slots.acquire(cancel, client=client, on_wait=turn_reporter(progress))
        try:  # the model loaded now: a switch may have ended while this request waited
            backend = self.backend
            if backend is None:
                raise self.unavailable()
            caps = backend.capabilities
            if request.mode not in caps.modes:
                modes = ", ".join(sorted(caps.modes))
                raise ValidationError(
                    "mode", request.mode, "mode_unsupported", backend=backend.id, modes=modes
                )
            check_family_size(request, caps.family)
            if not caps.extra_networks:
                refuse_extra_networks(request.prompt)
            request = request.with_drawn_seed()
            texts = {"prompt": request.prompt, "negative_prompt": request.negative_prompt}
            limit = None if caps.prompt_chunks else caps.token_limit  # chunks: nothing ignored
            notices = prompt_notices(
                texts, backend.token_count, limit, reads_chinese=self.reads_chinese
            )
            output = backend.generate(
                request, progress=progress, cancel=cancel, preview_every=preview_every
            )
        except HuatuError:
            raise
        except Exception as error:  # the edges log these: no secret may ride along
            raise self._unexpected(error) from None
        finally:
            self._slots.release(client=client)
        notices += output.notices
        request = output.sent or request  # as the model ran it: what the metadata records
        if request.scheduler == LCM_SCHEDULER and LCM_SCHEDULER not in caps.schedulers:
            notices.append(Notice("lcm_not_hosted"))
        for option in RUN_OPTIONS:
            if getattr(request, option) and not getattr(caps, option):
                notices.append(Notice(f"{option}_unavailable", {"backend": backend.id}))
        if output.flagged:
            total = output.flagged + len(output.images)
            if not output.images:
                raise SafetyCheckerFlagged(output.flagged, total)
            notices.append(Notice("safety_flagged", {"count": output.flagged, "total": total}))
        added = backend.metadata_fields(request)  # only the fields it declares
        fields = {**(extra or {}), **{k: v for k, v in added.items() if k in caps.metadata_fields}}
        preset = matching_preset(
            request.scheduler, request.num_inference_steps, request.guidance_scale, caps.presets
        )
        if preset in caps.presets.values() and preset.scheduler in caps.schedulers:
            fields["Preset"] = preset.label  # as this backend runs it, with its own sampler
        sampler = backend.sampler_label(request)
        parameters = [
            format_parameters(
                request,
                seed=seed,
                sampler=sampler,
                model=backend.model,
                model_hash=backend.model_hash,
                extra=fields,
                unused=output.unused,
            )
            for seed in output.seeds
        ]
        paths = (
            [
                self._save(backend, image, text, request.with_seed(seed), fields, folder)
                for image, text, seed in zip(output.images, parameters, output.seeds, strict=True)
            ]
            if save
            else []
        )
        return GenerationResult(
            request=request,
            images=output.images,
            seeds=output.seeds,
            parameters=parameters,
            paths=paths,
            notices=notices,
        )

    def unavailable(self) -> BackendUnavailableError:
        """The error every generation raises while no model is loaded: the load failure."""
        if self.load_error is None:
            return BackendUnavailableError()
        return BackendUnavailableError("model_not_loaded", error=self.load_error.notice)

    def _unexpected(self, error: Exception) -> Exception:
        """What to raise for an unexpected backend failure.

        Running out of memory becomes :class:`OutOfMemory` (a sentence saying what to try);
        any other error is kept, unless its message (or a chained one) holds a secret — a
        library quoting a request header, say: then it becomes a copy with the secrets
        redacted, on the same traceback, so the edge's log shows where it failed but not
        the key.
        """
        if is_out_of_memory(error):
            return OutOfMemory().with_traceback(error.__traceback__)
        chain: list[BaseException] = []
        seen: BaseException | None = error
        while seen is not None and seen not in chain:
            chain.append(seen)
            seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
        redact = self.settings.redact
        if all(redact(str(item)) == str(item) for item in chain):
            return error
        text = redact(str(error))
        try:
            copy = type(error)(text)
        except Exception:
            copy = RuntimeError(f"{type(error).__name__}: {text}")
        if str(copy) != text:
            copy = RuntimeError(f"{type(error).__name__}: {text}")
        return copy.with_traceback(error.__traceback__)

    def _save(
        self,
        backend: Backend,
        image: Image,
        parameters: str,
        request: GenerationRequest,
        extra: Mapping[str, str],
        folder: Path | None,
    ) -> Path:
        """Write one image (with its history row, and the pictures it started from, when
        there is a history), named by :func:`huatu.history.files.image_names`."""
        if self.history is None:
            return save_png(
                image,
                parameters,
                seed=request.seed,
                outputs_dir=self.settings.outputs_dir,
                folder=folder,
            )
        kept = kept_sources(self.settings.outputs_dir, request.init_image, request.mask)
        entry = self.history.save(
            image, parameters, request=request, seed=request.seed, model=backend.model,
            backend=backend.id, extra={**extra, **kept}, folder=folder,
        )  # fmt: skip
        return entry.path
