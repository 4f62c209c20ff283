"""What every Gradio app shares: calling the service, progress, notices, and errors.

This is the Gradio edge: huatu's exceptions become ``gr.Error`` here and nowhere else.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import gradio as gr

from huatu.backends.base import ProgressEvent
from huatu.errors import HuatuError, explain
from huatu.fields import FORM
from huatu.messages import language_from_header, message, render
from huatu.service import GenerationResult, ImageService
from huatu.slots import ANONYMOUS

log = logging.getLogger(__name__)

#: Largest upload accepted (image info): a PNG with its parameters is far smaller.
MAX_UPLOAD = "20mb"


def request_language(request: gr.Request | None) -> str:
    """The person's language (``en``/``zh-CN``) from their browser's Accept-Language."""
    if request is None:
        return "en"
    return language_from_header(request.headers.get("accept-language"))


def run_generation(
    service: ImageService,
    values: dict[str, Any],
    *,
    progress: gr.Progress | None = None,
    language: str = "en",
    save: bool = True,
    client: str = ANONYMOUS,
) -> GenerationResult:
    """Validate ``values`` into a request, generate, and show notices as Gradio warnings.

    Args:
        service: the app's service.
        values: the form's values under its short names (:data:`huatu.fields.FORM`:
            ``steps``, ``guidance`` …), loosely typed as the UI or an API call sent them.
        progress: Gradio's progress tracker; gets one update per step and hosted waits.
        language: language for notices. Default ``en``.
        save: save images under the outputs folder. Default ``True``.
        client: who asks (:mod:`huatu.clients`), for the fair slots. Default anonymous.

    Raises:
        gr.Error: with the validator's or backend's message; never a traceback.
    """

    def report(event: ProgressEvent) -> None:
        if progress is None:
            return
        said = render(event.message, language) if event.message is not None else None
        if event.total:
            progress((event.step, event.total), desc=said, unit="steps")
        else:
            progress(None, desc=said)

    try:
        result = service.generate(FORM.request(values), progress=report, save=save, client=client)
    except Exception as error:  # the edge: one sentence for the person, details in the log
        raise error_for_person(error, service, language) from None
    for notice in result.notices:
        gr.Warning(render(notice, language))
    return result


def error_for_person(error: BaseException, service: ImageService, language: str) -> gr.Error:
    """``error`` as the ``gr.Error`` a person sees (:func:`huatu.errors.explain`: their
    language, no secret); an unexpected one is logged with its traceback first."""
    if not isinstance(error, HuatuError):
        log.error("generation failed", exc_info=error)
    return user_error(explain(error, language, service.settings))


def user_error(message: str) -> gr.Error:
    """A ``gr.Error`` showing ``message`` as text (Gradio renders error messages as HTML)."""
    return gr.Error(html.escape(message, quote=False), print_exception=False)


def status_markdown(service: ImageService, language: str = "en") -> str:
    """The status shown under an app's title, in ``language``: backend, model, how it runs,
    and why this backend, and for the built-in test model a warning — or why no model is
    loaded."""
    notice = service.status_notice(language, emphasis=lambda name: f"**{name}**")
    line = render(notice, language)
    if service.is_test_model:
        line += f"  \n⚠️ {message('test_model', language)}"
    return line


def launch(demo: gr.Blocks, port: int, *, block: bool = True, quiet: bool = False) -> gr.Blocks:
    """Queue and launch ``demo`` on 127.0.0.1:``port`` with huatu's translations.

    Args:
        demo: the app.
        port: TCP port on 127.0.0.1.
        block: keep the calling thread serving (the CLI) or return at once (tests).
            Default ``True``.
        quiet: suppress Gradio's start-up lines. Default ``False``.
    """
    from huatu.ui.i18n import I18N

    demo.queue().launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=not block,
        quiet=quiet,
        show_error=False,
        i18n=I18N,
        max_file_size=MAX_UPLOAD,
    )
    return demo
