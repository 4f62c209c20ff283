"""The CPU classes the benchmark reports on, one result file per class.

The machines huatu runs on differ in what makes a model fast: AMX (Intel: bf16 matrix tiles),
AVX512-BF16 without AMX (AMD Zen 4), AVX2 only (AMD Zen 3, most laptops and older servers).
``make bench`` writes ``bench/results/<class>.json`` for the class it ran on and keeps the
other classes' files; :func:`classes_table` shows every class, measured or not — a class
never run on says "not measured", never an estimate.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: The classes, fastest first, with what the README calls them.
CPU_CLASSES: dict[str, str] = {
    "amx": "AMX-BF16 (Intel Sapphire Rapids and later)",
    "avx512bf16": "AVX512-BF16, no AMX (AMD Zen 4)",
    "avx2": "AVX2 only: no AVX-512, no bf16 (AMD Zen 3, most laptops)",
}


def cpu_class(flags: Iterable[str]) -> str:
    """The class of a CPU with these ``/proc/cpuinfo`` flags (``other`` below AVX2)."""
    found = set(flags)
    if "amx_bf16" in found:
        return "amx"
    if "avx512_bf16" in found:
        return "avx512bf16"
    return "avx2" if "avx2" in found else "other"


def write_class_result(result: dict[str, Any], results_dir: Path) -> Path:
    """Write ``result`` as its class's file in ``results_dir`` (the other classes' files are
    left as they are); return the path."""
    name = result["machine"].get("class") or cpu_class(result["machine"].get("cpu_flags", ()))
    path = Path(results_dir) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def classes_table(results_dir: Path) -> str:
    """A Markdown table of every class: its date, CPU, the 20-step image of plain diffusers
    fp32, of huatu-default and of huatu-default with step caching (ratios to plain), and the
    Fast images (one-step family, LCM at 4 steps) — or "not measured"."""
    lines = [
        "| CPU class | measured | CPU | plain fp32 20-step s | huatu-default s | speed-up "
        "| + caching s | speed-up | Fast 1-step s | Fast LCM 4-step s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in CPU_CLASSES.items():
        path = Path(results_dir) / f"{name}.json"
        if not path.is_file():
            lines.append(f"| {label} | not measured |" + " — |" * 8)
            continue
        result = json.loads(path.read_text(encoding="utf-8"))
        cases = {case["name"]: case for case in result.get("cases", [])}
        base = _image(cases, "baseline")
        default, cached = _image(cases, "huatu-default"), _image(cases, "huatu-default+caching")
        machine = result["machine"]
        kind = "quick" if machine.get("quick") else "full"
        lines.append(
            f"| {label} | {machine['date'][:10]} ({kind}) | {machine['cpu']}, "
            f"{machine['cores']} cores | {_seconds(base)} | {_seconds(default)} "
            f"| {_ratio(base, default)} | {_seconds(cached)} | {_ratio(base, cached)} "
            f"| {_seconds(cases.get('huatu-fast-1step', {}).get('image_s'))} "
            f"| {_seconds(cases.get('huatu-fast', {}).get('image_s'))} |"
        )
    return "\n".join(lines)


def _image(cases: dict[str, dict[str, Any]], name: str) -> tuple[float, bool] | None:
    """A case's 20-step image seconds and whether they were estimated (quick runs)."""
    case = cases.get(name, {})
    if case.get("image_20_steps_s") is None:
        return None
    return case["image_20_steps_s"], "image_20_steps_s" in case.get("estimated_fields", ())


def _ratio(base: tuple[float, bool] | None, other: tuple[float, bool] | None) -> str:
    if not base or not other:
        return "—"
    return ("~" if base[1] or other[1] else "") + f"{base[0] / other[0]:.2f}×"


def _seconds(value: float | tuple[float, bool] | None) -> str:
    """``12.3``, ``~12.3`` for an estimate, ``—`` for nothing."""
    if value is None:
        return "—"
    if isinstance(value, tuple):
        return ("~" if value[1] else "") + f"{value[0]:.1f}"
    return f"{value:.1f}"
