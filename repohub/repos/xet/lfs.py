"""Xet files as Git LFS objects: one object, every client.

A Xet upload ends with an ordinary `lfsFile` commit line naming a sha256 that only the
client asserted. Before that oid becomes readable anywhere RepoHub rebuilds the file from
its chunks and hashes it (streaming), so no one can register other bytes under a known
sha256. From then on the oid is an LFS object like any other: git-lfs, curl on `/resolve`
and the Hub client with Xet off read it, rebuilt on the fly from the same chunks, with no
second copy stored.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, BinaryIO

from repohub.errors import NotFound, Unprocessable
from repohub.objects.lfs import BlobLfsStorage, DirectUpload
from repohub.objects.xet.store import XetStore
from repohub.repos.context import Hub
from repohub.repos.xet import index
from repohub.repos.xet.index import StoredFile
from repohub.repos.xet.reads import open_file

if TYPE_CHECKING:
    from repohub.db.engine import Sessions

READ_SIZE = 1024 * 1024


class XetBackedLfs:
    """`LfsStorage` over plain blobs and Xet files: reads go where the bytes are; uploads
    through the LFS API stay plain."""

    def __init__(self, plain: BlobLfsStorage, sessions: Sessions, xet: XetStore) -> None:
        self.plain = plain
        self.sessions = sessions
        self.xet = xet

    def _where(self, oid: str) -> tuple[bool, str | None, int] | None:
        with self.sessions() as session:
            return index.lfs_location(session, oid)

    def size(self, oid: str) -> int | None:
        found = self._where(oid)
        if found is not None and not found[0]:
            return found[2]
        return self.plain.size(oid)

    def open(self, oid: str, *, start: int = 0, end: int | None = None) -> BinaryIO:
        found = self._where(oid)
        if found is None or found[0] or found[1] is None:
            return self.plain.open(oid, start=start, end=end)
        return open_file(self.sessions, self.xet, found[1], start=start, end=end)

    def download_url(self, oid: str, *, expires_in: int) -> str | None:
        """Presigned for plain objects; None for a Xet file, which RepoHub rebuilds itself."""
        found = self._where(oid)
        if found is not None and not found[0]:
            return None
        return self.plain.download_url(oid, expires_in=expires_in)

    def receive(self, oid: str, size: int, stream: BinaryIO) -> None:
        self.plain.receive(oid, size, stream)

    def direct_upload(
        self,
        upload_id: str,
        oid: str,
        size: int,
        *,
        signed_checksum: bool,
        stored: bool,
        expires_in: int,
    ) -> DirectUpload | None:
        return self.plain.direct_upload(
            upload_id,
            oid,
            size,
            signed_checksum=signed_checksum,
            stored=stored,
            expires_in=expires_in,
        )

    def finish_direct_upload(
        self, upload_id: str, oid: str, size: int, *, checksum_enforced: bool
    ) -> None:
        self.plain.finish_direct_upload(upload_id, oid, size, checksum_enforced=checksum_enforced)


class Sha256Mismatch(Unprocessable):
    def __init__(self, oid: str, got: str, file_hex: str) -> None:
        super().__init__(
            f"the Xet file {file_hex} rebuilds to bytes with sha256 {got}, not {oid}: "
            "upload the file again"
        )


def claim(hub: Hub, network_id: int, oid: str, size: int) -> bool:
    """Make `oid` readable by the network if one of its Xet uploads holds those bytes.

    False when no upload of this network claimed that sha256 and size. Raises when the
    rebuilt bytes hash to something else: nothing is linked then.
    """
    with hub.sessions() as session:
        found = index.claimed_file(session, network_id, oid, size)
    if found is None:
        return False
    if found.sha256 is None:
        _verify(hub, found, oid)
    elif found.sha256 != oid:
        raise Sha256Mismatch(oid, found.sha256, found.hash)
    with hub.sessions.begin() as session:
        index.link_lfs(session, network_id, oid, size, found.hash)
    return True


def _verify(hub: Hub, file: StoredFile, oid: str) -> None:
    digest = hashlib.sha256()
    try:
        with open_file(hub.sessions, hub.xet, file.hash) as stream:
            while block := stream.read(READ_SIZE):
                digest.update(block)
    except NotFound:
        raise Sha256Mismatch(oid, "unknown (the file is not stored)", file.hash) from None
    got = digest.hexdigest()
    if got != oid:
        raise Sha256Mismatch(oid, got, file.hash)
    with hub.sessions.begin() as session:
        index.mark_verified(session, file.hash, oid)
