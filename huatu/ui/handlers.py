"""The Generate tab's event handlers: form values in, service calls, Gradio updates out.

This is the Gradio edge of the studio's generator: it turns the form's values (by name, see
:mod:`huatu.ui.form`) into a request, admits and streams runs, stops them, translates
prompts, and renders notices and errors in the person's language. The image-info and
history tabs' handlers are in :mod:`huatu.ui.saved`; the layout is in :mod:`huatu.ui.studio`.
"""

from __future__ import annotations

import html
import inspect
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from huatu.backends.base import CancelToken
from huatu.clients import session_client
from huatu.edit_fields import (
    DEFAULT_HIRES_STRENGTH,
    DEFAULT_MASK_BLUR,
    DEFAULT_STRENGTH,
    HIRES_UPSCALERS,
    INPAINT_AREAS,
    MASKED_CONTENT,
    MIN_HIRES_SCALE,
    TXT2IMG,
)
from huatu.errors import HuatuError, ValidationError, explain
from huatu.fields import FORM
from huatu.images import DEFAULT_RESIZE_MODE, UPSCALERS
from huatu.messages import message, render
from huatu.presets import apply_quality_preset, preset_caches
from huatu.prompt_checks import foreign_script
from huatu.runs import RunRegistry, stream_generation
from huatu.service import GenerationResult, ImageService
from huatu.ui.common import error_for_person, request_language, status_markdown, user_error
from huatu.ui.edits import upscale_run, upscale_source, used_preview
from huatu.ui.form import (
    API_INPUTS,
    API_OUTPUTS,
    CONTROL_OF,
    FIELDS,
    GENERATE_OUTPUTS,
    INPUTS,
    RUN_OPTIONS,
    edit_values,
    named_inputs,
    outputs,
)
from huatu.ui.lines import render_seed, session_of, step_line, stopped_line, waiting_line
from huatu.ui.modes import UPSCALE
from huatu.upscaling import DEFAULT_UPSCALE

#: What starts the calm note beside the English box.
NOTE_MARK = "ℹ️ "
#: A latent preview every this many steps.
PREVIEW_EVERY = 2
#: Generations one browser session may have queued or running at once.
MAX_PER_SESSION = 2


