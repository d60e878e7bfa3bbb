"""Pack generation for upload-pack that reuses stored object representations.

Stock dulwich inflates every object it sends and deflates it again: most of the cost
of serving a clone. A pack entry does not depend on where it sits, except for an
OFS_DELTA's distance back to its base, so entries are copied byte for byte from the
packs that store them. Only delta headers are ever rewritten, and only a delta whose
base the client will not have is resolved and recompressed.

Entries are sent pack by pack in source offset order, so an OFS_DELTA's base (always
earlier in its pack) is written before it. Stored packs must be self-contained (thin
packs are completed before they are stored): then the first pack holding an object
also holds its delta base, so choosing each object from the first pack that has it
can never produce a delta cycle.
"""

from __future__ import annotations

import hashlib
import mmap
import threading
import zlib
from array import array
from binascii import hexlify, unhexlify
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from dulwich.object_format import SHA1
from dulwich.pack import OFS_DELTA, REF_DELTA, Pack, pack_object_header, write_pack_header

__all__ = ["CHUNK_SIZE", "PackLayout", "PackStats", "RawObjectSource", "pack_layout", "write_pack"]

CHUNK_SIZE = 1 << 20
"""Size of the pieces handed to ``write``: a 1 GB blob goes out in bounded pieces."""

_SHA_LEN = 20
_HEADER_PEEK = 32  # 10-byte size varint + 20-byte REF base, or two varints
_LAYOUT_CACHE_SIZE = 64
_SCAN_RATIO = 16  # scan a pack's layout rather than look objects up one by one

Write = Callable[[bytes | memoryview], object]


class RawObjectSource(Protocol):
    """What ``write_pack`` needs from a fallback store (dulwich object stores fit)."""

    def __contains__(self, sha: bytes) -> bool: ...

    def get_raw(self, sha: bytes) -> tuple[int, bytes]: ...


@dataclass(frozen=True, slots=True)
class PackStats:
    """What a ``write_pack`` call did.

    ``reused`` entries kept their stored compressed bytes; ``deltas_rewritten`` of those
    needed a new header (a new OFS distance, or OFS turned into REF); ``inflated``
    entries were resolved and compressed afresh. ``objects == reused + inflated``.
    """

    objects: int
    bytes: int
    reused: int
    deltas_rewritten: int
    inflated: int


@dataclass(frozen=True, slots=True)
class PackLayout:
    """Entry boundaries of one pack, in file order.

    An index maps sha to offset only; copying an entry also needs where it ends (the
    next entry's offset), and turning an OFS_DELTA into a REF_DELTA needs offset to sha.
    """

    offsets: array[int]
    shas: bytes
    data_end: int

    def end_of(self, offset: int) -> int:
        """Return the offset just past the entry starting at ``offset``."""
        i = bisect_right(self.offsets, offset)
        return self.offsets[i] if i < len(self.offsets) else self.data_end

    def sha_at(self, offset: int) -> bytes:
        """Return the binary sha of the entry starting at ``offset``."""
        i = bisect_left(self.offsets, offset)
        if i == len(self.offsets) or self.offsets[i] != offset:
            raise KeyError(offset)
        return self.shas[i * _SHA_LEN : (i + 1) * _SHA_LEN]


_layouts: OrderedDict[bytes, PackLayout] = OrderedDict()
_layouts_lock = threading.Lock()


def pack_layout(pack: Pack) -> PackLayout:
    """Return the (cached) layout of ``pack``.

    Packs are immutable, so a layout keyed by the pack checksum never goes stale and
    is computed once per process instead of once per fetch.
    """
    key = pack.get_stored_checksum()
    with _layouts_lock:
        layout = _layouts.get(key)
        if layout is not None:
            _layouts.move_to_end(key)
            return layout
    layout = _build_layout(pack)
    with _layouts_lock:
        _layouts[key] = layout
        while len(_layouts) > _LAYOUT_CACHE_SIZE:
            _layouts.popitem(last=False)
    return layout


def _build_layout(pack: Pack) -> PackLayout:
    entries = sorted((offset, sha) for sha, offset, _crc in pack.index.iterentries())
    return PackLayout(
        offsets=array("Q", [offset for offset, _sha in entries]),
        shas=b"".join(sha for _offset, sha in entries),
        data_end=Path(pack.data.path).stat().st_size - _SHA_LEN,
    )


@dataclass(frozen=True, slots=True)
class _EntryHeader:
    type_num: int
    size: int
    length: int
    base: int | bytes | None  # OFS distance, REF base sha, or None


def _parse_header(buf: bytes) -> _EntryHeader:
    """Decode an entry header without touching its zlib stream."""
    byte = buf[0]
    type_num, size, shift, pos = (byte >> 4) & 7, byte & 15, 4, 1
    while byte & 0x80:
        byte = buf[pos]
        size |= (byte & 0x7F) << shift
        shift, pos = shift + 7, pos + 1
    base: int | bytes | None = None
    if type_num == OFS_DELTA:
        byte = buf[pos]
        base, pos = byte & 0x7F, pos + 1
        while byte & 0x80:
            byte = buf[pos]
            base, pos = ((base + 1) << 7) | (byte & 0x7F), pos + 1
    elif type_num == REF_DELTA:
        base, pos = buf[pos : pos + _SHA_LEN], pos + _SHA_LEN
    return _EntryHeader(type_num, size, pos, base)


