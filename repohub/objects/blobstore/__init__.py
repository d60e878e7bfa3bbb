"""`BlobStore`: the small protocol every storage backend implements.

Keys are `/`-separated strings built by RepoHub itself (never from user-chosen names).
A `put` is all-or-nothing: the bytes are written under a temporary key, verified against the
expected size and sha256 while streaming, and only then become visible under their key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, runtime_checkable

from repohub.config import Settings


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    metadata: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class BlobStore(Protocol):
    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        sha256: str | None = None,
    ) -> BlobInfo:
        """Store `stream` under `key`; raise SizeMismatch/ChecksumMismatch and store nothing
        when the bytes differ from the given size or sha256 (hex)."""
        ...

    def put_file(self, key: str, path: str) -> BlobInfo:
        """Store a local file: the fast path for packs (a link locally, multipart on S3)."""
        ...

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> BinaryIO:
        """A readable stream of the bytes [start, end) of `key`; NotFound if absent."""
        ...

    def head(self, key: str) -> BlobInfo | None:
        """Size of `key`, or None if absent."""
        ...

    def download_to(self, key: str, path: str) -> None:
        """Copy `key` to a local file (written to a temporary name, renamed into place)."""
        ...

    def copy(self, source: str, target: str) -> BlobInfo:
        """Copy inside the store (S3: a server-side copy; no byte passes through RepoHub)."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key`; absent keys are not an error."""
        ...

    def list(self, prefix: str) -> Iterator[BlobInfo]:
        """Every key under `prefix`; callers must not rely on the order across directories."""
        ...

    def presigned_get(self, key: str, *, expires_in: int) -> str | None:
        """A URL that serves `key` without credentials, or None if the backend cannot."""
        ...

    def presigned_put(
        self,
        key: str,
        *,
        expires_in: int,
        size: int,
        sha256: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str | None:
        """A URL that accepts exactly these bytes without credentials, or None.

        `metadata` becomes signed `x-amz-meta-*` headers the client must send, stored with
        the object (and shown by `head`)."""
        ...


def open_blobstore(settings: Settings) -> BlobStore:
    """The backend named by the URL scheme of `REPOHUB_STORAGE_URL`, chosen once here."""
    url = settings.resolved_storage_url
    if url.startswith("file://"):
        from repohub.objects.blobstore.local import LocalBlobStore

        return LocalBlobStore.from_url(url)
    if url.startswith("s3://"):
        from repohub.objects.blobstore.s3 import S3BlobStore

        return S3BlobStore.from_settings(url, settings)
    raise ValueError(f"unsupported storage URL {url!r}: use file:///path or s3://bucket/prefix")
