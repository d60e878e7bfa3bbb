"""Which chunks of which xorbs rebuild a byte range of a file: one plan for every reader.

The Xet client gets the plan as reconstruction JSON and fetches the bytes itself; git-lfs,
curl and the Hub client with Xet off get the same plan streamed by RepoHub. Planning needs
only the file's terms and the chunk sizes of their xorbs, so it is pure and cheap; the bytes
are read later, one chunk range at a time.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from repohub.errors import RepoHubError
from repohub.objects.xet.shards import FileTerm
from repohub.objects.xet.xorbs import XorbIndex

_TERM = struct.Struct("<32sIII")


class InconsistentIndex(RepoHubError):
    """A stored file names chunks its xorb does not have: the index is damaged (our fault)."""


def pack_terms(terms: Sequence[FileTerm]) -> bytes:
    """The terms as 44-byte records, for a SQL column: xorb hash, unpacked bytes, range."""
    return b"".join(
        _TERM.pack(t.xorb_hash, t.unpacked_bytes, t.chunk_start, t.chunk_end) for t in terms
    )


def unpack_terms(data: bytes) -> tuple[FileTerm, ...]:
    if len(data) % _TERM.size:
        raise InconsistentIndex(f"a packed term list of {len(data)} bytes is damaged")
    return tuple(FileTerm(*fields) for fields in _TERM.iter_unpack(data))


@dataclass(frozen=True)
class Piece:
    """Chunks [chunk_start, chunk_end) of one xorb, `length` raw bytes in all."""

    xorb_hash: bytes
    chunk_start: int
    chunk_end: int
    length: int


@dataclass(frozen=True)
class Plan:
    """Rebuild [start, start + length) of a file: decode `pieces` in order, drop the first
    `skip` bytes, keep `length`."""

    pieces: tuple[Piece, ...]
    skip: int
    length: int

    def fetch_ranges(self) -> dict[bytes, list[tuple[int, int]]]:
        """Per xorb, the chunk ranges to fetch, merged where they touch or overlap."""
        ranges: dict[bytes, list[tuple[int, int]]] = {}
        for piece in self.pieces:
            spans = ranges.setdefault(piece.xorb_hash, [])
            spans.append((piece.chunk_start, piece.chunk_end))
        return {xorb: _merged(spans) for xorb, spans in ranges.items()}


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def plan(terms: Sequence[FileTerm], xorbs: Mapping[bytes, XorbIndex], start: int, end: int) -> Plan:
    """The pieces that cover bytes [start, end) of the file the terms describe.

    The first kept term loses its leading chunks that end at or before `start`, the last its
    trailing chunks that begin at or after `end` (the protocol's trimming rule).
    """
    pieces: list[Piece] = []
    offset = 0  # file offset of the current chunk
    skip = 0
    for term in terms:
        index = xorbs.get(term.xorb_hash)
        if index is None or not 0 <= term.chunk_start < term.chunk_end <= len(index.raw_sizes):
            raise InconsistentIndex("a stored file names chunks that its xorb does not hold")
        first = last = None
        kept = 0
        for chunk in range(term.chunk_start, term.chunk_end):
            size = index.raw_sizes[chunk]
            if offset + size > start and offset < end:
                if first is None:
                    first = chunk
                    if not pieces:
                        skip = start - offset
                last = chunk
                kept += size
            offset += size
            if offset >= end:
                break
        if first is not None and last is not None:
            pieces.append(Piece(term.xorb_hash, first, last + 1, kept))
        if offset >= end:
            break
    return Plan(tuple(pieces), skip, max(0, end - start))


def term_length(term: FileTerm, index: XorbIndex) -> int:
    return sum(index.raw_sizes[term.chunk_start : term.chunk_end])


def iter_plan(plan_: Plan, read: Iterator[bytes]) -> Iterator[bytes]:
    """Cut the decoded chunk stream `read` (every piece's chunks, in order) to the plan's
    range: drop `skip` bytes, stop after `length`."""
    skip, left = plan_.skip, plan_.length
    for chunk in read:
        if skip:
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            chunk = chunk[skip:]
            skip = 0
        if len(chunk) >= left:
            if left:
                yield chunk[:left]
            return
        left -= len(chunk)
        yield chunk
