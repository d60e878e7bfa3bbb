"""Reading Xet files: reconstruction plans for the Xet client, bytes for everyone else, and
global-dedup answers, each scoped to what the asker's network may read.

A file id is public (tree listings show it), so knowing it proves nothing: a network may
rebuild only files registered or committed in it. Dedup answers never show raw chunk
hashes, only hashes keyed with a fresh random key, which match only chunks the asker holds.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from repohub.auth.cas_tokens import CasGrant
from repohub.errors import NotFound
from repohub.objects.xet.reconstruction import Plan, plan
from repohub.objects.xet.shards import dedup_answer
from repohub.objects.xet.store import XetStore
from repohub.objects.xet.xorbs import XorbIndex
from repohub.repos.context import Hub
from repohub.repos.xet import index
from repohub.repos.xet.index import StoredFile

if TYPE_CHECKING:
    from repohub.db.engine import Sessions


# Xorbs per dedup answer: up to 2 GiB of a file's chunks, ~50 kB of shard per xorb.
DEDUP_XORBS = 32


class FileNotReadable(NotFound):
    """Unknown, or not readable by this network: the two look alike."""

    def __init__(self, file_hex: str) -> None:
        super().__init__(f"Xet file {file_hex} not found")


class RangeOutside(NotFound):
    status_code = 416

    def __init__(self, start: int, size: int) -> None:
        super().__init__(f"range starts at byte {start}, but the file has {size} bytes")
        self.size = size


@dataclass(frozen=True)
class Reconstruction:
    """A plan and the chunk indexes of its xorbs (for the byte offsets of fetch ranges)."""

    file: StoredFile
    plan: Plan
    xorbs: dict[bytes, XorbIndex]
    start: int


def _plan(sessions: Sessions, file: StoredFile, start: int, end: int) -> Reconstruction:
    with sessions() as session:
        xorbs = index.xorb_indexes(session, [t.xorb_hash for t in file.terms])
    return Reconstruction(file, plan(file.terms, xorbs, start, end), xorbs, start)


def reconstruction(
    hub: Hub, grant: CasGrant, file_hex: str, start: int | None, end: int | None
) -> Reconstruction:
    """Bytes [start, end] (inclusive, as HTTP ranges say; end past EOF is clamped)."""
    with hub.sessions() as session:
        file = index.readable_file(session, grant.network_id, file_hex)
    if file is None:
        raise FileNotReadable(file_hex)
    first = start or 0
    if first >= file.size and (file.size or first):
        raise RangeOutside(first, file.size)
    last = file.size if end is None else min(end + 1, file.size)
    return _plan(hub.sessions, file, first, last)


def open_file(
    sessions: Sessions, store: XetStore, file_hex: str, *, start: int = 0, end: int | None = None
) -> BinaryIO:
    """A stream of bytes [start, end) of a stored file; the caller checked the access."""
    with sessions() as session:
        file = index.stored_file(session, file_hex)
    if file is None:
        raise FileNotReadable(file_hex)
    rebuilt = _plan(sessions, file, start, file.size if end is None else min(end, file.size))
    return store.reader(rebuilt.plan, rebuilt.xorbs)


def dedup(hub: Hub, grant: CasGrant, chunk_hex: str) -> bytes | None:
    """A dedup shard for the xorb that holds the chunk and its file's next xorbs, every
    chunk hash keyed for this answer alone."""
    with hub.sessions() as session:
        xorbs = index.dedup_xorbs(session, chunk_hex, DEDUP_XORBS)
        found = index.xorb_indexes(session, xorbs)
    if not xorbs or xorbs[0] not in found:
        return None
    now = int(time.time())
    key = secrets.token_bytes(32)
    listed = [found[x] for x in xorbs if x in found]
    return dedup_answer(listed, hmac_key=key, now=now, expiry=now + hub.settings.xet_dedup_ttl)