@dataclass
class StudioHandlers:
    """The Generate tab's event handlers and what they share (bound methods, so Gradio can see
    their ``gr.Request`` parameters).

    Attributes:
        service: generates and saves.
        runs: each session's admitted and running generations, for the cap and the stop
            button. Default: a new registry.
        glossary_path: where the editable zh→en glossary is saved. Default: none (no
            glossary).
        demo: the studio, once built (its queue tells how many runs a session has waiting).
            Default: none.
    """

    service: ImageService
    runs: RunRegistry = field(default_factory=RunRegistry)
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
        """Markdown: backend, model, device and why — or why nothing is loaded — in the
        person's language."""
        return status_markdown(self.service, request_language(request))

    def apply_preset(
        self, preset_id: str, guidance: float, request: gr.Request | None = None
    ) -> tuple[int, str, float, bool]:
        """A quality preset's (steps, scheduler, guidance, "Faster") as this backend runs it
        (``service.capabilities.presets``); when the backend has a note about the preset (why
        Fast is the slower fallback here), the person is told — and, choosing Fast on a model
        made for many steps, which one-step model to switch to or download."""
        capabilities = self.service.capabilities
        notes = [capabilities.preset_notes.get(preset_id)]
        if preset_id == "fast":
            notes.append(self.service.fast_advice())
        for note in notes:
            if note is not None:
                gr.Info(render(note, request_language(request)))
        presets = capabilities.presets
        caches = preset_caches(preset_id, presets=presets, available=capabilities.step_cache)
        return (*apply_quality_preset(preset_id, presets=presets, guidance=guidance), caches)

    def needs_translation(self, prompt: str) -> bool:
        """Whether ``prompt`` is in a script the model cannot read (and the model is not a
        Chinese-reading one)."""
        return foreign_script(prompt or "") is not None and not self.service.reads_chinese

    def show_translation(self, prompt: str) -> dict:
        """Show the English-translation box only while the prompt needs one."""
        return gr.update(visible=self.needs_translation(prompt))

    def translate(
        self, prompt: str, request: gr.Request | None = None, *, language: str | None = None
    ) -> str:
        """Glossary first, then the translator: the English prompt for the person to check.

        Args:
            prompt: the person's prompt.
            request: the person's request (for their language).
            language: the language to answer in. Default: the request's.

        Raises:
            gr.Error: translation is not available here, and why.
        """
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
            why = explain(error, language, self.service.settings).rstrip(".。")
            raise user_error(message("translation_unavailable", language, reason=why)) from None
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
        mode: str = TXT2IMG,
        source: Any = None,
        mask_upload: Any = None,
        strength: float = DEFAULT_STRENGTH,
        resize_mode: str = DEFAULT_RESIZE_MODE,
        mask_blur: float = DEFAULT_MASK_BLUR,
        masked_content: str = MASKED_CONTENT[0],
        inpaint_area: str = INPAINT_AREAS[0],
        invert_mask: bool = False,
        outpaint_left: float = 0,
        outpaint_right: float = 0,
        outpaint_up: float = 0,
        outpaint_down: float = 0,
        hires_scale: float = MIN_HIRES_SCALE,
        hires_steps: float = 0,
        hires_strength: float = DEFAULT_HIRES_STRENGTH,
        hires_upscaler: str = HIRES_UPSCALERS[0],
        upscale_scale: float = DEFAULT_UPSCALE,
        upscaler: str = UPSCALERS[0],
        step_cache: bool = False,
        fast_decode: bool = False,
        request: gr.Request | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> Iterator[tuple]:
        """The studio's Generate button: stream one run in any mode.

        Its parameters (before ``request``) are :data:`huatu.ui.form.INPUTS`, by name: the
        form's fields, the English translation, the mode (``txt2img`` by default) and its
        controls. Yields updates of :data:`~huatu.ui.form.GENERATE_OUTPUTS`. The place
        :meth:`admit` reserved is given back however the run ends.
        """
        form = named_inputs(locals())
        language = request_language(request)
        session = session_of(request)
        cancel = self.runs.start(session)
        try:
            yield from self._run(form, cancel, language, progress, session_client(session))
        except gr.Error:
            raise
        except Exception as error:  # the edge: one sentence for the person, details in the log
            raise error_for_person(error, self.service, language) from None
        finally:
            self.runs.finish(session, cancel)

    def generate_api(
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
        progress: gr.Progress = gr.Progress(),
    ) -> Iterator[tuple]:
        """Gradio API ``/generate``: text to image with the parameters and outputs it always
        had (:data:`~huatu.ui.form.API_INPUTS`, :data:`~huatu.ui.form.API_OUTPUTS`)."""
        given = locals()
        values = {name: given[name] for name in API_INPUTS}
        for update in self.generate(**values, request=request, progress=progress):
            named = dict(zip(GENERATE_OUTPUTS, update, strict=True))
            note = named["translation_note"]
            if isinstance(note, str) and note:  # an API caller gets the reason as its error
                raise user_error(note.removeprefix(NOTE_MARK))
            yield tuple(named[name] for name in API_OUTPUTS)

    def admit_api(self, request: gr.Request | None, *inputs: Any) -> tuple:
        """:meth:`admit` for ``/generate``'s inputs (the modes' controls at their defaults)."""
        defaults = inspect.signature(self.generate).parameters
        rest = tuple(defaults[name].default for name in INPUTS[len(API_INPUTS) :])
        return self.admit(request, *inputs, *rest)[: len(API_INPUTS)]

    def _run(
        self,
        form: Mapping[str, Any],
        cancel: CancelToken,
        language: str,
        progress: gr.Progress | None,
        client: str,
    ) -> Iterator[tuple]:
        """The run itself: translate first if needed (and stop there so the person can check
        the English, or say calmly beside the English box why nothing could translate it),
        then stream steps, waits, and the result or the stop. Upscaling runs no model."""
        if form.get("mode") == UPSCALE:
            yield from upscale_run(self.service, form, language)
            return
        values = {name: form[name] for name in FIELDS}
        english_prompt = form["english_prompt"]
        extra: dict[str, str] = {}
        if self.needs_translation(values["prompt"]):
            if not (english_prompt or "").strip():
                english, note = self._translated(values["prompt"], language)
                said = message("translation_ready", language) if english else ""
                yield outputs(progress=said, english_prompt=english or "", translation_note=note)
                return
            extra["Original prompt"] = values["prompt"]
            values["prompt"] = english_prompt
        edits, notices = edit_values(form)
        for notice in notices:
            gr.Warning(render(notice, language))
        options = {name: bool(form.get(name)) for name in RUN_OPTIONS}
        run_request = FORM.request({**values, **edits, **options})
        yield outputs(translation_note="", used=used_preview(run_request))
        started = time.monotonic()
        for update in stream_generation(
            self.service,
            run_request,
            cancel=cancel,
            preview_every=PREVIEW_EVERY,
            extra=extra,
            client=client,
        ):
            if update.kind == "started":
                yield outputs(progress=message("queued_or_starting", language), preview=None)
            elif update.kind == "step":
                if progress is not None:
                    progress((update.step, update.total), unit="steps")
                preview = update.preview if update.preview is not None else gr.skip()
                yield outputs(progress=step_line(update, language), preview=preview)
            elif update.kind == "waiting":
                yield outputs(progress=waiting_line(update, language))
            elif update.kind == "stopped":
                line = stopped_line(update.step, run_request.num_inference_steps, language)
                yield outputs(progress=line, preview=None)
                return
            else:
                seconds = round(time.monotonic() - started, 1)
                yield self._finished(update.result, seconds, english_prompt, language)

    def _finished(
        self, result: GenerationResult, seconds: float, english_prompt: str, language: str
    ) -> tuple:
        """The outputs for a finished run; its notices are also shown as warnings."""
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
        return outputs(
            progress=done,
            preview=None,
            gallery=gallery,
            info="  \n".join(lines),
            last_seeds=result.seeds,
            english_prompt=english_prompt,
        )

    def _translated(self, prompt: str, language: str) -> tuple[str | None, str]:
        """The English (``None`` when untranslatable here) and the note saying why."""
        try:
            english = self.translate(prompt, None, language=language)
        except gr.Error as error:
            return None, f"{NOTE_MARK}{html.unescape(error.message)}"
        gr.Info(message("translation_ready", language))
        return english, ""

    def admit(self, request: gr.Request | None, *inputs: Any) -> tuple:
        """Gradio ``validator`` of the generate event, run before the event is queued.

        Refuses bad fields (the shared validator), each on its own input, and a session that
        already has :data:`MAX_PER_SESSION` generations queued or running, so nothing invalid
        waits in the queue and one person cannot flood it.

        Args:
            request: the person's request (Gradio puts it first, by its annotation).
            *inputs: the generate event's inputs, in :data:`huatu.ui.form.INPUTS` order.

        Returns:
            One ``gr.validate`` per input.
        """
        language = request_language(request)
        form = dict(zip(INPUTS, inputs, strict=True))
        verdicts = {name: gr.validate(True, "") for name in INPUTS}
        values = {name: form[name] for name in FIELDS}
        prompt_field = "english_prompt" if (form["english_prompt"] or "").strip() else "prompt"
        values["prompt"] = form[prompt_field]
        try:
            if form.get("mode") == UPSCALE:
                upscale_source(form)
            else:
                FORM.request({**values, **edit_values(form)[0]})
        except ValidationError as error:
            name = prompt_field if error.field == "prompt" else FORM.edge_name(error.field)
            name = CONTROL_OF.get(error.field, name)
            text = explain(error, language, self.service.settings)
            verdicts[name if name in verdicts else "prompt"] = gr.validate(False, text)
            return tuple(verdicts.values())
        session = session_of(request)
        actual = self.queued(session) + self.runs.running(session)
        if not self.runs.admit(session, MAX_PER_SESSION, actual=actual):
            text = message("session_queue_full", language, limit=MAX_PER_SESSION)
            verdicts["prompt"] = gr.validate(False, text)
        return tuple(verdicts.values())

    def stop(self, request: gr.Request | None = None) -> None:
        """Stop this session's run (within one denoising step) and its queued ones."""
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
            raise error_for_person(error, self.service, language) from None
        gr.Info(message("glossary_saved", language, count=len(glossary)))
