"""The studio: the tutorial's last app (prompt and button on top, advanced options collapsed
in an accordion, the image below), plus seed, sampler and a line saying what is running.

Layout and wiring only; generation goes through :func:`huatu.ui.common.run_generation`.
"""

from __future__ import annotations

import gradio as gr

from huatu.messages import Notice, render
from huatu.request import (
    DEFAULT_GUIDANCE,
    DEFAULT_SIDE,
    DEFAULT_STEPS,
    MAX_GUIDANCE,
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
from huatu.ui.common import request_language, run_generation, status_markdown

TITLE = "画图 huatu · 基于 Stable Diffusion 的图像生成"


def build_studio(service: ImageService) -> gr.Blocks:
    """Build the studio app around ``service``; its main function is API name ``/generate``."""

    def generate(
        prompt: str,
        negative_prompt: str = "",
        steps: float = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        width: float = DEFAULT_SIDE,
        height: float = DEFAULT_SIDE,
        seed: float = RANDOM_SEED,
        scheduler: str = "dpmpp_2m_karras",
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str, str]:
        """Generate one image from a text prompt with Stable Diffusion.

        Args:
            prompt: what to draw, in English, up to 1,000 characters.
            negative_prompt: what to avoid.
            steps: denoising steps, an integer 1-100.
            guidance: how strongly the prompt steers the image, 0-20.
            width: width in pixels, 64-1024, a multiple of 8.
            height: height in pixels, 64-1024, a multiple of 8.
            seed: -1 for random, else 0 to 4294967295.
            scheduler: sampler id (dpmpp_2m_karras, dpmpp_2m, euler_a, euler, ddim, pndm).

        Returns:
            The PNG file (with its generation parameters embedded) and a line giving the seed.
        """
        language = request_language(request)
        result = run_generation(
            service,
            {
                "prompt": prompt,
                "negative_prompt": negative_prompt,
                "num_inference_steps": steps,
                "guidance_scale": guidance,
                "width": width,
                "height": height,
                "seed": seed,
                "scheduler": scheduler,
            },
            progress=progress,
            language=language,
        )
        seeds = ", ".join(str(seed) for seed in result.seeds)
        lines = [render(Notice("seed_used", {"seeds": seeds}), language)]
        lines += [f"⚠️ {render(notice, language)}" for notice in result.notices]
        return str(result.paths[0]), "  \n".join(lines)

    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}")
        gr.Markdown(status_markdown(service, "zh-CN"), elem_id="status")
        with gr.Row():
            with gr.Column(scale=4):
                prompt = gr.Textbox(label="你的提示", max_length=1000, elem_id="prompt")
            with gr.Column(scale=1, min_width=50):
                button = gr.Button("提交", variant="primary", elem_id="submit")
        with gr.Accordion("高级选项", open=False, elem_id="advanced"):
            negative_prompt = gr.Textbox(label="负面提示", value="", max_length=1000)
            with gr.Row():
                with gr.Column():
                    steps = gr.Slider(
                        label="推理步长（Inference Steps）",
                        minimum=MIN_STEPS,
                        maximum=MAX_STEPS,
                        step=1,
                        value=DEFAULT_STEPS,
                        info="去噪器将分几步对图像进行去噪？",
                        elem_id="steps",
                    )
                    guidance = gr.Slider(
                        label="文字的引导程度",
                        minimum=MIN_GUIDANCE,
                        maximum=MAX_GUIDANCE,
                        step=0.5,
                        value=DEFAULT_GUIDANCE,
                        info="控制文字提示对结果的影响程度",
                    )
                with gr.Column():
                    width = gr.Slider(
                        label="宽",
                        minimum=MIN_SIDE,
                        maximum=MAX_SIDE,
                        step=SIDE_MULTIPLE,
                        value=DEFAULT_SIDE,
                    )
                    height = gr.Slider(
                        label="高",
                        minimum=MIN_SIDE,
                        maximum=MAX_SIDE,
                        step=SIDE_MULTIPLE,
                        value=DEFAULT_SIDE,
                    )
            with gr.Row():
                seed = gr.Number(
                    label="种子（-1 为随机）",
                    value=RANDOM_SEED,
                    minimum=RANDOM_SEED,
                    maximum=MAX_SEED,
                    precision=0,
                )
                scheduler = gr.Dropdown(
                    label="采样器",
                    choices=[(spec.label, spec.id) for spec in SCHEDULERS.values()],
                    value="dpmpp_2m_karras",
                )
        output = gr.Image(label="结果", format="png", type="filepath", elem_id="result")
        info = gr.Markdown(elem_id="info")
        inputs = [prompt, negative_prompt, steps, guidance, width, height, seed, scheduler]
        gr.on(
            triggers=[button.click, prompt.submit],
            fn=generate,
            inputs=inputs,
            outputs=[output, info],
            api_name="generate",
            concurrency_limit=service.max_concurrency,
        )
    return demo
