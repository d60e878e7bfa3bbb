"""Xorb bodies: verified as they stream in, decoded chunk by chunk as they stream out.

A body is a run of chunks, each an 8-byte header (version 0, u24 stored length, u8 scheme,
u24 raw length) and its stored bytes. The server never trusts the uploader's xorb hash: it
decodes and hashes every chunk and recomputes the merkle root. Bodies reach 64 MiB and several
arrive at once, so nothing here holds more than one chunk (at most `MAX_STORED_CHUNK` bytes in,
`MAX_CHUNK` out) at a time.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import lz4.frame

from repohub.errors import InvalidArgument, PayloadTooLarge, RepoHubError
from repohub.objects.xet.hashes import HASH_SIZE, chunk_hash, to_hex, xorb_hash

MAX_CHUNK = 128 * 1024
MAX_CHUNKS = 8192
# LZ4's worst case is a little over the input (raw + 0.4% + frame headers); twice the largest
# chunk is far above that and still bounds what one hostile header can make us read at once.
MAX_STORED_CHUNK = 2 * MAX_CHUNK
HEADER_SIZE = 8
FOOTER_MAGIC = b"XETBLOB"
SCHEME_NONE, SCHEME_LZ4, SCHEME_BG4_LZ4 = 0, 1, 2

_INDEX_ENTRY = struct.Struct(f"<{HASH_SIZE}sII")


class InvalidXorb(InvalidArgument):
    """An uploaded xorb body that does not parse, decode or hash to its name."""


class XorbTooLarge(PayloadTooLarge, InvalidXorb):
    """A body over the size or chunk-count cap: a 413, and still an invalid xorb."""


class CorruptStoredXorb(RepoHubError):
    """Stored xorb bytes or their index do not decode: they were verified on the way in, so
    this is damage on our side (a 500), never the reader's fault."""


@dataclass(frozen=True)
class XorbIndex:
    """What the server keeps per xorb: chunk hashes, raw sizes and where each chunk ends in
    the stored body, so a chunk range maps to one byte range of the blob."""

    hash: bytes
    chunk_hashes: tuple[bytes, ...]
    raw_sizes: tuple[int, ...]
    ends: tuple[int, ...]

    @property
    def raw_bytes(self) -> int:
        return sum(self.raw_sizes)

    @property
    def stored_bytes(self) -> int:
        return self.ends[-1]

    def byte_range(self, start: int, end: int) -> tuple[int, int]:
        """Stored bytes [first, last_exclusive) of chunks [start, end), headers included."""
        if not 0 <= start < end <= len(self.ends):
            raise InvalidArgument(
                f"chunks [{start}, {end}) are outside xorb {to_hex(self.hash)}, "
                f"which has {len(self.ends)} chunks"
            )
        return (self.ends[start - 1] if start else 0), self.ends[end - 1]

    def pack(self) -> bytes:
        """32-byte xorb hash, then per chunk its hash, u32 raw size and u32 end offset."""
        return self.hash + b"".join(
            _INDEX_ENTRY.pack(*entry)
            for entry in zip(self.chunk_hashes, self.raw_sizes, self.ends, strict=True)
        )

    @classmethod
    def unpack(cls, data: bytes) -> XorbIndex:
        body = len(data) - HASH_SIZE
        if body <= 0 or body % _INDEX_ENTRY.size or body // _INDEX_ENTRY.size > MAX_CHUNKS:
            raise CorruptStoredXorb(f"a packed xorb index of {len(data)} bytes is damaged")
        entries = list(_INDEX_ENTRY.iter_unpack(data[HASH_SIZE:]))
        previous = 0
        for _hash, raw, end in entries:
            if not 0 < raw <= MAX_CHUNK or end <= previous + HEADER_SIZE:
                raise CorruptStoredXorb(
                    f"the packed index of xorb {to_hex(data[:HASH_SIZE])} is damaged"
                )
            previous = end
        hashes, sizes, ends = zip(*entries, strict=True)
        return cls(data[:HASH_SIZE], hashes, sizes, ends)


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    """Up to `n` bytes, fewer only at end of stream (a socket may return short reads)."""
    parts = []
    while n:
        part = stream.read(n)
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _bg4_regroup(grouped: bytes) -> bytes:
    """Undo byte grouping: stream k holds bytes k, k+4, k+8, ...; the first n % 4 streams
    are one byte longer."""
    n = len(grouped)
    split, rem = divmod(n, 4)
    out = bytearray(n)
    pos = 0
    for k in range(4):
        size = split + (1 if k < rem else 0)
        out[k::4] = grouped[pos : pos + size]
        pos += size
    return bytes(out)


def _lz4_frame(payload: bytes, raw_len: int) -> bytes:
    decoder = lz4.frame.LZ4FrameDecompressor()
    try:
        raw = decoder.decompress(payload, max_length=raw_len + 1)
    except RuntimeError as exc:  # what python-lz4 raises for corrupt frames
        raise InvalidXorb(f"its LZ4 frame does not decode ({exc})") from exc
    if len(raw) > raw_len:
        raise InvalidXorb(f"it decodes to more than its declared {raw_len} bytes")
    if not decoder.eof:
        raise InvalidXorb("its LZ4 frame is truncated")
    if decoder.unused_data:
        raise InvalidXorb(f"{len(decoder.unused_data)} bytes follow its LZ4 frame")
    return raw


