"""Shards: the binary lists of file reconstructions and xorb chunk lists that Xet clients
upload after their xorbs, and that RepoHub sends back as global-dedup answers.

Every record is 48 bytes. A shard is a header, a file section and a xorb section (each closed
by a bookend record), then, in full shards only, lookup tables and a 200-byte footer. Uploads
come without the footer; dedup answers carry one, with an HMAC key under which every chunk
hash in the answer is keyed, so an answer never shows a raw chunk hash to someone who does
not already hold the chunk. Parsing trusts nothing: every count is checked against the bytes
that are really there before a record is read.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from repohub.errors import InvalidArgument
from repohub.objects.xet.hashes import HASH_SIZE, keyed, to_hex
from repohub.objects.xet.xorbs import XorbIndex

RECORD = 48
SHARD_TAG = b"HFRepoMetaData" + bytes(
    (0, 85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169)
)
SHARD_VERSION = 2
FOOTER_VERSION = 1
FOOTER_SIZE = 200
BOOKEND = b"\xff" * HASH_SIZE + bytes(16)
HAS_VERIFICATION = 1 << 31
HAS_METADATA_EXT = 1 << 30
GLOBAL_DEDUP_ELIGIBLE = 1 << 31

_HEADER = struct.Struct(f"<{HASH_SIZE}sQQ")
_FILE_HEADER = struct.Struct(f"<{HASH_SIZE}sIIQ")
_FILE_TERM = struct.Struct(f"<{HASH_SIZE}sIIII")
_HASH_RECORD = struct.Struct(f"<{HASH_SIZE}s16x")
_XORB_HEADER = struct.Struct(f"<{HASH_SIZE}sIIII")
_XORB_CHUNK = struct.Struct(f"<{HASH_SIZE}sIIII")
_FOOTER = struct.Struct(f"<9Q{HASH_SIZE}sQQ48xQQQQ")
assert _HEADER.size == _FILE_HEADER.size == _FILE_TERM.size == RECORD
assert _HASH_RECORD.size == _XORB_HEADER.size == _XORB_CHUNK.size == RECORD
assert _FOOTER.size == FOOTER_SIZE


class InvalidShard(InvalidArgument):
    """An uploaded shard that does not parse, or that names what RepoHub cannot verify."""


@dataclass(frozen=True)
class FileTerm:
    """Chunks [chunk_start, chunk_end) of one xorb, `unpacked_bytes` long once decoded."""

    xorb_hash: bytes
    unpacked_bytes: int
    chunk_start: int
    chunk_end: int


@dataclass(frozen=True)
class FileEntry:
    """One file's reconstruction: its terms, a verification hash per term (the uploader's
    proof that it holds those chunks) and the sha256 the client computed while chunking."""

    file_hash: bytes
    terms: tuple[FileTerm, ...]
    verification: tuple[bytes, ...] | None
    sha256: bytes | None

    @property
    def sha256_hex(self) -> str:
        """The sha256 as git-lfs writes it: the shard stores it like any Xet hash, so its
        string form is the usual hex digest."""
        if self.sha256 is None:
            raise InvalidShard(f"file {to_hex(self.file_hash)} carries no sha256")
        return to_hex(self.sha256)


@dataclass(frozen=True)
class XorbChunk:
    hash: bytes
    raw_start: int
    raw_size: int
    flags: int


@dataclass(frozen=True)
class XorbEntry:
    xorb_hash: bytes
    chunks: tuple[XorbChunk, ...]
    raw_bytes_total: int
    bytes_on_disk: int


@dataclass(frozen=True)
class Footer:
    hmac_key: bytes
    creation_ts: int
    key_expiry: int


@dataclass(frozen=True)
class Shard:
    files: tuple[FileEntry, ...]
    xorbs: tuple[XorbEntry, ...]
    footer: Footer | None


class _Reader:
    """Records read one at a time from a buffer, each read checked against its length."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.offset = 0

    def left(self) -> int:
        return len(self.data) - self.offset

    def record(self, what: str) -> bytes:
        if self.left() < RECORD:
            raise InvalidShard(f"invalid shard: it ends inside {what} at byte {self.offset}")
        chunk = bytes(self.data[self.offset : self.offset + RECORD])
        self.offset += RECORD
        return chunk

    def room_for(self, count: int, what: str) -> None:
        if count * RECORD > self.left():
            raise InvalidShard(
                f"invalid shard: {count} {what} announced at byte {self.offset}, "
                f"only {self.left()} bytes follow"
            )


def _parse_files(reader: _Reader) -> tuple[FileEntry, ...]:
    files: list[FileEntry] = []
    while True:
        raw = reader.record("the file section")
        if raw == BOOKEND:
            return tuple(files)
        file_hash, flags, count, _ = _FILE_HEADER.unpack(raw)
        with_proofs = bool(flags & HAS_VERIFICATION)
        with_sha = bool(flags & HAS_METADATA_EXT)
        reader.room_for(count * (2 if with_proofs else 1) + with_sha, "file records")
        terms = []
        for _ in range(count):
            xorb, _flags, unpacked, start, end = _FILE_TERM.unpack(reader.record("a term"))
            terms.append(FileTerm(xorb, unpacked, start, end))
        proofs = None
        if with_proofs:
            proofs = tuple(_HASH_RECORD.unpack(reader.record("a proof"))[0] for _ in range(count))
        sha = _HASH_RECORD.unpack(reader.record("a sha256"))[0] if with_sha else None
        files.append(FileEntry(file_hash, tuple(terms), proofs, sha))


