"""Benchmark of huatu's local backend on the SD 1.5 architecture with random weights.

Run it with ``python -m huatu.bench`` (``--quick`` for a short run) or ``make bench``.
torch and diffusers are imported lazily, by the functions that need them.
"""