def decompress_chunk(scheme: int, payload: bytes, raw_len: int) -> bytes:
    """A chunk's raw bytes from its stored payload, checked to be exactly `raw_len` long.

    Raises InvalidXorb saying what is wrong (not which chunk: callers add that).
    """
    if scheme == SCHEME_NONE:
        raw = payload
    elif scheme == SCHEME_LZ4:
        raw = _lz4_frame(payload, raw_len)
    elif scheme == SCHEME_BG4_LZ4:
        raw = _bg4_regroup(_lz4_frame(payload, raw_len))
    else:
        raise InvalidXorb(f"compression scheme {scheme} is unknown (0, 1 and 2 exist)")
    if len(raw) != raw_len:
        raise InvalidXorb(f"it decodes to {len(raw)} bytes, its header says {raw_len}")
    return raw


@dataclass(frozen=True)
class _Header:
    stored_len: int
    scheme: int
    raw_len: int


def _parse_header(header: bytes) -> _Header:
    version = header[0]
    if version != 0:
        raise InvalidXorb(f"header version {version} is unknown (0 exists)")
    stored_len = int.from_bytes(header[1:4], "little")
    scheme = header[4]
    raw_len = int.from_bytes(header[5:8], "little")
    if not 0 < raw_len <= MAX_CHUNK:
        raise InvalidXorb(f"raw length {raw_len} is outside 1..{MAX_CHUNK}")
    if scheme not in (SCHEME_NONE, SCHEME_LZ4, SCHEME_BG4_LZ4):
        raise InvalidXorb(f"compression scheme {scheme} is unknown (0, 1 and 2 exist)")
    if scheme == SCHEME_NONE and stored_len != raw_len:
        raise InvalidXorb(f"it is uncompressed but stores {stored_len} bytes for {raw_len}")
    if not 0 < stored_len <= MAX_STORED_CHUNK:
        raise InvalidXorb(f"stored length {stored_len} is outside 1..{MAX_STORED_CHUNK}")
    return _Header(stored_len, scheme, raw_len)


def _chunk_error(index: int, exc: InvalidXorb) -> InvalidXorb:
    return InvalidXorb(f"invalid xorb: chunk {index}: {exc.message}")


def verify_xorb(stream: BinaryIO, expected: bytes, sink: BinaryIO, *, max_bytes: int) -> XorbIndex:
    """Read a body chunk by chunk, copy each chunk to `sink` unchanged, and return its index
    once the recomputed xorb hash equals `expected`.

    Parsing stops at end of stream or at a footer (`XETBLOB`), which is not copied. The sink
    holds a partial copy when this raises: the caller discards it.
    """
    hashes: list[bytes] = []
    sizes: list[int] = []
    ends: list[int] = []
    offset = 0
    while True:
        header = _read_exact(stream, HEADER_SIZE)
        if not header or header.startswith(FOOTER_MAGIC):
            break
        index = len(hashes)
        if index == MAX_CHUNKS:
            raise XorbTooLarge(f"invalid xorb: it has more than {MAX_CHUNKS} chunks")
        if len(header) < HEADER_SIZE:
            raise InvalidXorb(
                f"invalid xorb: chunk {index}: the body ends inside its header "
                f"({len(header)} of {HEADER_SIZE} bytes)"
            )
        try:
            parsed = _parse_header(header)
        except InvalidXorb as exc:
            raise _chunk_error(index, exc) from None
        end = offset + HEADER_SIZE + parsed.stored_len
        if end > max_bytes:
            raise XorbTooLarge(
                f"invalid xorb: chunk {index} ends at byte {end}, over the {max_bytes}-byte cap"
            )
        payload = _read_exact(stream, parsed.stored_len)
        if len(payload) < parsed.stored_len:
            raise InvalidXorb(
                f"invalid xorb: chunk {index}: the body ends after {len(payload)} of its "
                f"{parsed.stored_len} stored bytes"
            )
        try:
            raw = decompress_chunk(parsed.scheme, payload, parsed.raw_len)
        except InvalidXorb as exc:
            raise _chunk_error(index, exc) from None
        sink.write(header)
        sink.write(payload)
        hashes.append(chunk_hash(raw))
        sizes.append(parsed.raw_len)
        ends.append(end)
        offset = end
    if not hashes:
        raise InvalidXorb("invalid xorb: the body holds no chunk")
    got = xorb_hash(list(zip(hashes, sizes, strict=True)))
    if got != expected:
        raise InvalidXorb(
            f"invalid xorb: its chunks hash to {to_hex(got)}, not to {to_hex(expected)}"
        )
    return XorbIndex(got, tuple(hashes), tuple(sizes), tuple(ends))


def iter_raw_chunks(stream: BinaryIO, count: int) -> Iterator[bytes]:
    """Decode `count` stored chunks from `stream` (positioned at a chunk header), one at a
    time, for reconstruction."""
    for index in range(count):
        header = _read_exact(stream, HEADER_SIZE)
        try:
            if len(header) < HEADER_SIZE:
                raise InvalidXorb("the stored range ends inside its header")
            parsed = _parse_header(header)
            payload = _read_exact(stream, parsed.stored_len)
            if len(payload) < parsed.stored_len:
                raise InvalidXorb("the stored range ends inside its payload")
            raw = decompress_chunk(parsed.scheme, payload, parsed.raw_len)
        except InvalidXorb as exc:
            raise CorruptStoredXorb(
                f"stored xorb data is damaged: chunk {index} of the range: {exc.message}"
            ) from None
        yield raw
