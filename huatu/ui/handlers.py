"""The studio's event handlers: Gradio values in, service calls, Gradio updates out.

This is the Gradio edge of the studio: it turns component values into requests, streams
runs, renders notices and errors in the person's language, and hands the layout plain values
or ``gr.update`` objects. The layout itself is in :mod:`huatu.ui.studio`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from huatu.backends.base import CancelToken
from huatu.errors import HuatuError, ValidationError, explain
from huatu.fields import FORM
from huatu.messages import message, render
from huatu.presets import apply_quality_preset, aspect_by_id
from huatu.prompt_checks import foreign_script
from huatu.request import RANDOM_SEED, GenerationRequest
from huatu.runs import RunRegistry, RunUpdate, stream_generation
from huatu.service import ImageService
from huatu.ui.common import request_language, user_error

log = logging.getLogger(__name__)

PREVIEW_EVERY = 2
#: Updates a "fill the form" handler returns: tabs, 8 form fields, english prompt.
FORM_UPDATES = 10
#: The request field behind each input of the generate event, in order (the validator
#: answers one verdict per input, so a refusal is shown on the input it concerns).
GENERATE_FIELDS = (
    "prompt",
    "negative_prompt",
    "num_inference_steps",
    "guidance_scale",
    "width",
    "height",
    "seed",
    "num_images",
    "scheduler",
    "english_prompt",
)
#: Generations one browser session may have queued or running at once.
MAX_PER_SESSION = 2


@dataclass
class StudioHandlers:
    """The studio's event handlers and what they share (bound methods, so Gradio can see
    their ``gr.Request``/``gr.SelectData`` parameters).

    Attributes:
        service: generates and saves.
        runs: each session's running generation, for the stop button.
        history: the history store, or ``None`` when the service keeps none.
        glossary_path: where the editable zh→en glossary is saved.
    """

    service: ImageService
    runs: RunRegistry = field(default_factory=RunRegistry)
    history: Any = None
    glossary_path: Path | None = None
    demo: gr.Blocks | None = None

    def queued(self, session: str) -> int:
        """How many of ``session``'s generate events wait in Gradio's queue right now."""
        queue = getattr(self.demo, "_queue", None)  # Gradio's own queue (no public API)
        waiting = getattr(queue, "event_queue_per_concurrency_id", {}).get("generate")
        if waiting is None:
            return 0
        return sum(1 for event in list(waiting.queue) if event.session_hash == session)

    def status_line(self, request: gr.Request | None = None) -> str:
        """Markdown: backend, model, device and why — or why nothing is loaded."""
        language = request_language(request)
        service = self.service
        if service.backend is None:
            error = explain(service.unavailable(), language, service.settings)
            return message("status_not_loaded", language, model=service.choice.model, error=error)
        backend = service.backend
        detail = backend.description.split(" · ", 2)[-1] if " · " in backend.description else ""
        line = message(
            "status",
            language,
            backend=backend.id,
            model=service.choice.model,
            detail=detail,
            reason=service.choice.reason,
        )
        if service.is_test_model:
            line += "  \n⚠️ " + message("test_model", language)
        return line

    def apply_preset(
        self, preset_id: str, guidance: float, request: gr.Request | None = None
    ) -> tuple[int, str, float]:
        """A quality preset's (steps, scheduler, guidance) as this backend runs it: Fast is
        4 LCM steps without guidance where the LCM-LoRA weights are at hand, else 12 DPM++
        steps — and then the person is told why."""
        capabilities = self.service.capabilities
        note = capabilities.preset_notes.get(preset_id)
        if note is not None:  # e.g. the LCM-LoRA weights are missing here
            gr.Info(render(note, request_language(request)))
        return apply_quality_preset(preset_id, presets=capabilities.presets, guidance=guidance)

    def needs_translation(self, prompt: str) -> bool:
        """Whether ``prompt`` is in a script the model cannot read (and the model is not a
        Chinese-reading one)."""
        from huatu.translation import model_reads_chinese

        return foreign_script(prompt or "") is not None and not model_reads_chinese(
            self.service.choice.model
        )

    def show_translation(self, prompt: str) -> dict:
        """Show the English-translation box only while the prompt needs one."""
        return gr.update(visible=self.needs_translation(prompt))

    def translate(
        self, prompt: str, request: gr.Request | None = None, *, language: str | None = None
    ) -> str:
        """Glossary first, then the translator: the English prompt for the person to check."""
        from huatu.translation import choose_translator, load_glossary, translate_prompt

        language = language or request_language(request)
        glossary = load_glossary(self.glossary_path) if self.glossary_path else {}
        translator, reason = choose_translator(
            self.service.settings, model=self.service.choice.model
        )
        try:
            result = translate_prompt(
                prompt, glossary=glossary, translator=translator, reason=reason
            )
        except HuatuError as error:
            raise user_error(
                message("translation_unavailable", language, reason=str(error).rstrip("."))
            ) from None
        if result.needed:
            gr.Info(message("translated_with", language, translator=result.translator))
        return result.translated

    def generate(
        self,
        prompt: str,
        negative_prompt: str,
        steps: float,
        guidance: float,
        width: float,
        height: float,
        seed: float,
        num_images: float,
        scheduler: str,
        english_prompt: str,
        request: gr.Request | None,
        progress: gr.Progress = gr.Progress(),
    ) -> Iterator[tuple]:
        """Stream one run: yields (progress line, preview, gallery, info, last seeds, english
        prompt). The place :meth:`admit` reserved is given back however the run ends."""
        language = request_language(request)
        session = session_of(request)
        cancel = self.runs.start(session)
        try:
            yield from self._run(
                prompt,
                (negative_prompt, steps, guidance, width, height, seed, num_images, scheduler),
                english_prompt,
                cancel,
                language,
                progress,
            )
        except HuatuError as error:
            raise self._error(error, language) from None
        except gr.Error:
            raise
        except Exception:  # the edge: log the details, show a translated sentence
            log.exception("generation failed")
            raise user_error(message("internal_error", language)) from None
        finally:
            self.runs.finish(session, cancel)

    def _run(
        self,
        prompt: str,
        form: tuple,
        english_prompt: str,
        cancel: CancelToken,
        language: str,
        progress: gr.Progress | None,
    ) -> Iterator[tuple]:
        """The run itself: translate first if needed (and stop there so the person can check
        the English), then stream steps, waits, and the result or the stop."""
        skip = gr.skip()
        extra: dict[str, str] = {}
        if self.needs_translation(prompt):
            if not (english_prompt or "").strip():
                english = self.translate(prompt, None, language=language)
                gr.Info(message("translation_ready", language))
                yield (message("translation_ready", language), None, skip, skip, skip, english)
                return
            extra["Original prompt"] = prompt
            prompt = english_prompt
        names = ("negative_prompt", "steps", "guidance", "width", "height", "seed", "num_images")
        run_request = FORM.request(
            {"prompt": prompt, **dict(zip((*names, "scheduler"), form, strict=True))}
        )
        started = time.monotonic()
        for update in stream_generation(
            self.service, run_request, cancel=cancel, preview_every=PREVIEW_EVERY, extra=extra
        ):
            if update.kind == "started":
                yield (message("queued_or_starting", language), None, skip, skip, skip, skip)
            elif update.kind == "step":
                if progress is not None:
                    progress((update.step, update.total), unit="steps")
                line = step_line(update, language)
                preview = update.preview if update.preview is not None else skip
                yield (line, preview, skip, skip, skip, skip)
            elif update.kind == "waiting":
                yield (waiting_line(update, language), skip, skip, skip, skip, skip)
            elif update.kind == "stopped":
                line = (
                    message(
                        "stopped_run",
                        language,
                        step=update.step,
                        total=run_request.num_inference_steps,
                    )
                    if update.step
                    else message("stopped", language)
                )
                yield (line, None, skip, skip, skip, skip)
                return
            else:
                result = update.result
                seconds = round(time.monotonic() - started, 1)
                gallery = [
                    (str(path), render_seed(seed, language))
                    for path, seed in zip(result.paths, result.seeds, strict=True)
                ]
                seeds = ", ".join(str(seed) for seed in result.seeds)
                lines = [message("seed_used", language, seeds=seeds)]
                lines += [f"⚠️ {render(notice, language)}" for notice in result.notices]
                for notice in result.notices:
                    gr.Warning(render(notice, language))
                done = message("done", language, count=len(result.images), seconds=seconds)
                yield (done, None, gallery, "  \n".join(lines), result.seeds, english_prompt)

    def _error_text(self, error: HuatuError, language: str) -> str:
        return explain(error, language, self.service.settings)

    def _error(self, error: HuatuError, language: str) -> gr.Error:
        return user_error(self._error_text(error, language))

    def admit(
        self,
        prompt: str,
        negative_prompt: str,
        steps: float,
        guidance: float,
        width: float,
        height: float,
        seed: float,
        num_images: float,
        scheduler: str,
        english_prompt: str,
        request: gr.Request | None = None,
    ) -> tuple:
        """Gradio ``validator`` of the generate event, run before the event is queued.

        Refuses bad fields (the shared validator), and a session that already has
        :data:`MAX_PER_SESSION` generations queued or running, so nothing invalid waits in the
        queue and one person cannot flood it.
        """
        language = request_language(request)
        verdicts = [gr.validate(True, "") for _ in GENERATE_FIELDS]
        prompt_field = "english_prompt" if (english_prompt or "").strip() else "prompt"
        try:
            FORM.request(
                {
                    "prompt": english_prompt if prompt_field == "english_prompt" else prompt,
                    "negative_prompt": negative_prompt,
                    "steps": steps,
                    "guidance": guidance,
                    "width": width,
                    "height": height,
                    "seed": seed,
                    "num_images": num_images,
                    "scheduler": scheduler,
                }
            )
        except ValidationError as error:
            field = prompt_field if error.field == "prompt" else error.field
            index = GENERATE_FIELDS.index(field) if field in GENERATE_FIELDS else 0
            verdicts[index] = gr.validate(False, self._error_text(error, language))
            return tuple(verdicts)
        session = session_of(request)
        actual = self.queued(session) + self.runs.running(session)
        if not self.runs.admit(session, MAX_PER_SESSION, actual=actual):
            text = message("session_queue_full", language, limit=MAX_PER_SESSION)
            verdicts[0] = gr.validate(False, text)
        return tuple(verdicts)

    def stop(self, request: gr.Request | None = None) -> None:
        """Stop this session's run (within one denoising step)."""
        session = session_of(request)
        self.runs.stop(session, queued=self.queued(session))

    def glossary_text(self) -> str:
        """The glossary as editable text."""
        from huatu.translation import format_glossary_text, load_glossary

        if self.glossary_path is None:
            return ""
        return format_glossary_text(load_glossary(self.glossary_path))

    def save_glossary(self, text: str, request: gr.Request | None = None) -> None:
        """Parse and save the edited glossary; say how many terms it has."""
        from huatu.translation import parse_glossary_text
        from huatu.translation import save_glossary as save

        language = request_language(request)
        try:
            glossary = parse_glossary_text(text)
            if self.glossary_path is not None:
                save(self.glossary_path, glossary)
        except HuatuError as error:
            raise self._error(error, language) from None
        gr.Info(message("glossary_saved", language, count=len(glossary)))

    def read_image_info(
        self, file: str | None, request: gr.Request | None = None
    ) -> tuple[str, dict | None]:
        """The dropped image's parameters text and its fields for the form."""
        from huatu.metadata import parse_parameters, read_parameters

        language = request_language(request)
        if not file:
            return "", None
        try:
            text = read_parameters(Path(file))
        except HuatuError as error:
            raise self._error(error, language) from None
        if not text:
            return message("no_parameters", language), None
        return text, parse_parameters(text).to_request_fields()

    def history_items(self, query: str = "") -> tuple[list, list[int]]:
        """The history gallery (newest first) and the ids in the same order."""
        if self.history is None:
            return [], []
        entries = self.history.list(query or "", limit=100)
        return [(str(e.path), e.prompt[:60]) for e in entries], [e.id for e in entries]

    def select_history(self, ids: list[int], evt: gr.SelectData) -> tuple[int | None, str]:
        """The selected history entry's id and its parameters text."""
        if self.history is None or evt.index is None or not 0 <= evt.index < len(ids):
            return None, ""
        entry = self.history.get(ids[evt.index])
        return (entry.id, entry.parameters) if entry else (None, "")

    def restore_history(self, entry_id: int | None, request: gr.Request | None = None) -> tuple:
        """Like :func:`send_to_generate`, from a history entry."""
        entry = self.history.get(entry_id) if self.history is not None and entry_id else None
        if entry is None:
            gr.Warning(message("history_nothing_selected", request_language(request)))
            return tuple(gr.skip() for _ in range(FORM_UPDATES))
        return send_to_generate(entry.request_fields(), request)

    def delete_history(
        self, entry_id: int | None, query: str, request: gr.Request | None = None
    ) -> tuple:
        """Delete an entry (row and file); return the refreshed gallery, ids, selection, details."""
        language = request_language(request)
        if self.history is None or entry_id is None:
            gr.Warning(message("history_nothing_selected", language))
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            deleted = self.history.delete(entry_id)
        except HuatuError as error:
            raise self._error(error, language) from None
        if deleted:
            gr.Info(message("history_deleted", language))
        items, ids = self.history_items(query)
        return items, ids, None, ""


