"""The studio's tabs, laid out: Generate, Image info, History, Settings (and the model choice
above them).

Each function lays out one tab inside the current ``gr.Tabs`` and returns its components by
name (:data:`Parts`); the generate form's components are named as :data:`huatu.ui.form.INPUTS`
names them. Every label is a ``gr.I18n`` key (:mod:`huatu.catalog.ui`), every limit and
default the validator's own. Wiring is in :mod:`huatu.ui.studio`.
"""

from __future__ import annotations

import gradio as gr

from huatu.presets import DEFAULT_PRESET, QUALITY_PRESETS, aspects_for, default_form
from huatu.request import (
    MAX_GUIDANCE,
    MAX_IMAGES,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MIN_GUIDANCE,
    MIN_IMAGES,
    MIN_SIDE,
    MIN_STEPS,
    RANDOM_SEED,
    RUN_OPTIONS,
    SIDE_MULTIPLE,
)
from huatu.schedulers import SCHEDULERS
from huatu.service import ImageService
from huatu.ui.i18n import t
from huatu.ui.modes import mode_controls, mode_switch

#: A tab's components by name.
Parts = dict[str, gr.blocks.Block]


def model_choice(service: ImageService) -> gr.Dropdown:
    """The model choice above the tabs, shown when the backend names models to switch to
    (the models folders' checkpoints with family and size, the hosted models Inference
    Providers serve, recommended models to download), the current model first; a backend
    that runs local files also takes a Hub id typed in (downloaded when chosen)."""
    choices = service.model_items()
    return gr.Dropdown(
        choices=choices,
        value=service.choice.model if choices else None,
        label=t("model_choice"),
        info=t("model_choice_info"),
        visible=bool(choices),
        allow_custom_value=service.runs_local_files,
        elem_id="model-choice",
    )


def vae_choice(service: ImageService) -> gr.Dropdown:
    """The VAE choice beside the model's: the model's own (``Automatic``) or a VAE of the
    models folders' ``VAE/``; shown when there are any and the backend takes them."""
    names = service.vae_names() if service.capabilities.vae_override else []
    return gr.Dropdown(
        choices=[(t("vae_automatic"), ""), *[(name, name) for name in names]],
        value=service.vae_name or "",
        label=t("vae_choice"),
        visible=bool(names),
        elem_id="vae-choice",
    )


def generate_tab(service: ImageService) -> Parts:
    """The Generate tab: the mode switch, prompt and buttons, the translation box, the mode's
    own controls, presets, the advanced options in an accordion; progress, preview and
    results beside them.

    Args:
        service: its backend's presets set the form's starting steps, sampler and guidance.
    """
    with gr.Tab(t("tab_generate"), id="generate"), gr.Row(equal_height=False):
        # controls on the left, pictures on the right (one column on a narrow screen)
        with gr.Column(scale=5, min_width=420, elem_id="controls"):
            parts: Parts = {"mode": mode_switch()}
            parts |= prompt_row()
            parts |= lora_row(service)
            parts |= translation_row()
            parts |= mode_controls()
            parts |= choices_row(service)
            with gr.Accordion(t("advanced"), open=False, elem_id="advanced"):
                parts |= advanced_options(service)
        with gr.Column(scale=6, min_width=420, elem_id="pictures"):
            parts |= results()
    return parts


def prompt_row() -> Parts:
    """The prompt, with Generate and Stop beside it."""
    with gr.Row():
        with gr.Column(scale=4):
            prompt = gr.Textbox(
                label=t("prompt"),
                placeholder=t("prompt_placeholder"),
                max_length=MAX_PROMPT_CHARS,
                lines=2,
                elem_id="prompt",
            )
        with gr.Column(scale=1, min_width=120):
            run = gr.Button(t("generate"), variant="primary", elem_id="generate")
            stop = gr.Button(t("stop"), variant="stop", elem_id="stop")
    return {"prompt": prompt, "run": run, "stop": stop}


def lora_row(service: ImageService) -> Parts:
    """The prompt's token count ("23/75") and the LoRA picker (shown when the models folders
    hold LoRAs), which writes ``<lora:name:1>`` into the prompt."""
    with gr.Row(equal_height=True):
        tokens = gr.Markdown("", elem_id="token-count")
        loras = service.lora_names()
        lora = gr.Dropdown(
            choices=loras,
            value=None,
            label=t("lora_picker"),
            info=t("lora_picker_info"),
            visible=bool(loras),
            elem_id="lora-picker",
        )
    return {"tokens": tokens, "lora": lora}


