"""Choose the torch device and dtype for local generation, and say why."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from huatu.messages import Notice, Quoted

DTYPES = ("float16", "bfloat16", "float32")
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class DevicePlan:
    """Where and in which precision the local pipeline runs.

    Attributes:
        device: ``"cuda"``, ``"mps"`` or ``"cpu"``.
        dtype: ``"float16"``, ``"bfloat16"`` or ``"float32"``.
        reason: why, for people: a catalog notice (``device_reason_*``).
    """

    device: str
    dtype: str
    reason: Notice

    @property
    def short(self) -> str:
        """``"cpu bf16"``-style label."""
        names = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}
        return f"{self.device} {names[self.dtype]}"


def cpu_supports_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU has native bf16 matrix support (AVX512-BF16 or AMX-BF16).

    Args:
        cpuinfo: the file listing CPU flags. Default ``/proc/cpuinfo`` (Linux); where it does
            not exist the answer is ``False`` and huatu uses fp32 on the CPU.
    """
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[-1].split())
            return any(flag in flags for flag in _BF16_CPU_FLAGS)
    return False


def gpu_available() -> bool:
    """Whether torch sees a CUDA or Apple MPS device (imports torch)."""
    import torch

    return torch.cuda.is_available() or torch.backends.mps.is_available()


def choose_device(device: str | None = None, dtype: str | None = None) -> DevicePlan:
    """Pick device and dtype: CUDA fp16; Apple MPS fp16; CPU bf16 where supported, else fp32.

    Args:
        device: force a device (``cuda``, ``mps``, ``cpu``). Default: the best available.
        dtype: force a dtype (one of :data:`DTYPES`). Default: the best for the device.

    Raises:
        DeviceError: an unknown or unavailable device, or an unknown dtype.
    """
    import torch

    from huatu.errors import DeviceError

    if dtype is not None and dtype not in DTYPES:
        raise DeviceError("dtype_unknown", choices=", ".join(DTYPES), dtype=Quoted(dtype))
    if device is None:
        if torch.cuda.is_available():
            device = "cuda"
        elif torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device_no_cuda")
    elif device == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("device_no_mps")
    elif device not in ("cuda", "mps", "cpu"):
        raise DeviceError("device_unknown", device=Quoted(device))

    if dtype is not None:
        return DevicePlan(device, dtype, Notice("device_reason_dtype_set"))
    if device == "cuda":
        name = torch.cuda.get_device_name(0)
        return DevicePlan(device, "float16", Notice("device_reason_cuda", {"name": name}))
    if device == "mps":
        return DevicePlan(device, "float16", Notice("device_reason_mps"))
    if cpu_supports_bf16():
        return DevicePlan(device, "bfloat16", Notice("device_reason_bf16"))
    return DevicePlan(device, "float32", Notice("device_reason_fp32"))
