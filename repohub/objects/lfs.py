"""Git LFS objects: content-addressed bytes, stored once for the whole hub.

This module knows only bytes: where an oid lives, how to stream it in (verified) and out, and
how to hand a client a direct URL. Who may read which oid is the domain's business
(`repos.lfs`). `LfsStorage` is the seam a chunked (Xet) store can later stand behind with the
same oids.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from repohub.errors import ChecksumMismatch, InvalidArgument, NotFound, SizeMismatch
from repohub.objects.blobstore import BlobStore
from repohub.objects.blobstore.verify import VerifyingReader, sha256_base64

OID_RE = re.compile(r"^[0-9a-f]{64}$")
POINTER_VERSION = b"version https://git-lfs.github.com/spec/v1\n"
MAX_POINTER_SIZE = 1024
UPLOAD_TAG = "repohub-upload"


def check_oid(oid: str) -> str:
    if not isinstance(oid, str) or not OID_RE.fullmatch(oid):
        raise InvalidArgument(f"invalid LFS oid {oid!r}: expected 64 lowercase hex characters")
    return oid


def object_key(oid: str) -> str:
    return f"lfs/{oid[0:2]}/{oid[2:4]}/{oid}"


def incoming_key(upload_id: str) -> str:
    return f"lfs-incoming/{upload_id}"


def new_upload_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Pointer:
    oid: str
    size: int


def parse_pointer(data: bytes) -> Pointer | None:
    """An LFS pointer file's oid and size, or None if `data` is not a pointer."""
    if len(data) >= MAX_POINTER_SIZE or not data.startswith(POINTER_VERSION):
        return None
    fields = {}
    for line in data[len(POINTER_VERSION) :].decode("ascii", "replace").splitlines():
        key, _, value = line.partition(" ")
        fields[key] = value
    oid, size = fields.get("oid", ""), fields.get("size", "")
    if not oid.startswith("sha256:") or not OID_RE.fullmatch(oid[7:]) or not size.isdigit():
        return None
    return Pointer(oid[7:], int(size))


@dataclass(frozen=True)
class DirectUpload:
    """Where a client sends bytes itself, and the headers it must send with them."""

    href: str
    header: dict[str, str]


class LfsStorage(Protocol):
    def size(self, oid: str) -> int | None: ...

    def open(self, oid: str, *, start: int = 0, end: int | None = None) -> BinaryIO: ...

    def download_url(self, oid: str, *, expires_in: int) -> str | None: ...

    def receive(self, oid: str, size: int, stream: BinaryIO) -> None: ...

    def direct_upload(
        self,
        upload_id: str,
        oid: str,
        size: int,
        *,
        signed_checksum: bool,
        stored: bool,
        expires_in: int,
    ) -> DirectUpload | None: ...

    def finish_direct_upload(
        self, upload_id: str, oid: str, size: int, *, checksum_enforced: bool
    ) -> None: ...


class BlobLfsStorage:
    """LFS objects as blobs under `lfs/`; direct uploads land under `lfs-incoming/` first.

    A direct upload never writes the final key: the client's bytes go to a key of their own,
    and only `finish_direct_upload` (after checking size, and sha256 unless S3 enforced a
    signed checksum) copies them into place. So a client that skips the upload cannot pass
    off someone else's bytes as its own, and a wrong body never becomes readable.
    """

    def __init__(self, blobs: BlobStore, *, single_put_limit: int = 5 * 1024**3) -> None:
        self.blobs = blobs
        self.single_put_limit = single_put_limit

    def size(self, oid: str) -> int | None:
        info = self.blobs.head(object_key(oid))
        return info.size if info else None

    def open(self, oid: str, *, start: int = 0, end: int | None = None) -> BinaryIO:
        return self.blobs.open(object_key(oid), start=start, end=end)

    def download_url(self, oid: str, *, expires_in: int) -> str | None:
        return self.blobs.presigned_get(object_key(oid), expires_in=expires_in)

    def receive(self, oid: str, size: int, stream: BinaryIO) -> None:
        """Stream bytes in through the server, verified before the oid's key exists."""
        self.blobs.put(object_key(oid), stream, size=size, sha256=oid)

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
        """A presigned PUT, or None when the backend cannot presign or the object is above
        S3's single-PUT limit (the caller then streams it through RepoHub).

        When S3 will enforce the checksum (the client sends the signed header map) and the hub
        does not store the oid yet, the PUT goes straight to the final key, tagged with this
        upload's id in signed metadata: `verify` then proves this client wrote it, and 1 GB of
        weights is not copied a second time. Otherwise the bytes land on a key of their own.
        """
        if size > self.single_put_limit:
            return None
        if signed_checksum and not stored:
            tag = {UPLOAD_TAG: upload_id}
            href = self.blobs.presigned_put(
                object_key(oid), expires_in=expires_in, size=size, sha256=oid, metadata=tag
            )
            if href is None:
                return None
            header = {
                "x-amz-checksum-sha256": sha256_base64(oid),
                f"x-amz-meta-{UPLOAD_TAG}": upload_id,
            }
            return DirectUpload(href, header)
        href = self.blobs.presigned_put(
            incoming_key(upload_id),
            expires_in=expires_in,
            size=size,
            sha256=oid if signed_checksum else None,
        )
        if href is None:
            return None
        header = {"x-amz-checksum-sha256": sha256_base64(oid)} if signed_checksum else {}
        return DirectUpload(href, header)

    def finish_direct_upload(
        self, upload_id: str, oid: str, size: int, *, checksum_enforced: bool
    ) -> None:
        """Check what the client uploaded, then make it the oid's bytes (or drop it as a dup)."""
        if checksum_enforced:
            final = self.blobs.head(object_key(oid))
            if final is not None and final.metadata.get(UPLOAD_TAG) == upload_id:
                if final.size != size:
                    self.blobs.delete(object_key(oid))
                    raise SizeMismatch(size, final.size)
                return  # written by this upload, its checksum enforced by S3
        key = incoming_key(upload_id)
        info = self.blobs.head(key)
        if info is None:
            raise NotFound("the object was not uploaded: PUT its bytes before verifying")
        try:
            if info.size != size:
                raise SizeMismatch(size, info.size)
            if not checksum_enforced:
                self._verify_sha256(key, oid, size)
            if self.size(oid) is None:
                self.blobs.copy(key, object_key(oid))
        finally:
            self.blobs.delete(key)

    def _verify_sha256(self, key: str, oid: str, size: int) -> None:
        with self.blobs.open(key) as stream:
            reader = VerifyingReader(stream, size=size, sha256=oid)
            while reader.read(1024 * 1024):
                pass
            try:
                reader.verify()
            except ChecksumMismatch as exc:
                raise ChecksumMismatch(oid, exc.got) from None