def translation_row() -> Parts:
    """The editable English translation, shown while the prompt needs one."""
    with gr.Row(visible=False, elem_id="translation-row") as row:
        english_prompt = gr.Textbox(
            value="",
            label=t("translation"),
            info=t("translation_info"),
            max_length=MAX_PROMPT_CHARS,
            scale=4,
            elem_id="english-prompt",
        )
        translate = gr.Button(t("translate"), scale=1, elem_id="translate")
    note = gr.Markdown(visible=True, elem_id="translation-note")  # why nothing was translated
    return {
        "translation_row": row,
        "english_prompt": english_prompt,
        "translate": translate,
        "translation_note": note,
    }


def choices_row(service: ImageService) -> Parts:
    """Quality preset, size (the loaded model family's sizes) and number of images."""
    aspects = aspects_for(service.capabilities.family)
    with gr.Row():
        preset = gr.Radio(
            label=t("preset"),
            choices=[(t(f"preset_{preset_id}"), preset_id) for preset_id in QUALITY_PRESETS],
            value=DEFAULT_PRESET,
            elem_id="preset",
        )
        aspect = gr.Dropdown(
            label=t("aspect"),
            choices=[(aspect.label, aspect.id) for aspect in aspects],
            value=aspects[0].id,
            elem_id="aspect",
        )
        num_images = gr.Slider(
            label=t("num_images"),
            minimum=MIN_IMAGES,
            maximum=MAX_IMAGES,
            step=1,
            value=MIN_IMAGES,
            elem_id="num-images",
        )
    return {"preset": preset, "aspect": aspect, "num_images": num_images}


