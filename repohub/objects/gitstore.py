"""The git object store of one fork network: immutable packs kept as blobs.

Packs and their indexes live in the BlobStore under `git/{network_id}/`; every server node
keeps a local copy of each pack it has used. Packs never change once written, so the cache
needs no invalidation: a new pack is a new name. A pack becomes part of the store when its
`.idx` blob exists, and the `.idx` is written after the `.pack`, so readers never see half
a pack.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from botocore.exceptions import BotoCoreError, ClientError
from dulwich.object_store import BucketBasedObjectStore
from dulwich.objects import ShaFile
from dulwich.pack import Pack, iter_sha1, write_pack_index

from repohub.errors import StorageUnavailable
from repohub.objects.blobstore import BlobStore
from repohub.objects.packerrors import InvalidPack
from repohub.objects.packindex import index_pack_stream

logger = logging.getLogger(__name__)
PACK_NAME_LEN = len("pack-") + 40
# What a blob store raises when it, not the pack, is at fault: S3 unreachable or refusing
# (botocore), a local blob directory that cannot be written (OSError). A missing blob is
# NotFound, which the store raises itself and which stays a KeyError-like "lacks objects".
STORAGE_ERRORS = (BotoCoreError, ClientError, OSError)


@contextmanager
def _storage(doing: str) -> Iterator[None]:
    """Blob store failures become StorageUnavailable naming what was being done, so a pusher
    is told the storage failed rather than that the bytes they sent were bad."""
    try:
        yield
    except STORAGE_ERRORS as exc:
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise StorageUnavailable(f"could not {doing} ({type(exc).__name__}: {detail})") from exc


@dataclass
class IncomingPack:
    """A received pack, indexed and completed but not yet part of the store (quarantine).

    Pre-receive policies inspect it through `get`; `publish` stores it, `discard` drops it.
    """

    store: NetworkObjectStore
    pack_path: Path
    index_path: Path
    basename: str
    object_ids: list[bytes] = field(default_factory=list)
    _pack: Pack | None = None

    @property
    def pack(self) -> Pack:
        if self._pack is None:
            self._pack = Pack(
                str(self.pack_path)[: -len(".pack")], object_format=self.store.object_format
            )
        return self._pack

    def get(self, sha: bytes) -> ShaFile:
        """An object from this pack or, failing that, from the network's store."""
        try:
            return self.pack[sha]
        except KeyError:
            return self.store[sha]

    def publish(self) -> None:
        self.close()
        self.store.adopt_pack(self.basename, self.pack_path, self.index_path)

    def close(self) -> None:
        if self._pack is not None:
            self._pack.close()
            self._pack = None

    def discard(self) -> None:
        self.close()
        for p in (self.pack_path, self.index_path):
            with suppress(FileNotFoundError):
                p.unlink()


