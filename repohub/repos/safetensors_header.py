"""What a `.safetensors` file holds, read from its header alone.

The format starts with 8 bytes (little-endian u64 N) and N bytes of JSON naming each
tensor's dtype, shape and byte offsets. Two ranged reads (8 bytes, then N) describe a
file of any size: a 10 GB checkpoint costs a few kilobytes of I/O, never the weights.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

from repohub.errors import Unprocessable
from repohub.repos.context import Hub
from repohub.repos.files import FileEntry, open_bytes

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the format's own limit (safetensors refuses larger)
SHOWN_TENSORS = 500


class InvalidSafetensors(Unprocessable):
    """The bytes do not start with a readable safetensors header."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def parameters(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class SafetensorsSummary:
    tensors: list[TensorInfo]  # the first SHOWN_TENSORS, in name order
    tensor_count: int
    parameters: int
    parameters_by_dtype: dict[str, int]
    metadata: dict[str, str]
    header_bytes: int

    @property
    def truncated(self) -> bool:
        return self.tensor_count > len(self.tensors)


def header_length(prefix: bytes, file_size: int) -> int:
    if len(prefix) != 8:
        raise InvalidSafetensors("the file is shorter than a safetensors header")
    (length,) = struct.unpack("<Q", prefix)
    if length < 2 or length > MAX_HEADER_BYTES or 8 + length > file_size:
        raise InvalidSafetensors(f"implausible safetensors header length {length}")
    return length


def _tensor(name: str, info: Any) -> TensorInfo:
    if not isinstance(info, dict):
        raise InvalidSafetensors(f"tensor {name!r} is not described by an object")
    shape = info.get("shape")
    dtype = info.get("dtype")
    if not isinstance(dtype, str) or not isinstance(shape, list):
        raise InvalidSafetensors(f"tensor {name!r} lacks a dtype or a shape")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InvalidSafetensors(f"tensor {name!r} has an invalid shape")
    return TensorInfo(name, dtype, tuple(shape))


def parse_header(raw: bytes) -> SafetensorsSummary:
    """Summarise the JSON header (without its 8-byte length prefix)."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidSafetensors(f"the safetensors header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise InvalidSafetensors("the safetensors header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    tensors = sorted((_tensor(str(k), v) for k, v in header.items()), key=lambda t: t.name)
    by_dtype: dict[str, int] = {}
    for t in tensors:
        by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + t.parameters
    return SafetensorsSummary(
        tensors=tensors[:SHOWN_TENSORS],
        tensor_count=len(tensors),
        parameters=sum(by_dtype.values()),
        parameters_by_dtype=dict(sorted(by_dtype.items(), key=lambda kv: -kv[1])),
        metadata={str(k): str(v)[:500] for k, v in meta.items()} if isinstance(meta, dict) else {},
        header_bytes=len(raw),
    )


def read_summary(hub: Hub, entry: FileEntry) -> SafetensorsSummary:
    """Read the header of `entry` (an LFS object or a git blob) with two ranged reads."""
    with open_bytes(hub, entry, start=0, end=8) as stream:
        length = header_length(stream.read(8), entry.size)
    with open_bytes(hub, entry, start=8, end=8 + length) as stream:
        raw = stream.read(length)
    if len(raw) != length:
        raise InvalidSafetensors("the file ended inside its safetensors header")
    return parse_header(raw)
