"""Where a run happens: device choice, threads, and what a report records about it."""

from __future__ import annotations

import platform
import resource
import sys
from typing import Any

import torch
import torchvision


def pick_device() -> torch.device:
    """The GPU when the worker has one, the CPU otherwise: the spec does not have to say."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def describe(device: torch.device) -> dict[str, Any]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": sys.version.split()[0],
        "device": device.type,
        "device_name": name or platform.machine(),
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def peak_memory_bytes() -> int:
    """This process's peak resident set (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