def _parse_xorbs(reader: _Reader) -> tuple[XorbEntry, ...]:
    xorbs: list[XorbEntry] = []
    while True:
        raw = reader.record("the xorb section")
        if raw == BOOKEND:
            return tuple(xorbs)
        xorb_hash, _flags, count, raw_total, on_disk = _XORB_HEADER.unpack(raw)
        reader.room_for(count, "chunk records")
        chunks = []
        for _ in range(count):
            chunk, start, size, flags, _ = _XORB_CHUNK.unpack(reader.record("a chunk"))
            chunks.append(XorbChunk(chunk, start, size, flags))
        xorbs.append(XorbEntry(xorb_hash, tuple(chunks), raw_total, on_disk))


def parse_shard(data: bytes) -> Shard:
    """Parse an uploaded shard (footer optional); raises InvalidShard saying where it breaks."""
    reader = _Reader(data)
    tag, version, footer_size = _HEADER.unpack(reader.record("its header"))
    if tag != SHARD_TAG:
        raise InvalidShard("invalid shard: it does not start with the Xet shard tag")
    if version != SHARD_VERSION:
        raise InvalidShard(f"invalid shard: version {version} is unknown ({SHARD_VERSION} is)")
    if footer_size not in (0, FOOTER_SIZE):
        raise InvalidShard(f"invalid shard: a footer of {footer_size} bytes (0 or 200 exist)")
    files = _parse_files(reader)
    xorbs = _parse_xorbs(reader)
    footer = None
    if footer_size:
        if reader.left() < FOOTER_SIZE:
            raise InvalidShard("invalid shard: its header announces a footer that is missing")
        fields = _FOOTER.unpack(data[-FOOTER_SIZE:])
        footer = Footer(fields[9], fields[10], fields[11])
    elif reader.left():
        raise InvalidShard(f"invalid shard: {reader.left()} bytes follow its xorb section")
    return Shard(files, xorbs, footer)


def _encode_file(entry: FileEntry) -> bytes:
    flags = (HAS_VERIFICATION if entry.verification is not None else 0) | (
        HAS_METADATA_EXT if entry.sha256 is not None else 0
    )
    out = [_FILE_HEADER.pack(entry.file_hash, flags, len(entry.terms), 0)]
    out += [
        _FILE_TERM.pack(t.xorb_hash, 0, t.unpacked_bytes, t.chunk_start, t.chunk_end)
        for t in entry.terms
    ]
    out += [_HASH_RECORD.pack(h) for h in entry.verification or ()]
    if entry.sha256 is not None:
        out.append(_HASH_RECORD.pack(entry.sha256))
    return b"".join(out)


def _encode_xorb(entry: XorbEntry) -> bytes:
    out = [
        _XORB_HEADER.pack(
            entry.xorb_hash, 0, len(entry.chunks), entry.raw_bytes_total, entry.bytes_on_disk
        )
    ]
    out += [_XORB_CHUNK.pack(c.hash, c.raw_start, c.raw_size, c.flags, 0) for c in entry.chunks]
    return b"".join(out)


def encode_shard(shard: Shard, *, with_footer: bool) -> bytes:
    """A shard's bytes; with the footer (and empty lookup tables, which make the client scan)
    for answers, without it as clients upload them."""
    files = b"".join(_encode_file(f) for f in shard.files) + BOOKEND
    xorbs = b"".join(_encode_xorb(x) for x in shard.xorbs) + BOOKEND
    header = _HEADER.pack(SHARD_TAG, SHARD_VERSION, FOOTER_SIZE if with_footer else 0)
    body = header + files + xorbs
    if not with_footer:
        return body
    footer = shard.footer or Footer(bytes(HASH_SIZE), 0, 0)
    xorb_offset = RECORD + len(files)
    tables = len(body)
    stored = sum(x.bytes_on_disk for x in shard.xorbs)
    raw = sum(x.raw_bytes_total for x in shard.xorbs)
    return body + _FOOTER.pack(
        FOOTER_VERSION,
        RECORD,
        xorb_offset,
        tables,
        0,
        tables,
        0,
        tables,
        0,
        footer.hmac_key,
        footer.creation_ts,
        footer.key_expiry,
        stored,
        raw,
        stored,
        tables,
    )


def dedup_answer(xorbs: Sequence[XorbIndex], *, hmac_key: bytes, now: int, expiry: int) -> bytes:
    """A global-dedup answer: the xorbs' chunk lists with every chunk hash keyed under
    `hmac_key`, so the asker can match only chunks it already holds."""
    entries = []
    for xorb in xorbs:
        start = 0
        chunks = []
        for chunk, size in zip(xorb.chunk_hashes, xorb.raw_sizes, strict=True):
            chunks.append(XorbChunk(keyed(hmac_key, chunk), start, size, 0))
            start += size
        entries.append(XorbEntry(xorb.hash, tuple(chunks), xorb.raw_bytes, xorb.stored_bytes))
    footer = Footer(hmac_key, now, expiry)
    return encode_shard(Shard((), tuple(entries), footer), with_footer=True)
