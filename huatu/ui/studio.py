"""The studio's layout and wiring.

The tutorial's last app grown up: prompt and button on top, the advanced options collapsed in
an accordion, the images below; plus presets, seeds, live progress and preview, stop, an
image-info tab and a history tab, in English and Simplified Chinese. Handlers live in
:mod:`huatu.ui.handlers`; nothing here generates anything.
"""

from __future__ import annotations

import gradio as gr

from huatu.presets import ASPECT_PRESETS, DEFAULT_PRESET, QUALITY_PRESETS
from huatu.request import (
    DEFAULT_GUIDANCE,
    DEFAULT_SIDE,
    MAX_GUIDANCE,
    MAX_IMAGES,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MIN_GUIDANCE,
    MIN_SIDE,
    MIN_STEPS,
    RANDOM_SEED,
    SIDE_MULTIPLE,
)
from huatu.schedulers import SCHEDULERS
from huatu.service import ImageService
from huatu.ui import handlers
from huatu.ui.i18n import t
from huatu.ui.mcp_tool import McpToolsBlocks, add_generate_image

TITLE = "画图 huatu"


def build_studio(service: ImageService, *, history=None, glossary_path=None) -> gr.Blocks:
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
    state = handlers.StudioHandlers(
        service=service,
        history=history if history is not None else getattr(service, "history", None),
        glossary_path=glossary_path or service.settings.outputs_dir / "glossary.json",
    )
    preset = QUALITY_PRESETS[DEFAULT_PRESET]

    with McpToolsBlocks(title=TITLE) as demo:
        gr.Markdown(t("title"))
        status = gr.Markdown(
            state.status_line(), elem_id="status"
        )  # re-rendered per language on load
        last_seeds = gr.State([])
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab(t("tab_generate"), id="generate"):
                with gr.Row():
                    with gr.Column(scale=4):
                        prompt = gr.Textbox(
                            label=t("prompt"),
                            placeholder=t("prompt_placeholder"),
                            max_length=1000,
                            lines=2,
                            elem_id="prompt",
                        )
                    with gr.Column(scale=1, min_width=120):
                        run = gr.Button(t("generate"), variant="primary", elem_id="generate")
                        stop = gr.Button(t("stop"), variant="stop", elem_id="stop")
                with gr.Row(visible=False, elem_id="translation-row") as translation_row:
                    english_prompt = gr.Textbox(
                        value="",
                        label=t("translation"),
                        info=t("translation_info"),
                        max_length=1000,
                        scale=4,
                        elem_id="english-prompt",
                    )
                    translate = gr.Button(t("translate"), scale=1, elem_id="translate")
                with gr.Row():
                    preset_choice = gr.Radio(
                        label=t("preset"),
                        choices=[(t(f"preset_{p.id}"), p.id) for p in QUALITY_PRESETS.values()],
                        value=DEFAULT_PRESET,
                        elem_id="preset",
                    )
                    aspect = gr.Dropdown(
                        label=t("aspect"),
                        choices=[(a.label, a.id) for a in ASPECT_PRESETS],
                        value=ASPECT_PRESETS[0].id,
                        elem_id="aspect",
                    )
                    num_images = gr.Slider(
                        label=t("num_images"),
                        minimum=1,
                        maximum=MAX_IMAGES,
                        step=1,
                        value=1,
                        elem_id="num-images",
                    )
                with gr.Accordion(t("advanced"), open=False, elem_id="advanced"):
                    negative_prompt = gr.Textbox(
                        label=t("negative_prompt"),
                        info=t("negative_prompt_info"),
                        value="",
                        max_length=1000,
                        elem_id="negative-prompt",
                    )
                    with gr.Row():
                        steps = gr.Slider(
                            label=t("steps"),
                            info=t("steps_info"),
                            minimum=MIN_STEPS,
                            maximum=MAX_STEPS,
                            step=1,
                            value=preset.steps,
                            elem_id="steps",
                        )
                        guidance = gr.Slider(
                            label=t("guidance"),
                            info=t("guidance_info"),
                            minimum=MIN_GUIDANCE,
                            maximum=MAX_GUIDANCE,
                            step=0.5,
                            value=DEFAULT_GUIDANCE,
                            elem_id="guidance",
                        )
                    with gr.Row():
                        width = gr.Slider(
                            label=t("width"),
                            minimum=MIN_SIDE,
                            maximum=MAX_SIDE,
                            step=SIDE_MULTIPLE,
                            value=DEFAULT_SIDE,
                            elem_id="width",
                        )
                        height = gr.Slider(
                            label=t("height"),
                            minimum=MIN_SIDE,
                            maximum=MAX_SIDE,
                            step=SIDE_MULTIPLE,
                            value=DEFAULT_SIDE,
                            elem_id="height",
                        )
                    with gr.Row():
                        seed = gr.Number(
                            label=t("seed"),
                            info=t("seed_info"),
                            value=RANDOM_SEED,
                            minimum=RANDOM_SEED,
                            maximum=MAX_SEED,
                            precision=0,
                            scale=3,
                            elem_id="seed",
                        )
                        with gr.Column(scale=2, min_width=140):
                            dice = gr.Button(t("dice"), size="sm", elem_id="dice")
                            recycle = gr.Button(t("recycle"), size="sm", elem_id="recycle")
                        scheduler = gr.Dropdown(
                            label=t("scheduler"),
                            choices=[(spec.label, spec.id) for spec in SCHEDULERS.values()],
                            value=preset.scheduler,
                            scale=3,
                            elem_id="scheduler",
                        )
                    with gr.Row():
                        glossary = gr.Textbox(
                            label=t("glossary"),
                            info=t("glossary_info"),
                            lines=4,
                            max_lines=8,
                            scale=4,
                            elem_id="glossary",
                        )
                        save_glossary = gr.Button(t("save_glossary"), scale=1)
                progress = gr.Markdown(elem_id="progress")
                with gr.Row():
                    preview = gr.Image(
                        label=t("preview"),
                        format="png",
                        interactive=False,
                        height=256,
                        scale=1,
                        elem_id="preview",
                    )
                    gallery = gr.Gallery(
                        label=t("gallery"),
                        format="png",
                        columns=2,
                        height="auto",
                        interactive=False,
                        scale=3,
                        elem_id="gallery",
                    )
                info = gr.Markdown(elem_id="info")

            with gr.Tab(t("tab_info"), id="info"):
                with gr.Row():
                    info_file = gr.File(
                        label=t("info_upload"),
                        file_types=[".png", ".jpg", ".jpeg", ".webp"],
                        type="filepath",
                        elem_id="info-file",
                    )
                    with gr.Column():
                        info_text = gr.Textbox(
                            label=t("info_parameters"),
                            lines=8,
                            interactive=False,
                            elem_id="info-parameters",
                        )
                        send = gr.Button(t("send_to_generate"), elem_id="send-to-generate")
                info_fields = gr.State(None)

            with gr.Tab(t("tab_history"), id="history") as history_tab:
                with gr.Row():
                    search = gr.Textbox(label=t("search"), scale=4, elem_id="history-search")
                    refresh = gr.Button(t("refresh"), scale=1, elem_id="history-refresh")
                history_gallery = gr.Gallery(
                    label=t("history_gallery"),
                    format="png",
                    columns=6,
                    height="auto",
                    interactive=False,
                    allow_preview=False,
                    elem_id="history-gallery",
                )
                history_ids = gr.State([])
                selected = gr.State(None)
                with gr.Row():
                    details = gr.Textbox(
                        label=t("history_details"),
                        lines=5,
                        interactive=False,
                        scale=4,
                        elem_id="history-details",
                    )
                    with gr.Column(scale=1):
                        restore = gr.Button(t("restore"), elem_id="history-restore")
                        delete = gr.Button(t("delete"), variant="stop", elem_id="history-delete")

        # -- wiring ----------------------------------------------------------------------
        form = [prompt, negative_prompt, steps, guidance, width, height, seed, scheduler]
        private = {"queue": False, "api_visibility": "private"}
        demo.load(state.status_line, outputs=status, **private)
        demo.load(state.glossary_text, outputs=glossary, **private)
        prompt.change(
            state.show_translation,
            inputs=prompt,
            outputs=translation_row,
            show_progress="hidden",
            **private,
        )
        prompt.input(lambda: "", outputs=english_prompt, show_progress="hidden", **private)
        translate.click(
            state.translate,
            inputs=prompt,
            outputs=english_prompt,
            api_name="translate",
        )
        gr.on(
            triggers=[run.click, prompt.submit],
            fn=state.generate,
            inputs=[
                prompt,
                negative_prompt,
                steps,
                guidance,
                width,
                height,
                seed,
                num_images,
                scheduler,
                english_prompt,
            ],
            outputs=[progress, preview, gallery, info, last_seeds, english_prompt],
            api_name="generate",
            concurrency_limit=service.max_concurrency,
            concurrency_id="generate",
            validator=state.admit,
        )
        stop.click(state.stop, queue=False, api_name="stop")
        dice.click(handlers.new_random_seed, outputs=seed, queue=False, api_visibility="private")
        recycle.click(
            handlers.reuse_seed,
            inputs=last_seeds,
            outputs=seed,
            queue=False,
            api_visibility="private",
        )
        preset_choice.input(
            state.apply_preset,
            inputs=[preset_choice, guidance],
            outputs=[steps, scheduler, guidance],
            **private,
        )
        aspect.input(
            handlers.apply_aspect,
            inputs=aspect,
            outputs=[width, height],
            **private,
        )
        save_glossary.click(state.save_glossary, inputs=glossary, api_visibility="private")
        info_file.change(
            state.read_image_info,
            inputs=info_file,
            outputs=[info_text, info_fields],
            api_name="image_info",
        )
        send.click(
            handlers.send_to_generate,
            inputs=info_fields,
            outputs=[tabs, *form, english_prompt],
            api_visibility="private",
        )
        history_outputs = [history_gallery, history_ids]
        for trigger in (refresh.click, search.submit, history_tab.select):
            trigger(
                state.history_items,
                inputs=search,
                outputs=history_outputs,
                api_visibility="private",
            )
        history_gallery.select(
            state.select_history,
            inputs=history_ids,
            outputs=[selected, details],
            api_visibility="private",
        )
        restore.click(
            state.restore_history,
            inputs=selected,
            outputs=[tabs, *form, english_prompt],
            api_visibility="private",
        )
        state.demo = demo
        delete.click(
            state.delete_history,
            inputs=[selected, search],
            outputs=[*history_outputs, selected, details],
            api_visibility="private",
        )
        # the agent's entry point: MCP tool (and undocumented API) `generate_image`
        add_generate_image(service)
    return demo
