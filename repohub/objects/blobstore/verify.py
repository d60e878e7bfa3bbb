"""What every backend shares: the key rules and a reader that verifies as it streams."""

from __future__ import annotations

import base64
import hashlib
from typing import BinaryIO

from repohub.errors import ChecksumMismatch, SizeMismatch

TMP_DIR = ".tmp"


def check_key(key: str) -> str:
    """Refuse keys that could escape the store or alias another key.

    Keys are built by RepoHub, so this is a last guard against a bug turning into a path
    traversal, not user input validation. `.tmp` is reserved for writes in flight.
    """
    if not key or ".." in key or "\\" in key or "\0" in key or key.startswith("/"):
        raise ValueError(f"invalid blob key {key!r}")
    segments = key.split("/")
    if any(segment in ("", ".") for segment in segments) or segments[0] == TMP_DIR:
        raise ValueError(f"invalid blob key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key-like string that may end in `/`."""
    if prefix:
        check_key(prefix.removesuffix("/"))
    return prefix


class VerifyingReader:
    """Reads a stream of unknown trust, hashing and counting as the bytes pass.

    Reading stops with `SizeMismatch` as soon as the stream overruns the promised size, so a
    lying client cannot make a backend store more than it announced.
    """

    def __init__(self, stream: BinaryIO, *, size: int | None, sha256: str | None) -> None:
        self._stream = stream
        self._expected_size = size
        self._expected_sha256 = sha256.lower() if sha256 is not None else None
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int) -> bytes:
        """Up to `n` bytes, fewer only at the end of the stream."""
        buffer = bytearray()
        while len(buffer) < n:
            chunk = self._stream.read(n - len(buffer))
            if not chunk:
                break
            buffer += chunk
        self._hash.update(buffer)
        self.size += len(buffer)
        if self._expected_size is not None and self.size > self._expected_size:
            raise SizeMismatch(self._expected_size, self.size)
        return bytes(buffer)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def verify(self) -> None:
        """Raise unless the whole stream matched; call after the last (empty) read."""
        if self._expected_size is not None and self.size != self._expected_size:
            raise SizeMismatch(self._expected_size, self.size)
        if self._expected_sha256 is not None and self.sha256 != self._expected_sha256:
            raise ChecksumMismatch(self._expected_sha256, self.sha256)


def sha256_base64(sha256: str) -> str:
    """The form S3's checksum headers take: base64 of the raw digest, not of the hex."""
    return base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
