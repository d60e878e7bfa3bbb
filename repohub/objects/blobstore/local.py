"""`LocalBlobStore`: blobs as files under one directory.

The embedded configuration's store. Every write lands in `{root}/.tmp/` first and is renamed
into place, so a reader (or a crash) never sees half a blob. The key guard and the verifying
reader live here because both backends share them and this module imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast
from urllib.parse import unquote, urlsplit

from repohub.errors import NotFound
from repohub.objects.blobstore import BlobInfo
from repohub.objects.blobstore.verify import TMP_DIR, VerifyingReader, check_key, check_prefix

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK_SIZE = 1024 * 1024


class _RangeReader(io.RawIOBase):
    """A file limited to its next `length` bytes, so callers cannot read past a range end."""

    def __init__(self, file: io.BufferedReader, length: int) -> None:
        self._file = file
        self._remaining = length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self._remaining:
            size = self._remaining
        data = self._file.read(size)
        self._remaining -= len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")[: self._remaining]
        count = self._file.readinto(view) if view else 0
        self._remaining -= count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


class LocalBlobStore:
    """A `BlobStore` over a directory on a local (or shared POSIX) filesystem."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_url(cls, url: str) -> LocalBlobStore:
        """Build from `file:///absolute/path`, the form `REPOHUB_STORAGE_URL` uses."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost") or not parts.path:
            raise ValueError(f"not a local storage URL: {url!r}")
        return cls(Path(unquote(parts.path)))

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _temp_path(self) -> Path:
        directory = self.root / TMP_DIR
        directory.mkdir(exist_ok=True)
        return directory / uuid.uuid4().hex

    def _commit(self, temp: Path, key: str) -> BlobInfo:
        """Atomically publish a fully written temporary file under `key`."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp.replace(target)
        _fsync_directory(target.parent)
        return BlobInfo(key, target.stat().st_size)

    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        sha256: str | None = None,
    ) -> BlobInfo:
        check_key(key)
        temp = self._temp_path()
        try:
            _write_verified(temp, VerifyingReader(stream, size=size, sha256=sha256))
            return self._commit(temp, key)
        finally:
            temp.unlink(missing_ok=True)

    def put_file(self, key: str, path: str) -> BlobInfo:
        """Hard-link `path` in when possible: the caller must not modify the file afterwards."""
        check_key(key)
        temp = self._temp_path()
        try:
            try:
                os.link(path, temp)
            except OSError:
                _copy_durably(Path(path), temp)
            return self._commit(temp, key)
        finally:
            temp.unlink(missing_ok=True)

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> BinaryIO:
        try:
            file = self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
            raise NotFound(f"blob {key} not found") from error
        file.seek(start)
        if end is None:
            return file
        return cast(BinaryIO, _RangeReader(file, max(end - start, 0)))

    def head(self, key: str) -> BlobInfo | None:
        path = self._path(key)
        return BlobInfo(key, path.stat().st_size) if path.is_file() else None

    def download_to(self, key: str, path: str) -> None:
        target = Path(path)
        with self.open(key) as source:
            handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            try:
                with os.fdopen(handle, "wb") as sink:
                    shutil.copyfileobj(source, sink, CHUNK_SIZE)
                Path(temp).replace(target)
            finally:
                Path(temp).unlink(missing_ok=True)

    def copy(self, source: str, target: str) -> BlobInfo:
        source_path = self._path(source)
        if not source_path.is_file():
            raise NotFound(f"no blob {source!r}")
        return self.put_file(target, str(source_path))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> Iterator[BlobInfo]:
        """Walks only the directory that holds `prefix`, sorted as S3 sorts keys."""
        check_prefix(prefix)
        directory, _, _ = prefix.rpartition("/")
        for key, size in _walk_sorted(self.root / directory, directory):
            if key.startswith(prefix) and not key.startswith(f"{TMP_DIR}/"):
                yield BlobInfo(key, size)

    def presigned_get(self, key: str, *, expires_in: int) -> str | None:
        """None: the app serves local blobs through its own signed URLs."""
        check_key(key)
        return None

    def presigned_put(
        self,
        key: str,
        *,
        expires_in: int,
        size: int,
        sha256: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str | None:
        """None: the app accepts local uploads through its own signed URLs."""
        check_key(key)
        return None


def _write_verified(temp: Path, reader: VerifyingReader) -> None:
    """Stream into `temp` chunk by chunk, so memory stays flat whatever the blob's size."""
    with temp.open("xb") as sink:
        while chunk := reader.read(CHUNK_SIZE):
            sink.write(chunk)
        reader.verify()
        sink.flush()
        os.fsync(sink.fileno())


def _copy_durably(source: Path, temp: Path) -> None:
    with source.open("rb") as reader, temp.open("xb") as sink:
        shutil.copyfileobj(reader, sink, CHUNK_SIZE)
        sink.flush()
        os.fsync(sink.fileno())


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable; some filesystems refuse to fsync a directory, which is fine."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _walk_sorted(directory: Path, key_prefix: str) -> Iterator[tuple[str, int]]:
    """Files under `directory` in key order, lazily.

    A directory `a` sorts as `a/`, which puts `a.b` before `a/x` exactly as byte-wise key
    order does, so the walk needs no global sort.
    """
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    base = f"{key_prefix}/" if key_prefix else ""
    for entry in sorted(entries, key=_sort_name):
        if entry.is_dir():
            yield from _walk_sorted(Path(entry.path), f"{base}{entry.name}")
        elif entry.is_file():
            yield f"{base}{entry.name}", entry.stat().st_size


def _sort_name(entry: os.DirEntry[str]) -> str:
    return f"{entry.name}/" if entry.is_dir() else entry.name
