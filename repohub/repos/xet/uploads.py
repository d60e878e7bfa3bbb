"""Xorb and shard uploads: verified in full before anything becomes readable or registered.

A xorb is re-hashed chunk by chunk and compared with the hash its URL names. A shard may
name only xorbs RepoHub holds and chunk ranges inside them; every term's verification hash
is recomputed from RepoHub's own chunk hashes (proof that the uploader held those chunks,
since dedup answers only ever show keyed hashes), every term's size is checked, and each
file's hash is recomputed from the chunks, so no one can register a file id for other bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from repohub.auth.cas_tokens import CasGrant
from repohub.errors import PermissionDenied
from repohub.objects.xet.hashes import dedup_eligible, file_hash, to_hex, verification_hash
from repohub.objects.xet.shards import FileEntry, InvalidShard, Shard, parse_shard
from repohub.objects.xet.xorbs import XorbIndex
from repohub.repos.context import Hub
from repohub.repos.xet import index


def _writer(grant: CasGrant) -> None:
    if not grant.write:
        raise PermissionDenied("this Xet token is read-only: ask for a write token to upload")


def receive_xorb(hub: Hub, grant: CasGrant, expected: bytes, stream: BinaryIO) -> bool:
    """Store a xorb; False when RepoHub already had it (the body is then only read)."""
    _writer(grant)
    xorb_hex = to_hex(expected)
    with hub.sessions() as session:
        known = index.has_xorb(session, xorb_hex)
    if known:
        while stream.read(1024 * 1024):
            pass
        return False
    verified = hub.xet.receive_xorb(expected, stream)
    with hub.sessions.begin() as session:
        return index.record_xorb(session, verified)


@dataclass(frozen=True)
class Registered:
    files: int
    new: bool


def receive_shard(hub: Hub, grant: CasGrant, data: bytes) -> Registered:
    """Verify a shard and register its files to the token's network, all or nothing."""
    _writer(grant)
    shard = parse_shard(data)
    with hub.sessions() as session:
        wanted = [t.xorb_hash for f in shard.files for t in f.terms]
        wanted += [x.xorb_hash for x in shard.xorbs]
        xorbs = index.xorb_indexes(session, wanted)
    _check_xorb_section(shard, xorbs)
    checked = [(entry, _checked_file(entry, xorbs)) for entry in shard.files]
    sha = hashlib.sha256(data).hexdigest()
    hub.xet.save_shard(sha, data)
    new = False
    with hub.sessions.begin() as session:
        for entry, size in checked:
            file_hex = to_hex(entry.file_hash)
            new = new or index.stored_file(session, file_hex) is None
            claimed = entry.sha256_hex if entry.sha256 is not None else None
            index.register_file(session, grant.network_id, file_hex, size, entry.terms, claimed)
        index.register_dedup(session, _dedup_chunks(shard.files, xorbs))
    return Registered(len(checked), new)


def _check_xorb_section(shard: Shard, xorbs: dict[bytes, XorbIndex]) -> None:
    """The shard's own list of xorbs must agree with what was uploaded and verified."""
    for entry in shard.xorbs:
        stored = xorbs.get(entry.xorb_hash)
        if stored is None:
            raise InvalidShard(
                f"the shard lists xorb {to_hex(entry.xorb_hash)}, which was never uploaded"
            )
        hashes = tuple(c.hash for c in entry.chunks)
        sizes = tuple(c.raw_size for c in entry.chunks)
        if hashes != stored.chunk_hashes or sizes != stored.raw_sizes:
            raise InvalidShard(
                f"the shard's chunk list for xorb {to_hex(entry.xorb_hash)} differs from "
                "the uploaded xorb"
            )


def _checked_file(entry: FileEntry, xorbs: dict[bytes, XorbIndex]) -> int:
    """The file's size, once every term, verification hash and the file hash hold."""
    shown = to_hex(entry.file_hash)
    proofs = entry.verification or ()
    if len(proofs) != len(entry.terms):
        raise InvalidShard(
            f"file {shown}: every term needs a verification entry (proof the uploader holds "
            "its chunks)"
        )
    chunks: list[tuple[bytes, int]] = []
    for number, term in enumerate(entry.terms):
        stored = xorbs.get(term.xorb_hash)
        if stored is None:
            raise InvalidShard(
                f"file {shown}, term {number}: xorb {to_hex(term.xorb_hash)} does not exist "
                "(upload it first)"
            )
        count = len(stored.raw_sizes)
        if not 0 <= term.chunk_start < term.chunk_end <= count:
            raise InvalidShard(
                f"file {shown}, term {number}: chunks [{term.chunk_start}, {term.chunk_end}) "
                f"are outside xorb {to_hex(term.xorb_hash)}, which has {count}"
            )
        hashes = stored.chunk_hashes[term.chunk_start : term.chunk_end]
        sizes = stored.raw_sizes[term.chunk_start : term.chunk_end]
        if sum(sizes) != term.unpacked_bytes:
            raise InvalidShard(
                f"file {shown}, term {number}: {term.unpacked_bytes} unpacked bytes claimed, "
                f"the chunks hold {sum(sizes)}"
            )
        if verification_hash(hashes) != proofs[number]:
            raise InvalidShard(f"file {shown}, term {number}: wrong verification hash")
        chunks.extend(zip(hashes, sizes, strict=True))
    if file_hash(chunks) != entry.file_hash:
        raise InvalidShard(f"file {shown}: its chunks hash to {to_hex(file_hash(chunks))}")
    return sum(size for _, size in chunks)


def _dedup_chunks(
    files: Sequence[FileEntry], xorbs: dict[bytes, XorbIndex]
) -> dict[bytes, tuple[bytes, bytes]]:
    """The chunks later uploads may find by global dedup, each with its xorb and a file that
    uses it: each file's first chunk and, in every xorb a file uses, the chunks the
    eligibility rule picks."""
    found: dict[bytes, tuple[bytes, bytes]] = {}
    users = {t.xorb_hash: f.file_hash for f in files for t in f.terms}
    for xorb_hash, used_by in users.items():
        for chunk in xorbs[xorb_hash].chunk_hashes:
            if dedup_eligible(chunk):
                found.setdefault(chunk, (xorb_hash, used_by))
    for entry in files:
        if entry.terms:
            first = entry.terms[0]
            chunk = xorbs[first.xorb_hash].chunk_hashes[first.chunk_start]
            found.setdefault(chunk, (first.xorb_hash, entry.file_hash))
    return found
