"""A tensor-level diff of two `.safetensors` files, read from their headers alone.

Only the 8-byte length prefix and the JSON header are ever requested from storage (two
ranged reads per file), so comparing two 10 GB checkpoints costs a few kilobytes of I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, BinaryIO

from repohub.repos.safetensors_header import InvalidSafetensors, header_length

Tensors = dict[str, tuple[str, tuple[int, ...]]]
OpenRange = Callable[[int, int], BinaryIO]


def read_tensors(open_range: OpenRange, size: int) -> Tensors:
    """Every tensor's (dtype, shape); `open_range(start, end)` reads bytes [start, end)."""
    with open_range(0, 8) as stream:
        length = header_length(stream.read(8), size)
    with open_range(8, 8 + length) as stream:
        raw = stream.read(length)
    if len(raw) != length:
        raise InvalidSafetensors("the file ended inside its safetensors header")
    return parse_tensors(raw)


def parse_tensors(raw: bytes) -> Tensors:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidSafetensors(f"the safetensors header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise InvalidSafetensors("the safetensors header is not a JSON object")
    found: Tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info.get("dtype") if isinstance(info, dict) else None
        shape = info.get("shape") if isinstance(info, dict) else None
        if not isinstance(dtype, str) or not isinstance(shape, list):
            raise InvalidSafetensors(f"tensor {name!r} lacks a dtype or a shape")
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise InvalidSafetensors(f"tensor {name!r} has an invalid shape")
        found[str(name)] = (dtype, tuple(shape))
    return found


def _params(tensors: Tensors) -> int:
    return sum(math.prod(shape) for _, shape in tensors.values())


def diff_tensors(old: Tensors, new: Tensors) -> dict[str, Any]:
    """Added, removed, reshaped and retyped tensors (a tensor may be both), in name order."""
    both = sorted(old.keys() & new.keys())
    return {
        "added": [
            {"name": n, "dtype": new[n][0], "shape": list(new[n][1])}
            for n in sorted(new.keys() - old.keys())
        ],
        "removed": [
            {"name": n, "dtype": old[n][0], "shape": list(old[n][1])}
            for n in sorted(old.keys() - new.keys())
        ],
        "reshaped": [
            {"name": n, "old_shape": list(old[n][1]), "new_shape": list(new[n][1])}
            for n in both
            if old[n][1] != new[n][1]
        ],
        "retyped": [
            {"name": n, "old_dtype": old[n][0], "new_dtype": new[n][0]}
            for n in both
            if old[n][0] != new[n][0]
        ],
        "unchanged": sum(1 for n in both if old[n] == new[n]),
        "params_before": _params(old),
        "params_after": _params(new),
    }
