"""Measure plain diffusers against huatu's local backend on the SD 1.5 architecture.

All cases run in one process, interleaved (one round over every case per repeat) so that
machine drift hits them alike. Peak memory is measured per case in a fresh subprocess (load,
one UNet step, one decode), where nothing else has touched the heap. The cases are in
:mod:`huatu.bench.cases`, the report in :mod:`huatu.bench.report`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from huatu.bench.cases import (
    GUIDANCE,
    IMAGE_SCHEDULER,
    ONEDNN_CACHE,
    PROMPT,
    QUICK_IMAGE_LIMIT_S,
    SIZE,
    STEPS,
    CaseRunner,
    build_case_pipeline,
    case_specs,
    relative_l2,
    timed,
)
from huatu.bench.classes import classes_table, write_class_result
from huatu.bench.editing_memory import measure_editing_memory
from huatu.bench.memory import peak_rss_gib, run_child
from huatu.bench.ray_serving import measure_ray
from huatu.bench.report import format_table, machine_info, speedups, write_result
from huatu.bench.switch_memory import measure_switch_memory

DEFAULT_OUT = Path("bench/results/latest.json")
#: The cases whose peak memory a quick run measures (each takes a fresh process).
QUICK_RSS_CASES = ("baseline", "huatu-default", "huatu-fast-1step")
# --------------------------------------------------------------------------- peak memory


def rss_child(name: str, compile_unet: bool) -> dict[str, Any]:
    """In this (fresh) process: build case ``name``, run one UNet step and one decode."""
    import torch

    spec = next(spec for spec in case_specs(compile_unet=True) if spec.name == name)
    with tempfile.TemporaryDirectory() as scratch:
        pipe = build_case_pipeline(spec, Path(scratch), {})
    runner = CaseRunner(spec, pipe, torch.zeros(2, 77, pipe.text_encoder.config.hidden_size))
    prompt_embeds, negative = runner.text_encode()
    runner.embeddings = (
        prompt_embeds if negative is None else torch.cat([negative, prompt_embeds])
    ).to(runner.dtype)
    runner.cached_steps() if spec.step_cache else runner.unet_step()
    runner.decode()
    return {"case": name, "peak_rss_gib": peak_rss_gib()}


def measure_peak_rss(name: str, timeout_s: float = 1200) -> float | None:
    """Peak RSS of case ``name`` in a fresh subprocess; ``None`` if it failed."""
    found = run_child(
        "huatu.bench.run", "--rss-case", name, what=f"peak RSS of {name}", timeout_s=timeout_s
    )
    return None if found is None else found["peak_rss_gib"]


# --------------------------------------------------------------------------- results


def measure_batching(runner: CaseRunner, repeats: int, images: int = 4) -> dict[str, Any]:
    """Would batching ``images`` queued requests raise throughput? Median UNet step (with
    CFG) per image, run one image at a time vs ``images`` at once, interleaved.

    Denoising is nearly all of an image's time (text encoding and decoding are per image
    either way), so ``images_per_minute_gain`` ≈ the throughput gain of batching.
    """
    runner.unet_step_batched(images)  # warm-up of the larger shapes
    single: list[float] = []
    batched: list[float] = []
    for _ in range(max(2, repeats)):
        single.append(timed(runner.unet_step)[0])
        batched.append(timed(lambda: runner.unet_step_batched(images))[0] / images)
    one, many = statistics.median(single), statistics.median(batched)
    return {
        "case": runner.spec.name,
        "images": images,
        "unet_cfg_step_per_image_one_by_one_s": round(one, 3),
        "unet_cfg_step_per_image_batched_s": round(many, 3),
        "images_per_minute_gain": round(one / many, 2),
    }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


# --------------------------------------------------------------------------- the run


def main(quick: bool, out: Path = DEFAULT_OUT, compile_unet: bool | None = None) -> dict:
    """Run the benchmark, print the table, write ``out``; return the result.

    Args:
        quick: fewer repeats; no engine candidates and no batching section; peak memory of
            :data:`QUICK_RSS_CASES` only; 20-step images end to end only where short (the
            others estimated from the measured parts and marked so); the Fast images always
            end to end. Meant to finish within 15 minutes on the slowest class (AVX2).
        out: where the JSON goes. Default ``bench/results/latest.json``.
        compile_unet: include the ``torch.compile`` case. Default: only in full runs.
    """
    os.environ.setdefault(*ONEDNN_CACHE)  # effective only if torch has not run a kernel yet
    import torch
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    started = time.perf_counter()
    compile_unet = (not quick) if compile_unet is None else compile_unet
    repeats, image_repeats = (2, 1) if quick else (5, 3)
    machine = machine_info(quick)
    specs = case_specs(compile_unet, candidates=not quick)
    print(f"huatu bench ({'quick' if quick else 'full'}): {[s.name for s in specs]}", flush=True)

    # 1. Peak memory, each case in a fresh process, before this process grows (quick: the
    # baseline, the default and the one-step Fast case).
    peak: dict[str, float | None] = {}
    for spec in specs:
        if quick and spec.name not in QUICK_RSS_CASES:
            continue
        seconds, peak[spec.name] = timed(lambda spec=spec: measure_peak_rss(spec.name))
        print(f"  peak RSS {spec.name}: {peak[spec.name]} GiB ({seconds:.0f} s)", flush=True)

    # 2. Build every case's pipeline (the caching case shares the default's modules).
    shared: dict[tuple, Any] = {}
    pipes: dict[str, Any] = {}
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for spec in specs:
            build = lambda spec=spec: build_case_pipeline(spec, Path(scratch), shared)  # noqa: E731
            seconds, pipes[spec.name] = timed(build)
            rows[spec.name] = {"name": spec.name, "build_s": round(seconds, 1)}
            print(f"  built {spec.name} in {seconds:.1f} s", flush=True)
    # The same fp32 text embeddings for every case of a model: the UNet comparison isolates
    # the UNet.
    embeddings: dict[str, Any] = {}
    for spec in specs:
        if spec.model not in embeddings:
            prompt_embeds, negative = pipes[spec.name].encode_prompt(PROMPT, "cpu", 1, True)
            embeddings[spec.model] = torch.cat([negative, prompt_embeds]).float()
    runners = {s.name: CaseRunner(s, pipes[s.name], embeddings[s.model]) for s in specs}
    # The caching case is measured by section 5b (its steps alternate full and cached).
    stepped = [spec for spec in specs if not spec.step_cache]

    # 3. Warm-up (and compile): one of everything per case; UNet outputs kept for the guard.
    outputs = {}
    for spec in stepped:
        runner, row = runners[spec.name], rows[spec.name]
        seconds, outputs[spec.name] = timed(runner.unet_step)
        if spec.compile:
            row["compile_s"] = round(seconds, 1)
        runner.decode()
        runner.text_encode()
        print(f"  warmed up {spec.name} ({seconds:.1f} s first step)", flush=True)
    for spec in stepped:
        if not spec.fast and "baseline" in outputs:
            rel = relative_l2(outputs[spec.name], outputs["baseline"])
            rows[spec.name]["unet_rel_l2_vs_fp32"] = round(rel, 5)

    # 4. Interleaved repeats: one round over every case per repeat.
    samples: dict[str, dict[str, list[float]]] = {s.name: {} for s in specs}
    for repeat in range(repeats):
        for spec in stepped:
            runner, got = runners[spec.name], samples[spec.name]
            got.setdefault("unet", []).append(timed(runner.unet_step)[0])
            got.setdefault("decode", []).append(timed(runner.decode)[0])
            got.setdefault("text", []).append(timed(runner.text_encode)[0])
        print(f"  repeat {repeat + 1}/{repeats} done", flush=True)
    for spec in stepped:
        row, got = rows[spec.name], samples[spec.name]
        row["unet_step_s" if spec.fast else "unet_cfg_step_s"] = _median(got["unet"])
        row["vae_decode_s"] = _median(got["decode"])
        row["text_encode_s"] = _median(got["text"])
        if spec.fast:
            decoder = "SDXS-512's TAESD-architecture decoder" if spec.model == "sdxs" else "TAESD"
            architecture = "SDXS-512" if spec.model == "sdxs" else "SD 1.5"
            row.update(
                steps=spec.fast_steps,
                guidance_scale=0.0 if spec.model == "sdxs" else 1.0,
                decoder=decoder,
                architecture=architecture,
            )

    # 5. Batching queued requests: 4 images' UNet step at once vs one at a time (full runs:
    # a 4-image step takes minutes on the slowest class).
    batching = None if quick else measure_batching(runners["huatu-default"], repeats)
    print(f"  batching: {batching or 'full runs only'}", flush=True)
    # 5b. Step caching (DeepCache) on huatu-default: a full step against a cached one.
    from huatu.bench.step_cache import caching_row, measure_step_cache

    step_cache = measure_step_cache(runners["huatu-default"], rows["huatu-default"], repeats, STEPS)
    print(f"  step cache: {step_cache}", flush=True)
    for spec in specs:
        if spec.step_cache:
            rows[spec.name].update(caching_row(step_cache, rows["huatu-default"]))

    # 6. End-to-end images, interleaved; in quick mode the 20-step ones only where short,
    # else estimated from the measured parts (and marked so).
    for spec in specs:
        row = rows[spec.name]
        if spec.fast:
            continue
        if spec.step_cache:
            estimate = step_cache["image_cached_s"]
        else:
            estimate = row["text_encode_s"] + STEPS * row["unet_cfg_step_s"] + row["vae_decode_s"]
        row["image_20_steps_estimate_s"] = round(estimate, 2)
        if quick and estimate > QUICK_IMAGE_LIMIT_S:
            row["image_20_steps_s"] = round(estimate, 2)
            row["estimated"] = True
            row.setdefault("estimated_fields", []).append("image_20_steps_s")
    for repeat in range(max(image_repeats, 2)):
        for spec in specs:
            row = rows[spec.name]
            # fast images are short: at least two each; the others image_repeats times
            if row.get("estimated") or (repeat >= image_repeats and not spec.fast):
                continue
            seconds = timed(runners[spec.name].image)[0]
            samples[spec.name].setdefault("image", []).append(seconds)
            print(f"  image {spec.name}: {seconds:.1f} s", flush=True)
        print(f"  image round {repeat + 1} done", flush=True)
    for spec in specs:
        row = rows[spec.name]
        if "image" in samples[spec.name]:
            key = "image_s" if spec.fast else "image_20_steps_s"
            row[key] = _median(samples[spec.name]["image"])
        found = peak.get(spec.name)
        row["peak_rss_gib"] = None if found is None else round(found, 2)

    cases = [rows[spec.name] for spec in specs]
    # 7. The app's own cost (tiny model): overhead per request and time to first image.
    from huatu.bench.app import measure_app

    app = measure_app(repeats=10 if quick else 30)
    print(f"  app: {app}", flush=True)
    # 8. Editing modes on the loaded weights: peak memory against text to image alone.
    editing_memory = measure_editing_memory()
    # 9. A model switch: peak memory against loading one model (the old one goes first).
    switch_memory = measure_switch_memory()
    # 10. Ray Serve (tiny model): the latency it adds, images per minute on 1 and 2 replicas.
    ray = measure_ray(quick)
    print(f"  ray: {ray or 'not measured (ray not installed, or the run failed)'}", flush=True)
    machine["total_s"] = round(time.perf_counter() - started, 1)
    # Other processes' load distorts timings; a high value here says to re-run.
    machine["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    result = {
        "machine": machine,
        "settings": {
            "size": SIZE,
            "steps": STEPS,
            "guidance_scale": GUIDANCE,
            "scheduler": IMAGE_SCHEDULER,
            "repeats": repeats,
            "image_repeats": image_repeats,
            "prompt": PROMPT,
        },
        "cases": cases,
        "speedup": speedups(cases),
        "batching": batching,
        "step_cache": step_cache,
        "app": app,
        "editing_memory": editing_memory,
        "switch_memory": switch_memory,
        "ray": ray,
    }
    write_result(result, out)
    class_file = write_class_result(result, out.parent)  # the other classes' files stay
    print(format_table(result))
    print(f"wrote {out} and {class_file} in {machine['total_s']:.0f} s")
    return result


def cli(argv: list[str] | None = None) -> int:
    """``python -m huatu.bench [--quick] [--out PATH] [--compile | --no-compile] [--classes]``."""
    parser = argparse.ArgumentParser(prog="python -m huatu.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (under 15 minutes)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="result JSON path")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="include the torch.compile case (default: in full runs only)",
    )
    parser.add_argument(
        "--classes",
        action="store_true",
        help="print the table of every CPU class's results (bench/results/<class>.json) and stop",
    )
    parser.add_argument("--rss-case", help=argparse.SUPPRESS)  # internal: one case, print RSS
    args = parser.parse_args(argv)
    if args.classes:
        print(classes_table(args.out.parent))
        return 0
    os.environ.setdefault(*ONEDNN_CACHE)  # before torch is imported
    if args.rss_case:
        print(json.dumps(rss_child(args.rss_case, compile_unet=True)), flush=True)
        return 0
    main(args.quick, args.out, args.compile)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
