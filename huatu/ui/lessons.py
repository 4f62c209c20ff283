"""The tutorial's four apps, faithful to it, ported to Gradio 6.

Same controls, ranges, defaults, examples, Chinese labels, title and description as the
tutorial; only what Gradio 6 changed is changed (``flagging_mode="never"`` instead of
``allow_flagging``; PNG output instead of Gradio 6's default WebP). Each app exposes its
function as API name ``/generate`` with the tutorial's inputs in the tutorial's order, and
generates through :class:`huatu.service.ImageService` instead of the tutorial's
``get_completion``, so the same validation and backends apply.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr
from PIL.Image import Image

from huatu.service import ImageService
from huatu.ui.common import request_language, run_generation, status_markdown

TITLE = "基于 Stable Diffusion 的图片生成"
DESCRIPTION = "基于 Stable Diffusion 生成任意图片"
BLOCKS_TITLE = "# 基于 Stable Diffusion 的图像生成"
EXAMPLES = [
    "the spirit of a tamagotchi wandering in the city of Vienna",
    "a mecha robot in a favela",
]


def _advanced_generate(service: ImageService) -> Callable[..., Image]:
    """The tutorial's ``generate(prompt, negative_prompt, steps, guidance, width, height)``."""

    def generate(
        prompt: str,
        negative_prompt: str,
        steps: float,
        guidance: float,
        width: float,
        height: float,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),
    ) -> Image:
        """Draw `prompt` avoiding `negative_prompt`, with `steps` denoising steps, guidance
        `guidance` (1-20) and a `width` x `height` size (64-512, multiples of 64)."""
        # the tutorial's names are the studio's short names (huatu.fields.FORM)
        values = dict(
            prompt=prompt,
            negative_prompt=negative_prompt,
            steps=steps,
            guidance=guidance,
            width=width,
            height=height,
        )
        result = run_generation(
            service,
            values,
            progress=progress,
            language=request_language(request),
            save=False,
        )
        return result.images[0]

    return generate


def _steps_slider() -> gr.Slider:
    return gr.Slider(
        label="推理步长（Inference Steps）",
        minimum=1,
        maximum=100,
        value=25,
        info="去噪器将分几步对图像进行去噪？",
    )


def _guidance_slider() -> gr.Slider:
    return gr.Slider(
        label="文字的引导程度", minimum=1, maximum=20, value=7, info="控制文字提示对结果的影响程度"
    )


def _side_slider(label: str) -> gr.Slider:
    return gr.Slider(label=label, minimum=64, maximum=512, step=64, value=512)


def _wire(service: ImageService, button: gr.Button, inputs: list, output: gr.Image) -> None:
    """``button.click`` → the tutorial's advanced ``generate``, as API name ``/generate``."""
    button.click(
        fn=_advanced_generate(service),
        inputs=inputs,
        outputs=[output],
        api_name="generate",
        concurrency_limit=service.max_concurrency,
    )


def build_basic(service: ImageService) -> gr.Interface:
    """Lesson 1: a prompt box, an image, two examples (``gr.Interface``)."""

    def generate(
        prompt: str, request: gr.Request = None, progress: gr.Progress = gr.Progress()
    ) -> Image:
        """Draw `prompt` (English) with Stable Diffusion; returns a 512x512 PNG."""
        result = run_generation(
            service,
            {"prompt": prompt},
            progress=progress,
            language=request_language(request),
            save=False,
        )
        return result.images[0]

    return gr.Interface(
        fn=generate,
        inputs=[gr.Textbox(label="你的提示")],
        outputs=[gr.Image(label="结果", format="png")],
        title=TITLE,
        description=f"{DESCRIPTION}\n\n{status_markdown(service)}",
        flagging_mode="never",
        examples=EXAMPLES,
        api_name="generate",
        concurrency_limit=service.max_concurrency,
    )


def build_advanced(service: ImageService) -> gr.Interface:
    """Lesson 2: negative prompt, steps, guidance, width and height (``gr.Interface``)."""
    return gr.Interface(
        fn=_advanced_generate(service),
        inputs=[
            gr.Textbox(label="你的提示"),
            gr.Textbox(label="负面提示"),
            _steps_slider(),
            _guidance_slider(),
            _side_slider("宽"),
            _side_slider("高"),
        ],
        outputs=[gr.Image(label="Result", format="png")],
        title=TITLE,
        description=f"{DESCRIPTION}\n\n{status_markdown(service)}",
        flagging_mode="never",
        api_name="generate",
        concurrency_limit=service.max_concurrency,
    )


def build_blocks(service: ImageService) -> gr.Blocks:
    """Lesson 3: the same controls laid out with rows and columns (``gr.Blocks``)."""
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(BLOCKS_TITLE)
        gr.Markdown(status_markdown(service))
        prompt = gr.Textbox(label="你的提示")
        with gr.Row():
            with gr.Column():
                negative_prompt = gr.Textbox(label="负面提示")
                steps = _steps_slider()
                guidance = _guidance_slider()
                width = _side_slider("宽")
                height = _side_slider("高")
                btn = gr.Button("Submit")
            with gr.Column():
                output = gr.Image(label="Result", format="png")
        _wire(service, btn, [prompt, negative_prompt, steps, guidance, width, height], output)
    return demo


def build_accordion(service: ImageService) -> gr.Blocks:
    """Lesson 4: prompt and button on top, advanced options in a collapsed accordion."""
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(BLOCKS_TITLE)
        gr.Markdown(status_markdown(service))
        with gr.Row():
            with gr.Column(scale=4):
                prompt = gr.Textbox(label="你的提示")
            with gr.Column(scale=1, min_width=50):
                btn = gr.Button("提交")
        with gr.Accordion("高级选项", open=False):
            negative_prompt = gr.Textbox(label="负面提示")
            with gr.Row():
                with gr.Column():
                    steps = _steps_slider()
                    guidance = _guidance_slider()
                with gr.Column():
                    width = _side_slider("宽")
                    height = _side_slider("高")
        output = gr.Image(label="结果", format="png")
        _wire(service, btn, [prompt, negative_prompt, steps, guidance, width, height], output)
    return demo


BUILDERS: dict[str, Callable[[ImageService], gr.Blocks]] = {
    "basic": build_basic,
    "advanced": build_advanced,
    "blocks": build_blocks,
    "accordion": build_accordion,
}


def build_lesson(name: str, service: ImageService) -> gr.Blocks:
    """Build lesson ``name`` (a key of :data:`BUILDERS`) around ``service``."""
    return BUILDERS[name](service)
