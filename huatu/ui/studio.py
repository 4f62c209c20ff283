"""The studio: its tabs laid out and wired to their handlers.

The tutorial's last app grown up: prompt and button on top, the advanced options collapsed in
an accordion, the images below; plus presets, seeds, live progress and preview, stop, an
image-info tab and a history tab, in English and Simplified Chinese. Each tab is laid out by
one function of :mod:`huatu.ui.tabs`, which returns its components by name (the form's under
:data:`huatu.ui.form.FIELDS`); here they are wired to the handlers of
:mod:`huatu.ui.handlers` (generating) and :mod:`huatu.ui.saved` (image info, history).
Nothing here generates anything.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from huatu.edit_fields import IMG2IMG, INPAINT
from huatu.service import ImageService
from huatu.slots import STUDIO_IN_LINE
from huatu.ui import form
from huatu.ui.common import status_markdown
from huatu.ui.edits import picked, readable_roots, send_to_edit, sized_to_source
from huatu.ui.form import GENERATE_OUTPUTS
from huatu.ui.handlers import StudioHandlers
from huatu.ui.i18n import t
from huatu.ui.mcp_edit import add_edit_image
from huatu.ui.mcp_tool import McpToolsBlocks, add_generate_image
from huatu.ui.model_handlers import MODEL_FORM, ModelHandlers
from huatu.ui.modes import SHOWN_IN, shown
from huatu.ui.saved import SavedImageHandlers
from huatu.ui.tabs import (
    Parts,
    generate_tab,
    history_tab,
    info_tab,
    model_choice,
    settings_tab,
    vae_choice,
)

if TYPE_CHECKING:
    from huatu.history import HistoryStore

TITLE = "画图 huatu"
#: Options of events the page uses but API clients do not see.
PRIVATE = {"api_visibility": "private"}
#: ... and that run at once, outside the queue.
INSTANT = {"queue": False, **PRIVATE}
#: How often the status line follows the first model's download, in seconds.
WATCH_EVERY_S = 1.0


def build_studio(
    service: ImageService,
    *,
    history: HistoryStore | None = None,
    glossary_path: Path | None = None,
) -> gr.Blocks:
    """Build the studio around ``service``.

    Args:
        service: generates and saves images.
        history: a :class:`huatu.history.HistoryStore` for the history tab. Default: the
            service's own (``service.history``), or none.
        glossary_path: where the editable translation glossary lives. Default: next to the
            outputs (``outputs/glossary.json``).

    The main function is API name ``/generate`` with named parameters (prompt,
    negative_prompt, steps, guidance, width, height, seed, num_images, scheduler,
    english_prompt). When served with an MCP server, the one MCP tool is ``generate_image``
    (:mod:`huatu.ui.mcp_tool`; also callable, undocumented, as ``/generate_image``).
    """
    generating = StudioHandlers(
        service=service,
        glossary_path=glossary_path or service.settings.outputs_dir / "glossary.json",
    )
    saved = SavedImageHandlers(
        service=service, history=history if history is not None else service.history
    )
    with McpToolsBlocks(title=TITLE) as demo:
        gr.Markdown(t("title"))
        status = gr.Markdown(status_markdown(service), elem_id="status")  # per language on load
        watch = gr.Timer(WATCH_EVERY_S, active=service.model_pending)  # the first download
        with gr.Row():
            model = model_choice(service)
            vae = vae_choice(service)
        with gr.Tabs(elem_id="tabs") as tabs:
            generator = generate_tab(service)
            image_info = info_tab()
            past = history_tab()
            settings = settings_tab()
        named = {"tabs": tabs, **generator}
        fill = [named[name] for name in form.FILL]
        demo.load(generating.status_line, outputs=status, **INSTANT)
        demo.load(generating.glossary_text, outputs=settings["glossary"], **INSTANT)
        models = ModelHandlers(service)
        wire_models(models, model, vae, status, generator)
        watch.tick(models.watch, outputs=[model, vae, status, watch], **INSTANT)
        wire_generate(generating, generator, max(service.max_concurrency, STUDIO_IN_LINE))
        wire_form(generating, generator, settings)
        wire_modes(saved, tabs, generator, image_info, past)
        for restored in (wire_info(saved, image_info, fill), wire_history(saved, past, fill)):
            # the image's model and VAE may have been loaded again: show what is loaded
            restored.then(models.loaded, outputs=[model, vae, status], **INSTANT)
        generating.demo = demo
        # the agent's entry point: MCP tool (and undocumented API) `generate_image`
        add_generate_image(service)
        add_edit_image(service)
    return demo


def wire_models(handlers: ModelHandlers, model: Any, vae: Any, status: Any, tab: Parts) -> None:
    """The model choice (a message while it loads; the VAE goes back to the model's own),
    the VAE choice, the prompt's live token count and the LoRA picker."""
    form_outputs = [tab[name] for name in MODEL_FORM]
    model.input(
        handlers.switch_model, inputs=model, outputs=[model, status, *form_outputs], **PRIVATE
    ).then(lambda: handlers.service.vae_name or "", outputs=vae, **INSTANT)
    vae.input(handlers.switch_vae, inputs=vae, outputs=[vae, status], **PRIVATE)
    tab["prompt"].change(
        handlers.token_count,
        inputs=tab["prompt"],
        outputs=tab["tokens"],
        trigger_mode="always_last",
        show_progress="hidden",
        **INSTANT,
    )
    tab["lora"].input(
        handlers.insert_lora,
        inputs=[tab["lora"], tab["prompt"]],
        outputs=[tab["prompt"], tab["lora"]],
        **INSTANT,
    )


def wire_generate(handlers: StudioHandlers, tab: Parts, concurrency: int) -> None:
    """Generate (button or Enter; API ``/generate``), Stop (``/stop``), the translation box
    and ``/translate``."""
    gr.on(  # the studio's button: every mode (not in the API)
        triggers=[tab["run"].click, tab["prompt"].submit],
        fn=handlers.generate,
        inputs=[tab[name] for name in form.INPUTS],
        outputs=[tab[name] for name in GENERATE_OUTPUTS],
        api_name="studio_generate",
        concurrency_limit=concurrency,
        concurrency_id="generate",
        validator=handlers.admit,
        **PRIVATE,
    )
    gr.on(  # the Gradio API /generate: text to image, as it always was
        triggers=[],
        fn=handlers.generate_api,
        inputs=[tab[name] for name in form.API_INPUTS],
        outputs=[tab[name] for name in form.API_OUTPUTS],
        api_name="generate",
        concurrency_limit=concurrency,
        concurrency_id="generate",
        validator=handlers.admit_api,
    )
    tab["stop"].click(handlers.stop, queue=False, api_name="stop")
    tab["prompt"].change(
        handlers.show_translation,
        inputs=tab["prompt"],
        outputs=tab["translation_row"],
        show_progress="hidden",
        **INSTANT,
    )
    tab["prompt"].input(
        lambda: "", outputs=tab["english_prompt"], show_progress="hidden", **INSTANT
    )
    tab["translate"].click(
        handlers.translate,
        inputs=tab["prompt"],
        outputs=tab["english_prompt"],
        api_name="translate",
    )


def wire_modes(
    saved: SavedImageHandlers, tabs: gr.Tabs, tab: Parts, image_info: Parts, past: Parts
) -> None:
    """The mode switch shows each mode's controls; a picture put in sizes the form; "Send to
    image to image / inpaint" from the gallery, the image-info tab and the history."""
    groups = [tab[name] for name in SHOWN_IN]
    tab["mode"].change(shown, inputs=tab["mode"], outputs=groups, **INSTANT)
    tab["source"].upload(
        sized_to_source, inputs=tab["source"], outputs=[tab["width"], tab["height"]], **INSTANT
    )
    tab["gallery"].select(picked, outputs=tab["picked"], **INSTANT)
    sent = [tabs, tab["mode"], tab["source"], tab["width"], tab["height"], *groups]
    roots = readable_roots(saved.service.settings.outputs_dir)
    for origin, chosen in ((tab, tab["picked"]), (image_info, image_info["file"])):
        for mode, button in ((IMG2IMG, "send_img2img"), (INPAINT, "send_inpaint")):
            send = partial(send_to_edit, mode=mode, roots=roots)
            origin[button].click(send, inputs=chosen, outputs=sent, **PRIVATE)
    for mode, button in ((IMG2IMG, "send_img2img"), (INPAINT, "send_inpaint")):
        past[button].click(
            partial(saved.send_entry_to_edit, mode=mode),
            inputs=past["selected"],
            outputs=sent,
            **PRIVATE,
        )


def wire_form(handlers: StudioHandlers, tab: Parts, settings: Parts) -> None:
    """The controls that only set the form's values: seeds, presets, sizes, the glossary."""
    tab["dice"].click(form.new_random_seed, outputs=tab["seed"], **INSTANT)
    tab["recycle"].click(form.reuse_seed, inputs=tab["last_seeds"], outputs=tab["seed"], **INSTANT)
    tab["preset"].input(
        handlers.apply_preset,
        inputs=[tab["preset"], tab["guidance"]],
        outputs=[tab["steps"], tab["scheduler"], tab["guidance"], tab["step_cache"]],
        **INSTANT,
    )
    tab["aspect"].input(
        form.apply_aspect, inputs=tab["aspect"], outputs=[tab["width"], tab["height"]], **INSTANT
    )
    settings["save_glossary"].click(handlers.save_glossary, inputs=settings["glossary"], **PRIVATE)


def wire_info(handlers: SavedImageHandlers, tab: Parts, fill: list) -> gr.Dependency:
    """Dropping an image shows its parameters (API ``/image_info``); "Send to Generate"
    fills the form (``fill``: the tabs, the form's fields, the English prompt). Returns the
    send event (the model choice follows it)."""
    tab["file"].change(
        handlers.read_image_info,
        inputs=tab["file"],
        outputs=[tab["parameters"], tab["fields"]],
        api_name="image_info",
    )
    return tab["send"].click(
        handlers.send_info_to_generate,
        inputs=[tab["fields"], tab["file"]],
        outputs=fill,
        **PRIVATE,
    )


def wire_history(handlers: SavedImageHandlers, tab: Parts, fill: list) -> gr.Dependency:
    """Listing and searching the history, selecting, restoring (into ``fill``) and deleting.
    Returns the restore event (the model choice follows it)."""
    listing = [tab["gallery"], tab["ids"]]
    for trigger in (tab["refresh"].click, tab["search"].submit, tab["tab"].select):
        trigger(handlers.history_items, inputs=tab["search"], outputs=listing, **PRIVATE)
    tab["gallery"].select(
        handlers.select_history,
        inputs=tab["ids"],
        outputs=[tab["selected"], tab["details"], tab["sources"]],
        **PRIVATE,
    )
    restored = tab["restore"].click(
        handlers.restore_history, inputs=tab["selected"], outputs=fill, **PRIVATE
    )
    tab["delete"].click(
        handlers.delete_history,
        inputs=[tab["selected"], tab["search"]],
        outputs=[*listing, tab["selected"], tab["details"]],
        **PRIVATE,
    )
    return restored
