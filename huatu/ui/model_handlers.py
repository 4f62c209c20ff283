"""The studio's model-facing handlers: switching the model (with a message while it loads),
the prompt's live token count, and the LoRA picker that writes ``<lora:name:1>``.

Layout is in :mod:`huatu.ui.tabs`; wiring in :mod:`huatu.ui.studio`.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from huatu.errors import HuatuError, explain
from huatu.messages import message, render
from huatu.presets import DEFAULT_PRESET, aspects_for, default_form
from huatu.prompts.chunks import chunk_count
from huatu.service import ImageService
from huatu.ui.common import request_language, status_markdown

#: The weight the picker writes; the person changes it in the prompt.
PICKED_LORA_WEIGHT = 1
#: The form's controls a model switch sets to the new model family's defaults, in the order
#: :meth:`ModelHandlers.switch_model` answers them (after the choice and the status).
MODEL_FORM = (
    "aspect",
    "width",
    "height",
    "preset",
    "steps",
    "scheduler",
    "guidance",
    "step_cache",
)
#: How often a model switch that downloads first shows how far it has come, in seconds.
PROGRESS_EVERY_S = 0.5


class ModelHandlers:
    """Handlers bound to ``service``.

    Args:
        service: the service every edge uses.
    """

    def __init__(self, service: ImageService) -> None:
        self.service = service

    def switch_model(
        self,
        model: str,
        request: gr.Request | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> Iterator[tuple]:
        """The model choice: say that ``model`` is loading (a Hub model not here yet: its
        download's bytes, speed and time left, with Gradio's progress bar), switch every edge
        to it, then show the new status line and set the form to the new family's sizes and preset
        (:data:`MODEL_FORM`). A model that cannot be used leaves the current one and the
        form, and the person is told why in their language."""
        language = request_language(request)
        loading = message("switching_model", language, model=html.escape(str(model)))
        unchanged = [gr.update()] * len(MODEL_FORM)
        yield gr.update(interactive=False), f"⏳ {loading}", *unchanged
        switch = _InThread(self.service.switch_model, model)
        while not switch.done.wait(PROGRESS_EVERY_S):
            download = self.service.download  # a Hub model fetched first: how far it is
            if download is not None:
                now = download.progress()
                line = render(now.notice(), language)
                progress(now.fraction, desc=line)  # Gradio's bar over the status line
                yield gr.skip(), f"⏳ {line}", *unchanged
        form = unchanged
        if isinstance(switch.error, HuatuError):
            gr.Warning(html.escape(explain(switch.error, language, self.service.settings)))
        elif switch.error is not None:
            raise switch.error
        else:
            form = self.form_for_model()
        chosen = gr.update(
            choices=self.service.model_items(), value=self.service.choice.model, interactive=True
        )
        yield chosen, status_markdown(self.service, language), *form

    def watch(self, request: gr.Request | None = None) -> tuple[dict, dict, str, gr.Timer]:
        """The studio's timer while the first model downloads or loads: the status line (bytes,
        speed, time left); once it is loaded, the model and VAE choices too, and the timer
        stops."""
        pending = self.service.model_pending
        model, vae, status = self.loaded(request)
        if pending:
            model, vae = gr.skip(), gr.skip()
        return model, vae, status, gr.Timer(active=pending)

    def switch_vae(self, name: str, request: gr.Request | None = None) -> tuple[dict, str]:
        """The VAE choice: decode with ``name`` (empty: the model's own) on every edge; one
        that cannot be used leaves the current one, and the person is told why."""
        language = request_language(request)
        try:
            self.service.switch_vae(name or None)
        except HuatuError as error:
            gr.Warning(html.escape(explain(error, language, self.service.settings)))
        return gr.update(value=self.service.vae_name or ""), status_markdown(self.service, language)

    def loaded(self, request: gr.Request | None = None) -> tuple[dict, dict, str]:
        """The model and VAE choices and the status line as they are now (after an image's
        files were loaded again)."""
        model = gr.update(choices=self.service.model_items(), value=self.service.choice.model)
        vae = gr.update(value=self.service.vae_name or "")
        return model, vae, status_markdown(self.service, request_language(request))

    def form_for_model(self) -> list:
        """The :data:`MODEL_FORM` values for the loaded model: its family's sizes (the first
        chosen), the Balanced preset's steps, sampler, guidance and "Faster"."""
        capabilities = self.service.capabilities
        aspects = aspects_for(capabilities.family)
        steps, scheduler, guidance, caches = default_form(
            capabilities.presets, can_cache=capabilities.step_cache
        )
        sizes = gr.update(choices=[(a.label, a.id) for a in aspects], value=aspects[0].id)
        return [
            sizes,
            aspects[0].width,
            aspects[0].height,
            DEFAULT_PRESET,
            steps,
            scheduler,
            guidance,
            caches,
        ]

    def token_count(self, prompt: str, request: gr.Request | None = None) -> str:
        """The prompt's tokens as the model counts them, against its chunk: ``23/75``, and
        beyond 75 ``80/150 · 2 chunks``; nothing when the backend does not count."""
        language = request_language(request)
        backend = self.service.backend
        limit = self.service.capabilities.token_limit
        if backend is None or not limit or not prompt:
            return ""
        count = backend.token_count(prompt)
        if count is None:
            return ""
        chunks = chunk_count(count, limit)
        if chunks == 1 or not self.service.capabilities.prompt_chunks:
            return message("token_count", language, count=count, limit=limit)
        return message(
            "token_count_chunks", language, count=count, limit=limit * chunks, chunks=chunks
        )

    def insert_lora(self, name: str | None, prompt: str) -> tuple[str, dict]:
        """The prompt with ``<lora:name:1>`` added at its end, and the picker emptied."""
        if not name:
            return prompt, gr.update()
        tag = f"<lora:{name}:{PICKED_LORA_WEIGHT}>"
        joined = f"{prompt.rstrip()} {tag}" if prompt and prompt.strip() else tag
        return joined, gr.update(value=None)


class _InThread:
    """``call(*args)`` running in a thread of its own; ``done`` is set when it ends, with the
    exception it raised (if any) in ``error``."""

    def __init__(self, call: Callable[..., Any], *args: Any) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None

        def work() -> None:
            try:
                call(*args)
            except BaseException as error:  # handed to the handler's thread
                self.error = error
            finally:
                self.done.set()

        threading.Thread(target=work, name="huatu-switch", daemon=True).start()