def advanced_options(service: ImageService) -> Parts:
    """Negative prompt, steps, guidance, size, seed (with dice and recycle), sampler, and step
    caching where the backend has it; steps, sampler and guidance start as the default preset
    sets them, and "Faster" too."""
    capabilities = service.capabilities
    steps, scheduler, guidance, caches = default_form(
        capabilities.presets, can_cache=capabilities.step_cache
    )
    parts: Parts = {
        "negative_prompt": gr.Textbox(
            label=t("negative_prompt"),
            info=t("negative_prompt_info"),
            value="",
            max_length=MAX_PROMPT_CHARS,
            elem_id="negative-prompt",
        )
    }
    with gr.Row():
        parts["steps"] = gr.Slider(
            label=t("steps"),
            info=t("steps_info"),
            minimum=MIN_STEPS,
            maximum=MAX_STEPS,
            step=1,
            value=steps,
            elem_id="steps",
        )
        parts["guidance"] = gr.Slider(
            label=t("guidance"),
            info=t("guidance_info"),
            minimum=MIN_GUIDANCE,
            maximum=MAX_GUIDANCE,
            step=0.5,
            value=guidance,
            elem_id="guidance",
        )
    default = aspects_for(service.capabilities.family)[0]
    with gr.Row():
        for side, value in (("width", default.width), ("height", default.height)):
            parts[side] = gr.Slider(
                label=t(side),
                minimum=MIN_SIDE,
                maximum=MAX_SIDE,
                step=SIDE_MULTIPLE,
                value=value,
                elem_id=side,
            )
    with gr.Row():
        parts["seed"] = gr.Number(
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
            parts["dice"] = gr.Button(t("dice"), size="sm", elem_id="dice")
            parts["recycle"] = gr.Button(t("recycle"), size="sm", elem_id="recycle")
        parts["scheduler"] = gr.Dropdown(
            label=t("scheduler"),
            choices=[(spec.label, spec.id) for spec in SCHEDULERS.values()],
            value=scheduler,
            scale=3,
            elem_id="scheduler",
        )
    with gr.Row():
        for option in RUN_OPTIONS:
            parts[option] = gr.Checkbox(
                label=t(option),
                info=t(f"{option}_info"),
                value=caches if option == "step_cache" else False,
                visible=getattr(capabilities, option),
                elem_id=option.replace("_", "-"),
            )
    return parts


def settings_tab() -> Parts:
    """The Settings tab: the translation glossary, editable."""
    with gr.Tab(t("tab_settings"), id="settings"), gr.Row():
        glossary = gr.Textbox(
            label=t("glossary"),
            info=t("glossary_info"),
            lines=8,
            max_lines=16,
            scale=4,
            elem_id="glossary",
        )
        save = gr.Button(t("save_glossary"), scale=1, elem_id="save-glossary")
    return {"glossary": glossary, "save_glossary": save}


def results() -> Parts:
    """The progress line, the latent preview, the images and what to know about them."""
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
    with gr.Row():
        send_img2img = gr.Button(t("send_img2img"), size="sm", elem_id="send-img2img")
        send_inpaint = gr.Button(t("send_inpaint"), size="sm", elem_id="send-inpaint")
    info = gr.Markdown(elem_id="info")
    used = gr.Image(  # the source picture and its mask, beside what was made from them
        label=t("used_source"),
        format="png",
        interactive=False,
        visible=False,
        height=200,
        elem_id="used-source",
    )
    return {
        "progress": progress,
        "preview": preview,
        "gallery": gallery,
        "send_img2img": send_img2img,
        "send_inpaint": send_inpaint,
        "info": info,
        "used": used,
        "last_seeds": gr.State([]),
        "picked": gr.State(None),  # the gallery picture last clicked, for "Send to …"
    }


def info_tab() -> Parts:
    """The Image-info tab: drop a PNG, read its parameters, send them to the form."""
    with gr.Tab(t("tab_info"), id="info"):
        with gr.Row():
            file = gr.File(
                label=t("info_upload"),
                file_types=[".png", ".jpg", ".jpeg", ".webp"],
                type="filepath",
                elem_id="info-file",
            )
            with gr.Column():
                parameters = gr.Textbox(
                    label=t("info_parameters"),
                    lines=8,
                    interactive=False,
                    elem_id="info-parameters",
                )
                send = gr.Button(t("send_to_generate"), elem_id="send-to-generate")
                with gr.Row():
                    send_img2img = gr.Button(t("send_img2img"), elem_id="info-send-img2img")
                    send_inpaint = gr.Button(t("send_inpaint"), elem_id="info-send-inpaint")
        fields = gr.State(None)  # the parsed request fields, for "Send to Generate"
    return {
        "file": file,
        "parameters": parameters,
        "send": send,
        "send_img2img": send_img2img,
        "send_inpaint": send_inpaint,
        "fields": fields,
    }


def history_tab() -> Parts:
    """The History tab: search, the saved images, an entry's details, restore and delete."""
    with gr.Tab(t("tab_history"), id="history") as tab:
        with gr.Row():
            search = gr.Textbox(label=t("search"), scale=4, elem_id="history-search")
            refresh = gr.Button(t("refresh"), scale=1, elem_id="history-refresh")
        gallery = gr.Gallery(
            label=t("history_gallery"),
            format="png",
            columns=6,
            height="auto",
            interactive=False,
            allow_preview=False,
            elem_id="history-gallery",
        )
        ids = gr.State([])  # the entries' ids, in the gallery's order
        selected = gr.State(None)  # the selected entry's id
        with gr.Row():
            details = gr.Textbox(
                label=t("history_details"),
                lines=5,
                interactive=False,
                scale=4,
                elem_id="history-details",
            )
            sources = gr.Gallery(
                label=t("history_sources"),
                columns=2,
                height=160,
                visible=False,
                interactive=False,
                scale=2,
                elem_id="history-sources",
            )
            with gr.Column(scale=1):
                restore = gr.Button(t("restore"), elem_id="history-restore")
                send_img2img = gr.Button(t("send_img2img"), elem_id="history-send-img2img")
                send_inpaint = gr.Button(t("send_inpaint"), elem_id="history-send-inpaint")
                delete = gr.Button(t("delete"), variant="stop", elem_id="history-delete")
    return {
        "tab": tab,
        "search": search,
        "refresh": refresh,
        "gallery": gallery,
        "ids": ids,
        "selected": selected,
        "details": details,
        "sources": sources,
        "restore": restore,
        "send_img2img": send_img2img,
        "send_inpaint": send_inpaint,
        "delete": delete,
    }