def session_of(request: gr.Request | None) -> str:
    """A key for the person's browser session (API callers without one share "api")."""
    return getattr(request, "session_hash", None) or "api"


def step_line(update: RunUpdate, language: str) -> str:
    """``"Step 3/20 · about 12 s left"`` in ``language``."""
    if update.eta_s is None:
        return message("step_progress_no_eta", language, step=update.step, total=update.total)
    return message(
        "step_progress", language, step=update.step, total=update.total, eta=round(update.eta_s)
    )


def waiting_line(update: RunUpdate, language: str) -> str:
    """The hosted-wait countdown line in ``language``."""
    if update.wait_s is None:
        return message("waiting_no_time", language)
    return message("waiting", language, seconds=round(update.wait_s))


def render_seed(seed: int, language: str) -> str:
    """``"Seed: 42"`` in ``language``."""
    return message("seed_used", language, seeds=seed)


def new_random_seed() -> int:
    """The dice: back to a random seed for each run (A1111's -1)."""
    return RANDOM_SEED


def reuse_seed(last_seeds: list[int] | None) -> int:
    """The recycle button: the first seed of the last run, or random when there was none."""
    return last_seeds[0] if last_seeds else RANDOM_SEED


def apply_aspect(aspect_id: str) -> tuple[Any, Any]:
    """An aspect preset's (width, height); unchanged for "custom"."""
    aspect = aspect_by_id(aspect_id)
    if aspect is None:
        return gr.skip(), gr.skip()
    return aspect.width, aspect.height


