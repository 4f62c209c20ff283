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
    fp32 and of huatu-default with their ratio, and the Fast image — or "not measured"."""
    lines = [
        "| CPU class | measured | CPU | plain fp32 20-step s | huatu-default s | speed-up "
        "| Fast image s |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for name, label in CPU_CLASSES.items():
        path = Path(results_dir) / f"{name}.json"
        if not path.is_file():
            lines.append(f"| {label} | not measured | — | — | — | — | — |")
            continue
        result = json.loads(path.read_text(encoding="utf-8"))
        cases = {case["name"]: case for case in result.get("cases", [])}
        base = cases.get("baseline", {}).get("image_20_steps_s")
        default = cases.get("huatu-default", {}).get("image_20_steps_s")
        fast = cases.get("huatu-fast", {}).get("image_s")
        ratio = f"{base / default:.2f}×" if base and default else "—"
        machine = result["machine"]
        kind = "quick" if machine.get("quick") else "full"
        lines.append(
            f"| {label} | {machine['date'][:10]} ({kind}) | {machine['cpu']}, "
            f"{machine['cores']} cores | {_seconds(base)} | {_seconds(default)} | {ratio} "
            f"| {_seconds(fast)} |"
        )
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
