"""Xet bodies built by hand, as hf_xet builds them, so tests can send well-formed and
deliberately broken xorbs and shards over HTTP without the Rust client.

The encoders here are written from the protocol, independently of the server's parsers
(except the shared record layouts in `shards`), and the unit tests pin both to hashes the real
client computed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import lz4.frame

from repohub.objects.xet.hashes import chunk_hash, file_hash, verification_hash, xorb_hash
from repohub.objects.xet.shards import (
    FileEntry,
    FileTerm,
    Shard,
    XorbChunk,
    XorbEntry,
    encode_shard,
)
from repohub.objects.xet.xorbs import HEADER_SIZE, XorbIndex


def split(data: bytes, size: int) -> list[bytes]:
    """Fixed-size chunks (the client cuts by content; the server does not care how)."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def _bg4(raw: bytes) -> bytes:
    return b"".join(raw[k::4] for k in range(4))


def chunk_record(raw: bytes, scheme: int) -> bytes:
    """One chunk as a xorb body holds it: the 8-byte header and the stored payload."""
    if scheme == 0:
        payload = raw
    elif scheme == 1:
        payload = lz4.frame.compress(raw)
    elif scheme == 2:
        payload = lz4.frame.compress(_bg4(raw))
    else:
        raise ValueError(scheme)
    header = (
        bytes([0]) + len(payload).to_bytes(3, "little") + bytes([scheme])
        + len(raw).to_bytes(3, "little")
    )  # fmt: skip
    return header + payload


def make_xorb(
    chunks: Sequence[bytes], schemes: Sequence[int] | None = None
) -> tuple[bytes, XorbIndex]:
    """A xorb body of `chunks` (each stored with its scheme, 0 by default) and its index."""
    schemes = schemes or [0] * len(chunks)
    records = [chunk_record(raw, s) for raw, s in zip(chunks, schemes, strict=True)]
    ends, offset = [], 0
    for record in records:
        offset += len(record)
        ends.append(offset)
    hashes = tuple(chunk_hash(raw) for raw in chunks)
    sizes = tuple(len(raw) for raw in chunks)
    index = XorbIndex(xorb_hash(list(zip(hashes, sizes, strict=True))), hashes, sizes, tuple(ends))
    assert all(len(r) > HEADER_SIZE for r in records)
    return b"".join(records), index


@dataclass(frozen=True)
class Term:
    xorb: XorbIndex
    start: int
    end: int


def file_entry(terms: Sequence[Term], data: bytes, *, proofs: bool = True) -> FileEntry:
    """The shard record of a file made of `terms`, whose bytes are `data` (for its sha256)."""
    chunks = [
        (t.xorb.chunk_hashes[i], t.xorb.raw_sizes[i]) for t in terms for i in range(t.start, t.end)
    ]
    records = tuple(
        FileTerm(t.xorb.hash, sum(t.xorb.raw_sizes[t.start : t.end]), t.start, t.end) for t in terms
    )
    verification = tuple(verification_hash(t.xorb.chunk_hashes[t.start : t.end]) for t in terms)
    digest = hashlib.sha256(data).digest()
    sha = b"".join(digest[i : i + 8][::-1] for i in range(0, 32, 8))  # stored like a Xet hash
    return FileEntry(file_hash(chunks), records, verification if proofs else None, sha)


def xorb_entry(xorb: XorbIndex) -> XorbEntry:
    starts, offset = [], 0
    for size in xorb.raw_sizes:
        starts.append(offset)
        offset += size
    chunks = tuple(
        XorbChunk(h, s, size, 0)
        for h, s, size in zip(xorb.chunk_hashes, starts, xorb.raw_sizes, strict=True)
    )
    return XorbEntry(xorb.hash, chunks, xorb.raw_bytes, 0)


def shard(files: Sequence[FileEntry], xorbs: Sequence[XorbIndex]) -> bytes:
    """An upload shard (no footer), as hf_xet sends it after its xorbs."""
    return encode_shard(
        Shard(tuple(files), tuple(xorb_entry(x) for x in xorbs), None), with_footer=False
    )


def whole_file(
    data: bytes, chunk_size: int = 16 * 1024
) -> tuple[bytes, XorbIndex, bytes, FileEntry]:
    """The simplest upload: one xorb of `data` cut into chunks, and the shard naming the file.
    Returns (xorb body, xorb index, shard bytes, file entry)."""
    body, xorb = make_xorb(split(data, chunk_size), None)
    entry = file_entry([Term(xorb, 0, len(xorb.raw_sizes))], data)
    return body, xorb, shard([entry], [xorb]), entry