class _Output:
    """The pack being written: hashes and counts bytes, and batches copies.

    Consecutive entries copied from one pack form one run, sent in ``CHUNK_SIZE``
    pieces, so a full clone costs a few hundred writes rather than one per object.
    Pieces are ``bytes`` copies, never views of the mapping, so a consumer may keep
    them after the pack is closed.
    """

    def __init__(self, write: Write) -> None:
        self._write = write
        self._sha = hashlib.sha1(usedforsecurity=False)  # the pack trailer
        self.pos = 0
        self._src: mmap.mmap | None = None
        self._run_start = self._run_end = 0

    def put(self, data: bytes) -> int:
        self.flush()
        self._send(data)
        self.pos += len(data)
        return len(data)

    def copy(self, src: mmap.mmap, start: int, end: int) -> None:
        if src is not self._src or start != self._run_end:
            self.flush()
            self._src, self._run_start = src, start
        self._run_end = end
        self.pos += end - start
        while self._run_end - self._run_start >= CHUNK_SIZE:
            self._send(src[self._run_start : self._run_start + CHUNK_SIZE])
            _release(src, self._run_start, self._run_start + CHUNK_SIZE)
            self._run_start += CHUNK_SIZE

    def put_object(self, type_num: int, raw: bytes) -> None:
        self.put(bytes(pack_object_header(type_num, None, len(raw), object_format=SHA1)))
        compressor = zlib.compressobj(1)
        view = memoryview(raw)
        for start in range(0, len(view), CHUNK_SIZE):
            self.put(compressor.compress(view[start : start + CHUNK_SIZE]))
        self.put(compressor.flush())

    def flush(self) -> None:
        if self._src is not None and self._run_end > self._run_start:
            self._send(self._src[self._run_start : self._run_end])
        self._src = None
        self._run_start = self._run_end = 0

    def finish(self) -> int:
        self.flush()
        self._write(self._sha.digest())
        return self.pos + _SHA_LEN

    def _send(self, data: bytes) -> None:
        if data:
            self._sha.update(data)
            self._write(data)


def _release(src: mmap.mmap, start: int, end: int) -> None:
    """Drop pages already sent from this process's mapping.

    They stay in the page cache, but no longer count in the server's resident memory, so
    a 1 GB clone does not show up as 1 GB of RSS.
    """
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    length = (end - first) // mmap.PAGESIZE * mmap.PAGESIZE
    if length > 0:
        src.madvise(mmap.MADV_DONTNEED, first, length)


@dataclass
class _Plan:
    """Which objects go out, and from where: each once, from the first pack holding it."""

    by_pack: list[list[tuple[int, bytes]]]
    loose: list[bytes]
    sent: set[bytes]

    @property
    def count(self) -> int:
        return len(self.sent)


def _plan(
    packs: Sequence[Pack], object_ids: Iterable[bytes], fallback: RawObjectSource | None
) -> _Plan:
    """Locate every object before anything is written, so a missing one fails cleanly."""
    sent = {unhexlify(hex_sha) for hex_sha in object_ids}
    remaining = set(sent)
    by_pack = []
    for pack in packs:
        entries = _locate(pack, remaining) if remaining else []
        remaining.difference_update(sha for _offset, sha in entries)
        by_pack.append(entries)
    loose = sorted(hexlify(sha) for sha in remaining)
    for hex_sha in loose:
        if fallback is None or hex_sha not in fallback:
            raise KeyError(hex_sha)
    return _Plan(by_pack, loose, sent)


def _locate(pack: Pack, wanted: set[bytes]) -> list[tuple[int, bytes]]:
    """Return (offset, sha) of the wanted objects in ``pack``, in offset order.

    An index lookup costs about as much as scanning 15 layout entries, so when a fetch
    wants a good share of the pack (a clone) one pass over its layout is cheaper, and
    already sorted.
    """
    layout = pack_layout(pack)
    if len(wanted) * _SCAN_RATIO >= len(layout.offsets):
        shas = layout.shas
        return [
            (offset, sha)
            for i, offset in enumerate(layout.offsets)
            if (sha := shas[i * _SHA_LEN : (i + 1) * _SHA_LEN]) in wanted
        ]
    entries = []
    for sha in wanted:
        try:
            entries.append((pack.index.object_offset(sha), sha))
        except KeyError:
            continue
    return sorted(entries)


@dataclass
class _Source:
    """One source pack while its entries are copied."""

    pack: Pack
    layout: PackLayout
    data: mmap.mmap
    written: dict[int, int] = field(default_factory=dict)  # source offset -> output offset


