"""Peak memory of a model switch against loading one model (part of ``make bench``).

A switch releases the loaded model before the next one loads
(:mod:`huatu.models.switching`), so it should need about the memory of one model, not two.
Each measurement runs in a fresh subprocess: start the service on model ``a`` of a models
folder — and in the second run switch it to model ``b`` — then read the peak resident set
size. Models: two copies of the built-in tiny model, and two copies of the SD 1.5
architecture with random weights (:mod:`huatu.bench.architecture`, saved once as diffusers
folders under huatu's cache, 2 × 4.3 GB). The goal: a switch within 20% of one load.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

#: The goal: peak RSS of load + switch at most this times one load.
GOAL_RATIO = 1.20
#: The two models of each folder.
MODELS = ("a", "b")


def models_folder(model: str, cache_dir: Path) -> Path:
    """A models folder holding two copies of ``model`` (``tiny`` or ``sd15``) as
    ``Stable-diffusion/a`` and ``/b``, made once under ``cache_dir``."""
    root = Path(cache_dir) / f"bench-switch-{model}"
    checkpoints = root / "Stable-diffusion"
    if all((checkpoints / name / "model_index.json").is_file() for name in MODELS):
        return root
    shutil.rmtree(root, ignore_errors=True)
    if model == "sd15":
        from huatu.bench.architecture import build_pipeline

        with tempfile.TemporaryDirectory() as scratch:
            pipe = build_pipeline(Path(scratch))
            del pipe.taesd  # not a pipeline component
            pipe.save_pretrained(checkpoints / "a")
    else:
        from huatu.backends.tiny import ensure_tiny_model

        shutil.copytree(ensure_tiny_model(cache_dir), checkpoints / "a")
    shutil.copytree(checkpoints / "a", checkpoints / "b")  # real copies: no shared pages
    return root


def switch_child(model: str, switch: bool) -> dict[str, Any]:
    """In this (fresh) process: start the service on ``a`` of ``model``'s folder and make one
    small image (so every weight is in memory, as in use), and with ``switch`` switch to
    ``b`` and make one with it too; return the peak RSS in GiB and the model loaded."""
    from dataclasses import replace

    from huatu.bench.memory import peak_rss_gib
    from huatu.config import load_settings
    from huatu.service import ImageService

    settings = load_settings(dotenv=False)
    settings = replace(settings, models_dir=models_folder(model, settings.cache_dir))
    from huatu.request import GenerationRequest

    service = ImageService.start(settings, model="a", backend="local", keep_history=False)
    if service.backend is None:
        raise RuntimeError(str(service.load_error))
    small = GenerationRequest.create(
        prompt="a lighthouse", width=64, height=64, seed=1, num_inference_steps=1
    )
    service.generate(small, save=False)
    if switch:
        service.switch_model("b")
        service.generate(small, save=False)
    return {"model": service.choice.model, "peak_rss_gib": peak_rss_gib()}


def measure(model: str, switch: bool, timeout_s: float = 1200) -> float | None:
    """Peak RSS (GiB) of one :func:`switch_child` run in a fresh subprocess."""
    from huatu.bench.memory import child_peak_rss

    what = f"switch memory of {model}"
    return child_peak_rss(
        "huatu.bench.switch_memory", model, switch, what=what, timeout_s=timeout_s
    )


def measure_switch_memory(models: tuple[str, ...] = ("tiny", "sd15")) -> dict[str, Any]:
    """For each model: peak RSS of one load, of a load and a switch, and their ratio."""
    from huatu.bench.memory import compared
    from huatu.config import load_settings

    cache_dir = load_settings(dotenv=False).cache_dir
    found: dict[str, Any] = {}
    for model in models:
        models_folder(model, cache_dir)  # made here, not inside the measured processes
        loaded, switched = measure(model, False), measure(model, True)
        found[model] = {
            "load_gib": loaded,
            "load_and_switch_gib": switched,
            **compared(loaded, switched, GOAL_RATIO),
        }
        print(f"  switch memory {model}: {found[model]}", flush=True)
    return found


if __name__ == "__main__":  # one measurement, for measure()
    print(json.dumps(switch_child(sys.argv[1], sys.argv[2] == "1")), flush=True)
