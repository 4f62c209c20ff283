"""Peak memory of the editing modes against text to image alone (part of ``make bench``).

The image-to-image and inpainting pipelines share the loaded pipeline's weights
(``from_pipe``), so using them should cost little memory. Each measurement runs in a fresh
subprocess (nothing else has touched the heap): load the model, run text to image — and in
the second run also image to image and inpainting — then read the peak resident set size.
Models: the built-in tiny model and the SD 1.5 architecture with random weights
(:mod:`huatu.bench.architecture`). The goal: with editing, within 10% of text to image alone.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

#: Size and steps of each run, per model (small: the weights, not the activations, matter).
RUNS = {"tiny": (64, 4), "sd15": (256, 2)}
#: The goal: peak RSS with editing at most this times text to image alone.
GOAL_RATIO = 1.10


def editing_child(model: str, edits: bool) -> dict[str, Any]:
    """In this (fresh) process: load ``model``, run text to image (and, with ``edits``,
    image to image and inpainting on the same weights), return the peak RSS in GiB."""
    import torch
    from PIL import Image

    from huatu.backends.editing import EditingPipelines
    from huatu.bench.memory import peak_rss_gib

    side, steps = RUNS[model]
    with tempfile.TemporaryDirectory() as scratch:
        pipe = _pipeline(model, Path(scratch))
    generator = torch.Generator("cpu").manual_seed(0)
    common = {"prompt": "a lighthouse", "num_inference_steps": steps, "generator": generator}
    made = pipe(width=side, height=side, **common).images[0]
    if edits:
        pipes = EditingPipelines(pipe)
        pipes.img2img(image=made, strength=0.6, **common)
        mask = Image.new("L", made.size, 0)
        mask.paste(255, (side // 4, side // 4, side * 3 // 4, side * 3 // 4))
        pipes.inpaint(image=made, mask_image=mask, width=side, height=side, **common)
    return {"model": model, "edits": edits, "peak_rss_gib": peak_rss_gib()}


def _pipeline(model: str, scratch: Path) -> Any:
    if model == "sd15":
        from huatu.bench.architecture import build_pipeline

        return build_pipeline(scratch)
    from diffusers import StableDiffusionPipeline

    from huatu.backends.tiny import ensure_tiny_model
    from huatu.config import load_settings

    folder = ensure_tiny_model(load_settings(dotenv=False).cache_dir)
    pipe = StableDiffusionPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def measure(model: str, edits: bool, timeout_s: float = 1200) -> float | None:
    """Peak RSS (GiB) of one :func:`editing_child` run in a fresh subprocess."""
    from huatu.bench.memory import child_peak_rss

    what = f"editing memory of {model}"
    return child_peak_rss(
        "huatu.bench.editing_memory", model, edits, what=what, timeout_s=timeout_s
    )


def measure_editing_memory(models: tuple[str, ...] = ("tiny", "sd15")) -> dict[str, Any]:
    """For each model: peak RSS of text to image alone, with editing too, and their ratio."""
    from huatu.bench.memory import compared

    found: dict[str, Any] = {}
    for model in models:
        alone, edited = measure(model, False), measure(model, True)
        found[model] = {
            "txt2img_gib": alone,
            "with_editing_gib": edited,
            **compared(alone, edited, GOAL_RATIO),
        }
        print(f"  editing memory {model}: {found[model]}", flush=True)
    return found


if __name__ == "__main__":  # one measurement, for measure()
    print(json.dumps(editing_child(sys.argv[1], sys.argv[2] == "1")), flush=True)