def send_to_generate(fields: dict | None, request: gr.Request | None = None) -> tuple:
    """Fill the generator's form from parsed parameters; switch to the Generate tab.

    Values the generator would refuse (an SDXL image's 1216×832, 150 steps …) are left out
    and named in a warning, so the form never holds what the sliders reject.

    Returns updates for: tabs, prompt, negative prompt, steps, guidance, width, height, seed,
    scheduler, english prompt.
    """
    language = request_language(request)
    if not fields:
        gr.Warning(message("info_nothing", language))
        return tuple(gr.skip() for _ in range(FORM_UPDATES))
    usable, refused = usable_fields(fields)
    if refused:
        gr.Warning(message("info_fields_skipped", language, fields=", ".join(refused)))
    keep = gr.skip()
    order = (
        "prompt",
        "negative_prompt",
        "num_inference_steps",
        "guidance_scale",
        "width",
        "height",
        "seed",
        "scheduler",
    )
    return (gr.update(selected="generate"), *(usable.get(name, keep) for name in order), "")


def usable_fields(fields: dict) -> tuple[dict, list[str]]:
    """Split parsed request fields into those the validator accepts and the names of the rest."""
    usable: dict = {}
    refused: list[str] = []
    for name, value in fields.items():
        probe = {"prompt": "probe", name: value} if name != "prompt" else {name: value}
        try:
            GenerationRequest.create(**probe)
        except ValidationError:
            refused.append(name)
        else:
            usable[name] = value
    return usable, refused
