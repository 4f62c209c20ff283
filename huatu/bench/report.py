"""The benchmark's report: what the machine is, the speed-ups, the Markdown table, the JSON."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any

#: Result fields and their column labels, in table order.
FIELDS = (
    ("unet_cfg_step_s", "UNet step+CFG s"),
    ("unet_step_s", "UNet step (b1) s"),
    ("vae_decode_s", "decode s"),
    ("text_encode_s", "text s"),
    ("image_20_steps_s", "20-step image s"),
    ("image_s", "image s"),
    ("peak_rss_gib", "peak RSS GiB"),
    ("unet_rel_l2_vs_fp32", "rel L2 vs fp32"),
    ("compile_s", "compile s"),
)


#: The CPU flags that decide speed, recorded beside every run.
SPEED_FLAGS = frozenset({"avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})


def machine_info(quick: bool) -> dict[str, Any]:
    """CPU model, cores, library versions, date: what the numbers depend on."""
    import diffusers
    import torch
    import transformers

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    from huatu.bench.classes import cpu_class

    return {
        "cpu": model,
        "class": cpu_class(flags),
        "cpu_flags": sorted(flags & SPEED_FLAGS),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
    }


def speedups(cases: list[dict[str, Any]]) -> dict[str, float | None]:
    """baseline ÷ huatu-default for the UNet step and the 20-step image, and baseline ÷
    huatu-default+caching for the 20-step image (``None`` where a case was not run)."""
    by_name = {case["name"]: case for case in cases}
    base = by_name.get("baseline", {})

    def ratio(case: str, field: str) -> float | None:
        value = by_name.get(case, {}).get(field)
        return round(base[field] / value, 2) if base.get(field) and value else None

    return {
        "unet_cfg_step": ratio("huatu-default", "unet_cfg_step_s"),
        "image_20_steps": ratio("huatu-default", "image_20_steps_s"),
        "image_20_steps_caching": ratio("huatu-default+caching", "image_20_steps_s"),
    }


def format_table(result: dict[str, Any]) -> str:
    """The result as a Markdown table (estimated values marked ``~``) plus the speedups."""
    cases = result["cases"]
    fields = [(key, label) for key, label in FIELDS if any(c.get(key) is not None for c in cases)]
    lines = [
        "| case | " + " | ".join(label for _, label in fields) + " |",
        "|---|" + "---:|" * len(fields),
    ]
    for case in cases:
        cells = []
        for key, _ in fields:
            value = case.get(key)
            if value is None:
                cells.append("—")
                continue
            text = f"{value:.4f}" if key == "unet_rel_l2_vs_fp32" else f"{value:.2f}"
            if key in case.get("estimated_fields", ()):
                text = "~" + text
            cells.append(text)
        lines.append(f"| {case['name']} | " + " | ".join(cells) + " |")
    speed = result.get("speedup", {})
    lines.append("")
    lines.append(
        "speedup over the baseline (huatu-default; _caching: huatu-default+caching): "
        + ", ".join(f"{key} {value}×" for key, value in speed.items() if value is not None)
    )
    if any(case.get("estimated") for case in cases):
        lines.append(
            "~ estimated (quick mode): text encode + 20 × UNet step + decode; with caching, "
            "7 full and 13 cached steps"
        )
    batching = result.get("batching")
    if batching:
        lines.append(
            f"batching {batching['images']} queued images ({batching['case']}): UNet step per "
            f"image {batching['unet_cfg_step_per_image_one_by_one_s']:.2f} s one by one, "
            f"{batching['unet_cfg_step_per_image_batched_s']:.2f} s batched → "
            f"{batching['images_per_minute_gain']}× images per minute"
        )
    for model, memory in (result.get("editing_memory") or {}).items():
        if memory.get("ratio") is not None:
            lines.append(
                f"editing on the loaded weights ({model}): peak RSS {memory['txt2img_gib']:.2f} "
                f"GiB text to image alone, {memory['with_editing_gib']:.2f} GiB with image to "
                f"image and inpainting too → {memory['ratio']:.3f}×"
            )
    cache = result.get("step_cache")
    if cache:
        merging = cache.get("token_merging_ratio")
        merged = f", token merging {merging}" if merging else ""
        lines.append(
            f"step caching (DeepCache, interval {cache['interval']}{merged}, huatu-default): "
            f"UNet CFG step {cache['unet_cfg_step_s']:.2f} s full, "
            f"{cache['cached_step_s']:.2f} s cached ({cache['step_ratio']:.2f}×); "
            f"20-step image ~{cache['image_s']:.1f} s → "
            f"~{cache['image_cached_s']:.1f} s ({cache['image_speedup']:.2f}×, computed from the "
            f"measured steps; goal for the default {cache['goal_speedup']}×)"
        )
    for model, memory in (result.get("switch_memory") or {}).items():
        if memory.get("ratio") is not None:
            lines.append(
                f"model switch ({model}, two copies): peak RSS {memory['load_gib']:.2f} GiB for "
                f"one load, {memory['load_and_switch_gib']:.2f} GiB loading one then switching "
                f"to the other → {memory['ratio']:.3f}× (the old model is released first)"
            )
    app = result.get("app")
    if app:
        lines.append(
            f"app (tiny model, through gradio_client): {app['overhead_ms']:.0f} ms per request "
            f"over the bare pipeline ({app['pipeline_direct_ms']:.0f} → "
            f"{app['through_app_ms']:.0f} ms; a Gradio call that runs no model: "
            f"{app.get('gradio_call_without_model_ms', 0):.0f} ms); first image "
            f"{app['first_request_s']:.1f} s after `huatu serve` starts"
        )
    ray = result.get("ray")
    if ray:
        per_minute = ray["images_per_minute"]
        lines.append(
            f"Ray Serve (tiny model, {ray['steps']} steps at {ray['size']}², local Ray "
            f"instance): {ray['added_latency_ms']:.0f} ms added per request ({ray['local_ms']:.0f}"
            f" → {ray['ray_ms']:.0f} ms); images per minute with {ray['clients']} clients: "
            f"local {per_minute['local']:.0f}, 1 replica {per_minute['ray_1']:.0f}, 2 replicas "
            f"{per_minute['ray_2']:.0f} ({ray['two_over_one_replica']:.2f}× one replica)"
        )
    return "\n".join(lines)


def write_result(result: dict[str, Any], out: Path) -> Path:
    """Write ``result`` as indented JSON to ``out`` (folders created)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out