class NetworkObjectStore(BucketBasedObjectStore):
    """dulwich's bucket store seam: list, fetch, upload and remove packs in a BlobStore."""

    def __init__(self, blobs: BlobStore, network_id: int, cache_dir: Path) -> None:
        super().__init__()
        self._blobs = blobs
        self._prefix = f"git/{network_id}/"
        self.network_id = network_id
        self.cache_dir = cache_dir / "git" / str(network_id)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()

    # -- the four methods of the seam -------------------------------------------------
    def _iter_pack_names(self) -> Iterator[str]:
        with _storage("list the packs"):
            names = {i.key[len(self._prefix) :] for i in self._blobs.list(self._prefix)}
        for name in names:
            if name.endswith(".idx") and name[: -len(".idx")] + ".pack" in names:
                yield name[: -len(".idx")]

    def _get_pack(self, name: str) -> Pack:
        base = self.cache_dir / name
        with self._lock:
            for ext in (".pack", ".idx"):
                target = base.with_name(name + ext)
                if not target.exists():
                    with _storage(f"fetch {name}{ext}"):
                        self._blobs.download_to(self._prefix + name + ext, str(target))
        return Pack(str(base), object_format=self.object_format)

    def _upload_pack(self, basename: str, pack_file, index_file) -> None:  # type: ignore[no-untyped-def]
        raise NotImplementedError("packs enter through receive_pack/adopt_pack")

    def _remove_pack_by_name(self, name: str) -> None:
        self._blobs.delete(self._prefix + name + ".idx")
        self._blobs.delete(self._prefix + name + ".pack")
        for ext in (".pack", ".idx"):
            with suppress(FileNotFoundError):
                (self.cache_dir / (name + ext)).unlink()

    # -- pack visibility ----------------------------------------------------------------
    @property
    def packs(self) -> list[Pack]:  # type: ignore[override]
        """The packs known to this node; `refresh` picks up packs other nodes stored."""
        return list(self._iter_cached_packs())

    def refresh(self) -> None:
        """Pick up packs other nodes stored. While the blob store does not answer, the packs
        this node has cached still serve (a fetch of known objects works); what needs the
        store itself (a pack not cached here, storing a pushed pack) raises
        StorageUnavailable in its turn, where the caller can tell the user."""
        with self._lock:
            try:
                self._update_pack_cache()
            except StorageUnavailable as exc:
                logger.warning("git objects of network %d: %s", self.network_id, exc.message)

    def adopt_pack(self, basename: str, pack_path: Path, index_path: Path) -> None:
        """Store a finished pack: blobs first (`.idx` last), then the local cache."""
        with _storage("store the pack"):
            self._blobs.put_file(self._prefix + basename + ".pack", str(pack_path))
            self._blobs.put_file(self._prefix + basename + ".idx", str(index_path))
        final = self.cache_dir / basename
        pack_path.replace(final.with_name(basename + ".pack"))
        index_path.replace(final.with_name(basename + ".idx"))
        with self._lock:
            if basename not in self._pack_cache:
                self._add_cached_pack(basename, Pack(str(final), object_format=self.object_format))

    def iter_prefix(self, prefix: bytes) -> Iterator[bytes]:  # type: ignore[override]
        """Object ids starting with a hex `prefix`, found by bisecting the pack indexes."""
        even = prefix[: len(prefix) // 2 * 2]
        seen: set[bytes] = set()
        for pack in self.packs:
            for binary in pack.index.iter_prefix(bytes.fromhex(even.decode())):
                sha = binary.hex().encode()
                if sha.startswith(prefix) and sha not in seen:
                    seen.add(sha)
                    yield sha

    def pack_names(self) -> list[str]:
        return sorted(self._pack_cache)

    # -- receiving ------------------------------------------------------------------------
    def receive_pack(
        self,
        read_all: Callable[[int], bytes],
        read_some: Callable[[int], bytes] | None,
        *,
        max_bytes: int | None = None,
    ) -> IncomingPack:
        """Read a (possibly thin) pack from the wire into quarantine, index and complete it.

        Raises InvalidPack with a message for the pusher when the bytes are not a pack,
        are truncated, fail their checksums, or delta against objects the network lacks;
        StorageUnavailable when the blob store failed while resolving a thin pack's bases.
        """
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix="incoming-", suffix=".pack")
        path = Path(tmp)
        try:
            with os.fdopen(fd, "w+b") as f:
                entries, pack_sha = self._copy_and_index(f, read_some or read_all, max_bytes)
            return self._finish_incoming(path, entries, pack_sha)
        except (InvalidPack, StorageUnavailable):
            path.unlink(missing_ok=True)
            raise
        except KeyError as exc:
            path.unlink(missing_ok=True)
            raise InvalidPack(f"pack refers to objects this repository lacks: {exc}") from exc
        except Exception as exc:  # the parser or dulwich choked on the bytes; the blob store
            path.unlink(missing_ok=True)  # cannot be at fault here: its errors arrive above
            raise InvalidPack(f"malformed pack: {exc}") from exc

    def _copy_and_index(
        self, f: BinaryIO, read_some: Callable[[int], bytes], max_bytes: int | None
    ) -> tuple[list[tuple[bytes, int, int]], bytes]:
        """Stream the pack into `f` while indexing it; no object is held whole unless needed.

        A thin pack comes back completed with its external bases, as the store needs.
        """

        indexed = index_pack_stream(
            read_some,
            f,
            resolve_ext_ref=self.get_raw,
            max_bytes=max_bytes,
            object_format=self.object_format,
        )
        f.flush()
        os.fsync(f.fileno())
        return sorted(indexed.entries), indexed.checksum

    def _finish_incoming(self, path: Path, entries: list, pack_sha: bytes) -> IncomingPack:  # type: ignore[type-arg]
        basename = "pack-" + iter_sha1(e[0] for e in entries).decode("ascii")
        final_pack = path.with_name(f"incoming-{basename}.pack")
        path.replace(final_pack)
        index_path = final_pack.with_suffix(".idx")
        with index_path.open("wb") as idx:
            write_pack_index(idx, entries, pack_sha, version=2)
        incoming = IncomingPack(self, final_pack, index_path, basename)
        incoming.object_ids = [e[0] for e in entries]
        return incoming
