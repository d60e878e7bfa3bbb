"""The SQL index of Xet storage: which xorbs exist, which files they rebuild, who may read them.

Everything here runs inside the caller's session, so a shard's files, grants and dedup
entries land in one transaction or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from repohub.db.models import LfsGrant, LfsObject
from repohub.db.xet import XetDedupChunk, XetFile, XetFileGrant, XetXorb
from repohub.objects.xet.hashes import from_hex, to_hex
from repohub.objects.xet.reconstruction import pack_terms, unpack_terms
from repohub.objects.xet.shards import FileTerm
from repohub.objects.xet.xorbs import XorbIndex
from repohub.repos.lfs import grant as lfs_grant
from repohub.repos.lfs import granted_objects, insert_ignore
from repohub.repos.lru import Lru

# Chunk indexes are immutable: keep the recently used ones (~40 kB each for a full xorb).
_INDEXES: Lru[XorbIndex] = Lru(512)
_BATCH = 500


@dataclass(frozen=True)
class StoredFile:
    hash: str
    size: int
    terms: tuple[FileTerm, ...]
    sha256: str | None


def has_xorb(session: Session, xorb_hex: str) -> bool:
    return session.get(XetXorb, xorb_hex) is not None


def record_xorb(session: Session, index: XorbIndex) -> bool:
    """Index a verified, stored xorb; False when another upload indexed it first."""
    xorb_hex = to_hex(index.hash)
    if has_xorb(session, xorb_hex):
        return False
    insert_ignore(
        session,
        XetXorb,
        {
            "hash": xorb_hex,
            "chunk_count": len(index.raw_sizes),
            "raw_bytes": index.raw_bytes,
            "stored_bytes": index.stored_bytes,
            "chunks": index.pack(),
        },
    )
    return True


def xorb_indexes(session: Session, hashes: Iterable[bytes]) -> dict[bytes, XorbIndex]:
    """The chunk index of each xorb that exists (others are absent from the answer)."""
    found: dict[bytes, XorbIndex] = {}
    missing = []
    for raw in set(hashes):
        cached = _INDEXES.peek(raw)
        if cached is not None:
            found[raw] = cached
        else:
            missing.append(to_hex(raw))
    for start in range(0, len(missing), _BATCH):
        rows = session.scalars(
            select(XetXorb.chunks).where(XetXorb.hash.in_(missing[start : start + _BATCH]))
        )
        for packed in rows:
            index = XorbIndex.unpack(packed)
            _INDEXES.put(index.hash, index)
            found[index.hash] = index
    return found


def stored_file(session: Session, file_hex: str) -> StoredFile | None:
    row = session.get(XetFile, file_hex)
    if row is None:
        return None
    return StoredFile(row.hash, row.size, unpack_terms(row.terms), row.sha256)


def readable_file(session: Session, network_id: int, file_hex: str) -> StoredFile | None:
    """The file, if this network may rebuild it: a shard of one of its repos registered it,
    or one of its commits points at the LFS object it backs."""
    granted = session.scalar(
        select(XetFileGrant.file_hash).where(
            XetFileGrant.network_id == network_id, XetFileGrant.file_hash == file_hex
        )
    )
    if granted is None:
        granted = session.scalar(
            select(LfsObject.xet_hash)
            .join(LfsGrant, LfsGrant.oid == LfsObject.oid)
            .where(LfsGrant.network_id == network_id, LfsObject.xet_hash == file_hex)
            .limit(1)
        )
    return stored_file(session, file_hex) if granted is not None else None


def register_file(
    session: Session,
    network_id: int,
    file_hex: str,
    size: int,
    terms: tuple[FileTerm, ...],
    claimed_sha256: str | None,
) -> None:
    """A verified file: stored once for the hub (the first terms win: any valid terms rebuild
    the same bytes), granted to the network with what its uploader said the sha256 is."""
    insert_ignore(session, XetFile, {"hash": file_hex, "size": size, "terms": pack_terms(terms)})
    _grant_file(session, network_id, file_hex, claimed_sha256, replace_claim=True)


def _grant_file(
    session: Session, network_id: int, file_hex: str, claimed: str | None, *, replace_claim: bool
) -> None:
    """The network may rebuild the file; `claimed` is the sha256 its upload said, kept
    unless `replace_claim` (a newer upload's word) and a claim is given."""
    grant = session.get(XetFileGrant, (network_id, file_hex))
    if grant is None:
        insert_ignore(
            session,
            XetFileGrant,
            {"network_id": network_id, "file_hash": file_hex, "claimed_sha256": claimed},
        )
    elif replace_claim and claimed is not None and grant.claimed_sha256 != claimed:
        grant.claimed_sha256 = claimed


def register_dedup(session: Session, chunks: dict[bytes, tuple[bytes, bytes]]) -> None:
    """chunk hash -> (xorb hash, file hash) for chunks the global-dedup query may find."""
    wanted = {to_hex(c): (to_hex(x), to_hex(f)) for c, (x, f) in chunks.items()}
    keys = list(wanted)
    for start in range(0, len(keys), _BATCH):
        part = keys[start : start + _BATCH]
        known = set(
            session.scalars(
                select(XetDedupChunk.chunk_hash).where(XetDedupChunk.chunk_hash.in_(part))
            )
        )
        for chunk_hex in part:
            if chunk_hex not in known:
                insert_ignore(
                    session,
                    XetDedupChunk,
                    {
                        "chunk_hash": chunk_hex,
                        "xorb_hash": wanted[chunk_hex][0],
                        "file_hash": wanted[chunk_hex][1],
                    },
                )


def dedup_xorbs(session: Session, chunk_hex: str, limit: int) -> list[bytes]:
    """The xorb holding the chunk, then the other xorbs of a file that uses it, in the
    file's order from there on (then those before), at most `limit`; [] when unknown."""
    row = session.execute(
        select(XetDedupChunk.xorb_hash, XetDedupChunk.file_hash).where(
            XetDedupChunk.chunk_hash == chunk_hex
        )
    ).first()
    if row is None:
        return []
    hit = from_hex(row[0])
    terms = session.scalar(select(XetFile.terms).where(XetFile.hash == row[1])) if row[1] else None
    order = list(dict.fromkeys(t.xorb_hash for t in unpack_terms(terms))) if terms else []
    if hit not in order:
        return [hit]
    at = order.index(hit)
    return (order[at:] + order[:at])[:limit]


def claimed_file(session: Session, network_id: int, sha256: str, size: int) -> StoredFile | None:
    """A file this network uploaded and said hashes to `sha256`, of `size` bytes."""
    row = session.scalars(
        select(XetFile)
        .join(XetFileGrant, XetFileGrant.file_hash == XetFile.hash)
        .where(
            XetFileGrant.network_id == network_id,
            XetFileGrant.claimed_sha256 == sha256,
            XetFile.size == size,
        )
        .limit(1)
    ).first()
    if row is None:
        return None
    return StoredFile(row.hash, row.size, unpack_terms(row.terms), row.sha256)


def mark_verified(session: Session, file_hex: str, sha256: str) -> None:
    session.execute(update(XetFile).where(XetFile.hash == file_hex).values(sha256=sha256))


def link_lfs(session: Session, network_id: int, oid: str, size: int, file_hex: str) -> None:
    """The LFS object `oid` is (also) the Xet file: readable by the network from now on."""
    existing = session.get(LfsObject, oid)
    if existing is None:
        insert_ignore(
            session, LfsObject, {"oid": oid, "size": size, "plain": False, "xet_hash": file_hex}
        )
    elif existing.xet_hash is None:
        existing.xet_hash = file_hex
    lfs_grant(session, network_id, oid)
    _grant_file(session, network_id, file_hex, oid, replace_claim=False)


def lfs_location(session: Session, oid: str) -> tuple[bool, str | None, int] | None:
    """(plain, xet hash, size) of a stored LFS object, or None."""
    row = session.execute(
        select(LfsObject.plain, LfsObject.xet_hash, LfsObject.size).where(LfsObject.oid == oid)
    ).first()
    return (bool(row[0]), row[1], int(row[2])) if row is not None else None


def xet_hashes(session: Session, network_id: int, oids: Iterable[str]) -> dict[str, str]:
    """oid -> Xet file hash, for the objects this network may read that Xet can serve."""
    granted = granted_objects(session, network_id, oids)
    return {oid: g.xet_hash for oid, g in granted.items() if g.xet_hash is not None}
