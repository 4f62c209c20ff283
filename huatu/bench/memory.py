"""A process's peak memory, as the benchmark measures it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def peak_rss_gib() -> float:
    """This process's peak resident set size in GiB (VmHWM, else ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_child(module: str, *args: str, what: str, timeout_s: float = 1200) -> dict[str, Any] | None:
    """Run ``python -m module args`` in a fresh process and return the JSON object on its
    last output line; ``None`` (and a line on stderr naming ``what``) when it failed."""
    command = [sys.executable, "-m", module, *args]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=True
        )
    except (subprocess.SubprocessError, OSError) as error:
        print(f"  {what} failed: {error}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_peak_rss(
    module: str, model: str, flag: bool, *, what: str, timeout_s: float = 1200
) -> float | None:
    """Peak RSS (GiB) of ``python -m module model 0|1`` in a fresh process, read from the
    ``peak_rss_gib`` of the JSON it prints; ``None`` when it failed."""
    found = run_child(module, model, str(int(flag)), what=what, timeout_s=timeout_s)
    return None if found is None else found["peak_rss_gib"]


def compared(base: float | None, other: float | None, goal: float) -> dict[str, Any]:
    """``other`` against ``base``: their ``ratio`` and whether it is ``within_goal``
    (``None`` for both when a measurement is missing)."""
    ratio = None if not base or other is None else other / base
    return {"ratio": ratio, "within_goal": None if ratio is None else ratio <= goal}
