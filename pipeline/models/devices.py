"""Device and dtype: parsed from config strings, checked against this machine, never implicit."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pipeline.errors import BackendUnavailableError

if TYPE_CHECKING:
    import torch

DTYPES = ("float32", "float16", "bfloat16")
_DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N`` or ``mps`` -> torch.device; unavailable -> BackendUnavailableError."""
    import torch

    if not _DEVICE.match(name):
        raise ValueError(f"device must be cpu, cuda, cuda:N or mps, got {name!r}")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BackendUnavailableError(f"device {name!r} requested but CUDA is not available here")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise BackendUnavailableError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    if name == "mps" and not torch.backends.mps.is_available():
        raise BackendUnavailableError("device 'mps' requested but MPS is not available here")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``float32|float16|bfloat16`` -> torch.dtype. Half precision needs a GPU (ValueError on CPU)."""
    import torch

    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {name!r}")
    if device.type == "cpu" and name != "float32":
        raise ValueError(f"dtype {name!r} needs a GPU; use dtype float32 on the CPU (device {device})")
    if name == "bfloat16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise BackendUnavailableError(f"bfloat16 is not supported on {torch.cuda.get_device_name(device)}")
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def generator_device(device: torch.device) -> str:
    """Where seeded generators live: the device for CUDA, the CPU otherwise (MPS has no generator)."""
    return str(device) if device.type == "cuda" else "cpu"
