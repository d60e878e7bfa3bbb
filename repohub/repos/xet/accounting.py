"""Storage by chunk: what a set of Xet files would cost stored whole, and what it costs as
distinct chunks.

A fine-tuned model shares most chunks with its base, and a new version most chunks with the
last, so the bytes a repo "has" (the sum of its file sizes) and the bytes its chunks take
differ; the difference is what dedup saved. Chunks are counted once per (xorb, chunk index):
the same bytes in two xorbs (two uploads that did not find each other) count twice, as they
are stored twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from repohub.db.xet import XetFile, XetFileGrant, XetXorb
from repohub.objects.xet.reconstruction import unpack_terms
from repohub.repos.xet import index

_BATCH = 500


@dataclass(frozen=True)
class ChunkUsage:
    files: int
    file_bytes: int  # the sum of the files' sizes: what storing each whole would take
    chunks: int  # distinct chunks the files use
    chunk_bytes: int  # their raw bytes: what storing each chunk once takes

    @property
    def dedup_saved(self) -> int:
        return self.file_bytes - self.chunk_bytes


def chunk_usage(session: Session, file_hexes: Iterable[str]) -> ChunkUsage:
    wanted = list(set(file_hexes))
    used: dict[bytes, set[int]] = {}
    files = size = 0
    for start in range(0, len(wanted), _BATCH):
        rows = session.execute(
            select(XetFile.size, XetFile.terms).where(
                XetFile.hash.in_(wanted[start : start + _BATCH])
            )
        )
        for file_size, packed in rows:
            files += 1
            size += file_size
            for term in unpack_terms(packed):
                used.setdefault(term.xorb_hash, set()).update(
                    range(term.chunk_start, term.chunk_end)
                )
    xorbs = index.xorb_indexes(session, used)
    chunk_bytes = sum(xorbs[x].raw_sizes[i] for x, chunks in used.items() for i in chunks)
    return ChunkUsage(files, size, sum(map(len, used.values())), chunk_bytes)


def network_files(session: Session, network_id: int) -> list[str]:
    """Files the network registered or committed: the chunks it holds a claim on."""
    return list(
        session.scalars(select(XetFileGrant.file_hash).where(XetFileGrant.network_id == network_id))
    )


@dataclass(frozen=True)
class HubChunks:
    files: int
    file_bytes: int
    xorbs: int
    chunk_bytes: int  # raw bytes of every stored chunk
    stored_bytes: int  # what the xorbs take in blob storage (chunks as compressed)

    @property
    def dedup_saved(self) -> int:
        return self.file_bytes - self.chunk_bytes


def hub_chunks(session: Session) -> HubChunks:
    files, file_bytes = session.execute(
        select(func.count(), func.coalesce(func.sum(XetFile.size), 0))
    ).one()
    xorbs, raw, stored = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(XetXorb.raw_bytes), 0),
            func.coalesce(func.sum(XetXorb.stored_bytes), 0),
        )
    ).one()
    return HubChunks(int(files), int(file_bytes), int(xorbs), int(raw), int(stored))
