"""Which models the service may switch to, and the switch itself (every edge's model choice:
the studio's list, A1111's ``options``, the OpenAI and MCP ``model`` fields).

A Hub model that is not on this machine yet is fetched into the models folder first
(:class:`~huatu.models.fetching.ModelFetch`, watched through ``download``): before the first
model loads — then generations wait and are told how far the download has come — or while the
old model still serves, before a switch.

A backend that holds its weights in this process (``Capabilities.in_process_weights``) lets
go of the old model *before* the new one loads, so a switch never needs the memory of two
models; if the new one fails, the old one is loaded again and stays. Anything that can be
checked without loading (the name, the file's header) is checked before the old one goes.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from huatu.backends.base import CancelToken, ProgressCallback, ProgressEvent
from huatu.backends.registry import get_backend
from huatu.backends.selection import choose_backend, runs_only_locally
from huatu.config import TINY_MODEL, is_hub_id
from huatu.errors import GenerationCancelled, ModelLoadError, UnknownModelError, ValidationError
from huatu.models.folders import CHECKPOINT, LORA, VAE, library_for

if TYPE_CHECKING:
    from huatu.backends.base import Backend, Capabilities
    from huatu.backends.selection import BackendChoice
    from huatu.config import Settings
    from huatu.errors import HuatuError
    from huatu.messages import Notice
    from huatu.models.fetching import ModelFetch
    from huatu.slots import FairSlots

log = logging.getLogger(__name__)

#: How often a generation waiting for the first model is told how far it has come, in s.
WAIT_REPORT_S = 1.0


class ModelSwitching:
    """The model list and switching of :class:`~huatu.service.ImageService` (a mixin: it
    uses the service's settings, choice, backend, load error and slots)."""

    settings: Settings
    choice: BackendChoice
    backend: Backend | None
    load_error: HuatuError | None
    _models: list[str]
    _slots: FairSlots
    switching_to: str | None
    download: ModelFetch | None
    capabilities: Capabilities  # the service's properties
    max_concurrency: int

    status_notice: Callable[[], Notice]  # the service's

    def load_model(self) -> None:
        """Load the chosen model (fetching it into the models folder first when it is a Hub
        model not here yet); a failure is kept as ``load_error`` and every generation
        raises it."""
        try:
            self._fetch_if_needed(self.choice, self.settings)
            loaded = get_backend(self.choice.backend).create(self.choice.model, self.settings)
        except ModelLoadError as error:
            self.load_error = error
            return
        self.backend, self.load_error = loaded, None
        self._slots.resize(self.max_concurrency)

    def load_in_background(self) -> threading.Thread:
        """:meth:`load_model` in a thread, holding every generation slot until it ends: the
        page and the APIs are up at once, and a generation asked meanwhile waits, told why
        (:meth:`wait_for_model`). Returns the thread."""
        self._slots.acquire(all_places=True)
        self.switching_to = self.choice.model

        def work() -> None:
            try:
                self.load_model()
            except Exception as error:  # a bug: the page says the model did not load
                from huatu.models.download import load_failure

                log.exception("loading %s failed", self.choice.model)
                self.load_error = load_failure(self.choice.model, error)
            finally:
                self.switching_to = None
                self._slots.release(all_places=True)

        thread = threading.Thread(target=work, name="huatu-first-model", daemon=True)
        thread.start()
        return thread

    @property
    def runs_local_files(self) -> bool:
        """Whether the chosen backend runs model files on this machine (so a Hub model can be
        downloaded for it)."""
        return get_backend(self.choice.backend).runs_local_files

    @property
    def model_pending(self) -> bool:
        """Whether no model is loaded yet but one is being fetched or loaded."""
        return self.backend is None and (self.download or self.switching_to) is not None

    def downloads_first(self) -> bool:
        """Whether loading the chosen model would first download it (:meth:`load_model`
        fetches it into the models folder then)."""
        return self._must_fetch(self.choice, self.settings)

    def wait_for_model(self, progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
        """While no model is loaded but one is being fetched or loaded, tell ``progress`` why
        a generation waits (the status: bytes, speed, time left), every
        :data:`WAIT_REPORT_S`, until it is loaded.

        Raises:
            GenerationCancelled: ``cancel`` was set while waiting.
        """
        token = cancel or CancelToken()
        while self.model_pending:
            if progress is not None:
                progress(ProgressEvent(0, 0, message=self.status_notice()))
            if token.wait(WAIT_REPORT_S):
                raise GenerationCancelled()

    def _fetch_if_needed(self, choice: BackendChoice, settings: Settings) -> None:
        """Fetch ``choice``'s model into the models folder when its backend runs local files
        and it is a Hub model that is not on this machine yet (``download`` shows how far it
        has come meanwhile).

        Raises:
            ModelLoadError: the Hub does not have it, or the download failed.
        """
        from huatu.models.fetching import ModelFetch

        if not self._must_fetch(choice, settings):
            return
        self.download = ModelFetch(choice.model, settings)
        try:
            self.download.run()
        finally:
            self.download = None
        library_for(settings).refresh()

    def known_models(self) -> list[str]:
        """The models every edge may switch to by name: the loaded one, the one huatu started
        with, the checkpoints of the models folders, the built-in tiny model, ``HUATU_MODELS``,
        and every model switched to since. Any Hugging Face Hub id may be asked for too
        (:meth:`switch_model`)."""
        first, *switched = self._models
        files = library_for(self.settings).names(CHECKPOINT)
        names = [self.choice.model, first, *files, TINY_MODEL, *self.settings.models, *switched]
        return list(dict.fromkeys([*names, *self._alternatives()]))

    def refresh_models(self) -> None:
        """Scan the models folders again (A1111's ``refresh-checkpoints``)."""
        library_for(self.settings).refresh()

    def model_choices(self) -> list[str]:
        """The studio's model choice: the current model and the alternatives the backend (or
        its load failure) names, e.g. served hosted models; none when it names none."""
        alternatives = self._alternatives()
        return list(dict.fromkeys([self.choice.model, *alternatives])) if alternatives else []

    def model_items(self) -> list[tuple[str, str]]:
        """:meth:`model_choices` as ``(label, name)`` pairs: a checkpoint of the models folders
        labelled with its family and size (``dream.safetensors · sd1 · 2.0 GB``); then, for a
        backend that runs local files, the recommended models not on this machine yet, to be
        downloaded when chosen (``⬇ stabilityai/sd-turbo · sd-turbo``)."""
        from huatu.models.download import RECOMMENDED, needs_download
        from huatu.models.recognise import family_label

        downloads: list[tuple[str, str]] = []
        if self.runs_local_files:
            downloads = [
                (f"⬇ {model.id} · {model.family}", model.id)
                for model in RECOMMENDED
                if model.id != self.choice.model and needs_download(model.id, self.settings)
            ]
        library = library_for(self.settings)
        items = []
        for model in self.model_choices() or ([self.choice.model] if downloads else []):
            found = library.find(CHECKPOINT, model)
            label = model if found is None else f"{model} · {family_label(found)}"
            items.append((label, model))
        names = {name for _, name in items}
        items += [item for item in downloads if item[1] not in names]
        return items

    def fast_advice(self) -> Notice | None:
        """What to tell a person choosing the Fast preset here: the one-step model to switch to
        or to download (:func:`huatu.models.fast_advice.fast_advice`); ``None`` when nothing
        is loaded or the backend runs no local files."""
        if self.backend is None or not self.runs_local_files:
            return None
        from huatu.models.fast_advice import fast_advice

        return fast_advice(self.settings, self.capabilities.family, self.choice.model)

    @property
    def reads_chinese(self) -> bool:
        """Whether the loaded model reads Chinese prompts as written (its family in the table
        says so — Kolors, Hunyuan-DiT, Taiyi — or it is a known Chinese model by name): no
        translation step, no "English only" notice."""
        from huatu.translation import model_reads_chinese

        family = self.capabilities.family
        return (family is not None and family.reads_chinese) or model_reads_chinese(
            self.choice.model
        )

    def vae_names(self) -> list[str]:
        """The VAEs of the models folders' ``VAE/`` (A1111's ``/sd-vae``)."""
        return library_for(self.settings).names(VAE)

    @property
    def vae_name(self) -> str | None:
        """The VAE file the loaded model decodes with, or ``None``: its own."""
        return getattr(self.backend, "vae_name", None)

    def switch_vae(self, name: str | None) -> None:
        """Decode with the VAE ``name`` of ``VAE/`` from the next generation on (``None``:
        the model's own), on every edge; a model switch goes back to the model's own.

        Raises:
            ValidationError: the backend takes no VAE files, or none has that name (field
                ``sd_vae``). ModelLoadError: it does not fit the model.
        """
        backend = self.backend
        if backend is None or not self.capabilities.vae_override:
            raise ValidationError("sd_vae", name, "vae_not_here")
        try:
            backend.use_vae(name)  # type: ignore[attr-defined]
        except UnknownModelError as error:
            known = ", ".join(error.known) or "-"
            raise ValidationError("sd_vae", name, "vae_unknown", known=known) from None

    def restore_files(self, settings: Mapping[str, str], prompt: str) -> list[str]:
        """Load again the checkpoint and VAE an image was made with (its metadata's
        ``settings`` and ``prompt``), when they are here and not loaded; return what it used
        that is missing (``LoRA watercolor`` …), for the person to be told.

        Raises:
            ModelLoadError / ValidationError: a file is here but cannot be loaded; what was
                loaded stays.
        """
        from huatu.models.hashes import hashes_for
        from huatu.models.restore import files_used

        library = library_for(self.settings)
        hashes = hashes_for(self.settings.cache_dir)
        used = files_used(settings, prompt, library, hashes, self.known_models())
        if used.model is not None and used.model != self.choice.model:
            self.switch_model(used.model)
        if self.capabilities.vae_override and not used.vae_missing and used.vae != self.vae_name:
            self.switch_vae(used.vae)
        return used.missing

    def lora_names(self) -> list[str]:
        """The LoRAs of the models folders, by the name ``<lora:name:weight>`` writes."""
        return library_for(self.settings).names(LORA)

    def _alternatives(self) -> tuple[str, ...]:
        """What the loaded backend offers (or, with none loaded, what its failure names), and
        the models folders' checkpoints when the backend runs local files — loaded or not, so
        a person whose default model could not be downloaded can pick a file they have."""
        if self.backend is not None:
            named = self.capabilities.alternatives
        else:
            named = getattr(self.load_error, "alternatives", ())
        if self.runs_local_files:
            named = (*named, *library_for(self.settings).names(CHECKPOINT))
        return tuple(named)

    def switch_model(self, model: str, *, backend: str | None = None) -> None:
        """Load ``model`` and make it the one every edge uses from the next generation on.

        Only a model of :meth:`known_models` or a Hugging Face Hub id may be asked for, never
        another path on this machine (a client of an HTTP API must not make the server read
        its files). The swap waits for running generations to finish. If loading fails, the
        current model stays.

        Args:
            model: a model of :meth:`known_models` or a Hub id.
            backend: ``auto`` or a backend id. Default: the current backend's.

        Raises:
            ValidationError: ``model`` (field ``model``) is neither listed nor a Hub id.
            ModelLoadError: the model cannot be loaded (the sentence says what to do).
            UnknownNameError: a bad ``backend``.
        """
        if self.backend is not None and model == self.choice.model:
            return
        listed = self.known_models()
        local = runs_only_locally(model, self.settings)
        if model not in listed and (not is_hub_id(model) or local):
            raise ValidationError("model", model, "model_choice", choices=", ".join(listed))
        settings = replace(self.settings, hosted_model=None)
        choice = choose_backend(settings, model=model, backend=backend or self.choice.backend)
        spec = get_backend(choice.backend)
        spec.check(choice.model, settings)  # a bad file is refused with the old model loaded
        self._fetch_if_needed(choice, settings)  # the old model serves while it downloads
        if self.backend is not None and self.capabilities.in_process_weights:
            with self._slots.exclusive():  # in turn, once running generations have ended
                self._replace_in_place(choice, settings)
                self._slots.resize(self.max_concurrency)
        else:  # nothing held here to release: the new one loads while the old one serves
            loaded = spec.create(choice.model, settings)
            with self._slots.exclusive():
                self.choice, self.backend, self.load_error = choice, loaded, None
                self._slots.resize(self.max_concurrency)
        if model not in self._models:
            self._models.append(model)

    @staticmethod
    def _must_fetch(choice: BackendChoice, settings: Settings) -> bool:
        """Whether ``choice``'s backend runs local files and its model is a Hub model that is
        not on this machine yet."""
        from huatu.models.download import needs_download

        runs_files = get_backend(choice.backend).runs_local_files
        return runs_files and needs_download(choice.model, settings)

    def _replace_in_place(self, choice: BackendChoice, settings: Settings) -> None:
        """Release the loaded model, then load ``choice``; on failure load the old one again
        (it stays if that works) and raise the failure."""
        previous = self.choice
        self.backend, self.switching_to = None, choice.model  # generations wait for the slots
        gc.collect()  # the old weights go before the new ones come
        try:
            loaded = get_backend(choice.backend).create(choice.model, settings)
        except Exception:  # a load failure (or a bug): the old model serves again
            try:
                self.backend = get_backend(previous.backend).create(previous.model, self.settings)
            except ModelLoadError as error:
                log.warning("could not load %s again after a failed switch", previous.model)
                self.load_error = error
            raise
        finally:
            self.switching_to = None
        self.choice, self.backend, self.load_error = choice, loaded, None
