"""The safetensors diff reads headers only: checked on a real local blob store that counts
every byte it hands out."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
from safetensors.numpy import save

from repohub.compare.tensors import diff_tensors, read_tensors
from repohub.objects.blobstore.local import LocalBlobStore
from repohub.objects.lfs import BlobLfsStorage


class CountingStore:
    """A real LocalBlobStore that records the ranges asked for and the bytes actually read."""

    def __init__(self, inner: LocalBlobStore) -> None:
        self.inner = inner
        self.ranges: list[tuple[str, int, int | None]] = []
        self.bytes_read = 0

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> BinaryIO:
        self.ranges.append((key, start, end))
        stream = self.inner.open(key, start=start, end=end)
        data = stream.read()
        stream.close()
        self.bytes_read += len(data)
        return io.BytesIO(data)


def _weights(tensors: dict[str, np.ndarray]) -> bytes:
    return save(tensors, metadata={"format": "pt"})


OLD = {
    "conv.weight": np.zeros((16, 3, 3, 3), dtype=np.float32),
    "conv.bias": np.zeros((16,), dtype=np.float32),
    "fc.weight": np.zeros((10, 256), dtype=np.float32),
    "fc.bias": np.zeros((10,), dtype=np.float32),
    "old_head.weight": np.zeros((4, 4), dtype=np.float32),
    "big.weight": np.ones((512, 512), dtype=np.float32),
}
NEW = {
    "conv.weight": np.zeros((32, 3, 3, 3), dtype=np.float32),  # reshaped
    "conv.bias": np.zeros((32,), dtype=np.float32),  # reshaped
    "fc.weight": np.zeros((10, 256), dtype=np.float16),  # retyped
    "fc.bias": np.zeros((10,), dtype=np.float32),  # unchanged
    "new_head.weight": np.zeros((8, 10), dtype=np.float32),  # added
    "big.weight": np.ones((512, 512), dtype=np.float32),
}


@pytest.fixture
def store(tmp_path: Path) -> tuple[CountingStore, BlobLfsStorage]:
    counting = CountingStore(LocalBlobStore(tmp_path / "blobs"))
    return counting, BlobLfsStorage(counting)  # type: ignore[arg-type]


def _put(lfs: BlobLfsStorage, data: bytes) -> str:
    oid = hashlib.sha256(data).hexdigest()
    lfs.receive(oid, len(data), io.BytesIO(data))
    return oid


def test_tensor_diff_reads_only_the_headers(store: tuple[CountingStore, BlobLfsStorage]) -> None:
    counting, lfs = store
    old_bytes, new_bytes = _weights(OLD), _weights(NEW)
    old_oid, new_oid = _put(lfs, old_bytes), _put(lfs, new_bytes)
    counting.ranges.clear()

    def reader(oid: str):  # type: ignore[no-untyped-def]
        return lambda start, end: lfs.open(oid, start=start, end=end)

    before = read_tensors(reader(old_oid), len(old_bytes))
    after = read_tensors(reader(new_oid), len(new_bytes))
    found = diff_tensors(before, after)

    assert [t["name"] for t in found["added"]] == ["new_head.weight"]
    assert found["added"][0] == {"name": "new_head.weight", "dtype": "F32", "shape": [8, 10]}
    assert [t["name"] for t in found["removed"]] == ["old_head.weight"]
    assert found["reshaped"] == [
        {"name": "conv.bias", "old_shape": [16], "new_shape": [32]},
        {"name": "conv.weight", "old_shape": [16, 3, 3, 3], "new_shape": [32, 3, 3, 3]},
    ]
    assert found["retyped"] == [{"name": "fc.weight", "old_dtype": "F32", "new_dtype": "F16"}]
    assert found["unchanged"] == 2  # fc.bias, big.weight
    assert found["params_before"] == sum(int(a.size) for a in OLD.values())
    assert found["params_after"] == sum(int(a.size) for a in NEW.values())

    headers = {}
    for data in (old_bytes, new_bytes):
        headers[hashlib.sha256(data).hexdigest()] = 8 + int.from_bytes(data[:8], "little")
    assert counting.bytes_read == sum(headers.values())
    assert counting.bytes_read < (len(old_bytes) + len(new_bytes)) / 100
    for key, start, end in counting.ranges:
        oid = key.rsplit("/", 1)[-1]
        assert end is not None and end <= headers[oid], (key, start, end)
    assert len(counting.ranges) == 4  # two ranged reads per file: length, then header
