"""Xorb and shard bytes in blob storage, under content-addressed keys.

A xorb is spooled to local disk while every chunk is re-hashed, and only a verified xorb is
stored (on local blobs the spooled file is linked into place, on S3 it goes up as a
multi-threaded upload), so a body whose bytes do not match its hash never becomes readable
and memory stays near one chunk per upload however many arrive at once.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

from repohub.objects.blobstore import BlobStore
from repohub.objects.xet.hashes import to_hex
from repohub.objects.xet.reconstruction import Piece, Plan, iter_plan
from repohub.objects.xet.xorbs import XorbIndex, iter_raw_chunks, verify_xorb


def xorb_key(xorb_hex: str) -> str:
    return f"xet/xorbs/{xorb_hex[:2]}/{xorb_hex}"


def shard_key(sha256_hex: str) -> str:
    return f"xet/shards/{sha256_hex[:2]}/{sha256_hex}"


class RecentXorbs:
    """Recently uploaded xorbs kept on local disk when the blobs live in S3.

    A commit rebuilds every new Xet file to check its sha256 right after its xorbs arrive,
    and the first downloads follow soon after: reading those bytes back from S3 cost as much
    S3 CPU as storing them. Files are immutable and named by hash, linked in atomically, and
    the oldest go first once the directory holds more than `max_bytes`; a reader that has a
    file open keeps reading it after eviction.
    """

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def keep(self, xorb_hex: str, path: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / xorb_hex
        with contextlib.suppress(FileExistsError):
            os.link(path, target)
        self._evict()

    def open(self, xorb_hex: str, start: int, end: int) -> BinaryIO | None:
        try:
            file = (self.root / xorb_hex).open("rb")
        except FileNotFoundError:
            return None
        file.seek(start)
        return cast(BinaryIO, _Limited(file, end - start))

    def _evict(self) -> None:
        entries = []
        for entry in os.scandir(self.root):
            with contextlib.suppress(FileNotFoundError):
                info = entry.stat()
                entries.append((info.st_mtime, info.st_size, entry.path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                Path(path).unlink()
            total -= size


class _Limited(io.RawIOBase):
    """At most `length` bytes of a file from where it stands."""

    def __init__(self, file: BinaryIO, length: int) -> None:
        self._file = file
        self._left = length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        n = self._left if size is None or size < 0 else min(size, self._left)
        data = self._file.read(n)
        self._left -= len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


class XetStore:
    def __init__(
        self,
        blobs: BlobStore,
        spool_dir: Path,
        *,
        max_xorb_bytes: int,
        recent: RecentXorbs | None = None,
    ) -> None:
        self.blobs = blobs
        self.spool_dir = spool_dir
        self.max_xorb_bytes = max_xorb_bytes
        self.recent = recent

    def receive_xorb(self, expected: bytes, stream: BinaryIO) -> XorbIndex:
        """Verify the body against `expected` (its hash) while spooling it, then store it."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.spool_dir, prefix="xorb-") as spool:
            sink = cast(BinaryIO, spool)
            index = verify_xorb(stream, expected, sink, max_bytes=self.max_xorb_bytes)
            spool.flush()
            self.blobs.put_file(xorb_key(to_hex(expected)), spool.name)
            if self.recent is not None:
                self.recent.keep(to_hex(expected), spool.name)
        return index

    def has_xorb(self, xorb_hex: str) -> bool:
        return self.blobs.head(xorb_key(xorb_hex)) is not None

    def save_shard(self, sha256_hex: str, data: bytes) -> None:
        """Keep a registered shard as uploaded: the record of what a client asserted."""
        self.blobs.put(shard_key(sha256_hex), io.BytesIO(data), size=len(data), sha256=sha256_hex)

    def open_range(self, xorb_hex: str, start: int, end: int) -> BinaryIO:
        """Stored bytes [start, end) of a xorb: a whole number of chunks, headers included."""
        if self.recent is not None:
            local = self.recent.open(xorb_hex, start, end)
            if local is not None:
                return local
        return self.blobs.open(xorb_key(xorb_hex), start=start, end=end)

    def raw_chunks(self, piece: Piece, index: XorbIndex) -> Iterator[bytes]:
        """The decoded chunks of one piece, read one chunk range from storage."""
        start, end = index.byte_range(piece.chunk_start, piece.chunk_end)
        with self.open_range(to_hex(piece.xorb_hash), start, end) as stream:
            yield from iter_raw_chunks(stream, piece.chunk_end - piece.chunk_start)

    def reader(self, plan: Plan, indexes: dict[bytes, XorbIndex]) -> BinaryIO:
        """A file object over the planned range, decoding chunk by chunk as it is read."""

        def chunks() -> Iterator[bytes]:
            for piece in plan.pieces:
                yield from self.raw_chunks(piece, indexes[piece.xorb_hash])

        return cast(BinaryIO, _GeneratorReader(iter_plan(plan, chunks())))


class _GeneratorReader(io.RawIOBase):
    """`read(n)` over a generator of byte strings; closing it closes the generator (and so
    the storage stream it holds open)."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._left:
            part = next(self._parts, None)
            if part is None:
                return 0
            self._left = memoryview(part)
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if not self._left:
            part = next(self._parts, None)
            if part is None:
                return b""
            self._left = memoryview(part)
        out = bytes(self._left[:size])
        self._left = self._left[size:]
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            close = getattr(self._parts, "close", None)
            if close is not None:
                close()
        super().close()
