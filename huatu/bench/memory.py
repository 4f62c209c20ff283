"""A process's peak memory, as the benchmark measures it."""

from __future__ import annotations

from pathlib import Path


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