@dataclass
class _Writer:
    """Per-call state: what the client may reference, and the counters."""

    out: _Output
    sent: set[bytes]
    client_has: Container[bytes]
    thin: bool
    ofs_delta: bool
    fallback: RawObjectSource | None
    reused: int = 0
    deltas_rewritten: int = 0
    inflated: int = 0

    def may_reference(self, base: bytes) -> bool:
        """Whether a delta on binary sha ``base`` will resolve on the client."""
        return base in self.sent or (self.thin and hexlify(base) in self.client_has)

    def write_pack_entries(self, pack: Pack, entries: list[tuple[int, bytes]]) -> None:
        with (
            Path(pack.data.path).open("rb") as f,
            mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data,
        ):
            source = _Source(pack, pack_layout(pack), data)
            for offset, sha in entries:
                source.written[offset] = self.out.pos
                self._write_entry(source, offset, sha)
            self.out.flush()  # the pending run must not outlive the mapping

    def write_loose(self, hex_sha: bytes) -> None:
        assert self.fallback is not None
        self.out.put_object(*self.fallback.get_raw(hex_sha))
        self.inflated += 1

    def _write_entry(self, source: _Source, offset: int, sha: bytes) -> None:
        if (source.data[offset] >> 4) & 7 not in (OFS_DELTA, REF_DELTA):
            self._copy(source, offset)  # most entries: no need to decode the header
            return
        head = _parse_header(source.data[offset : offset + _HEADER_PEEK])
        if head.type_num == OFS_DELTA:
            self._write_ofs_delta(source, offset, sha, head)
            return
        assert isinstance(head.base, bytes)
        if self.may_reference(head.base):
            self._copy(source, offset)
        else:
            self._inflate(source.pack, sha)

    def _write_ofs_delta(
        self, source: _Source, offset: int, sha: bytes, head: _EntryHeader
    ) -> None:
        """Keep the delta if its base reaches the client; else send the whole object."""
        assert isinstance(head.base, int)
        base_offset = offset - head.base
        if self.ofs_delta and base_offset in source.written:
            distance = self.out.pos - source.written[base_offset]
            self._copy_delta(source, offset, head, OFS_DELTA, distance)
            return
        base_sha = source.layout.sha_at(base_offset)
        if self.may_reference(base_sha):
            self._copy_delta(source, offset, head, REF_DELTA, base_sha)
        else:
            self._inflate(source.pack, sha)

    def _copy(self, source: _Source, offset: int) -> None:
        self.out.copy(source.data, offset, source.layout.end_of(offset))
        self.reused += 1

    def _copy_delta(
        self, source: _Source, offset: int, head: _EntryHeader, type_num: int, base: int | bytes
    ) -> None:
        """Copy a delta's compressed data behind a header naming its base anew."""
        header = bytes(pack_object_header(type_num, base, head.size, object_format=SHA1))
        if header == source.data[offset : offset + head.length]:
            self._copy(source, offset)
            return
        self.out.put(header)
        self.out.copy(source.data, offset + head.length, source.layout.end_of(offset))
        self.reused += 1
        self.deltas_rewritten += 1

    def _inflate(self, pack: Pack, sha: bytes) -> None:
        """Send a whole object, resolved from its delta chain."""
        try:
            type_num, raw = pack.get_raw(sha)
        except KeyError:
            if self.fallback is None:
                raise
            type_num, raw = self.fallback.get_raw(hexlify(sha))
        self.out.put_object(type_num, raw)
        self.inflated += 1


def write_pack(
    packs: Sequence[Pack],
    object_ids: Iterable[bytes],
    write: Write,
    *,
    client_has: Container[bytes] = frozenset(),
    thin: bool = False,
    ofs_delta: bool = True,
    fallback_store: RawObjectSource | None = None,
) -> PackStats:
    """Stream a pack holding ``object_ids`` (hex, duplicates allowed) to ``write``.

    Objects are taken from ``packs`` (local, self-contained packs, the first one holding
    an object wins) or else from ``fallback_store``. With ``thin``, deltas may refer to
    objects in ``client_has`` (hex); without ``ofs_delta`` the client gets REF_DELTA
    only. Raises ``KeyError`` for an object found nowhere, before writing anything.

    ``write`` receives ``bytes`` (it may keep them) of about ``CHUNK_SIZE`` at most.
    Copied entries are streamed; an object that must be inflated (its delta base will
    not reach the client, or it is loose) is held whole in memory while it is resolved.
    Git does not deltify blobs above ``core.bigFileThreshold`` (512 MiB), so big blobs
    take the streaming path.
    """
    if any(pack.object_format.oid_length != _SHA_LEN for pack in packs):
        raise ValueError("only SHA-1 packs are supported")
    plan = _plan(packs, object_ids, fallback_store)
    writer = _Writer(_Output(write), plan.sent, client_has, thin, ofs_delta, fallback_store)
    write_pack_header(writer.out.put, plan.count)
    for pack, entries in zip(packs, plan.by_pack, strict=True):
        if entries:
            writer.write_pack_entries(pack, entries)
    for hex_sha in plan.loose:
        writer.write_loose(hex_sha)
    size = writer.out.finish()
    return PackStats(
        objects=plan.count,
        bytes=size,
        reused=writer.reused,
        deltas_rewritten=writer.deltas_rewritten,
        inflated=writer.inflated,
    )
