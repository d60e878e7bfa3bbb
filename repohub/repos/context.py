"""What the domain needs to act: database sessions, blob storage, object stores, settings.

Built once by an entry point and passed down; nothing here reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from repohub.config import Settings
from repohub.objects.blobstore import BlobStore, open_blobstore
from repohub.objects.blobstore.local import LocalBlobStore
from repohub.objects.lfs import BlobLfsStorage, LfsStorage
from repohub.objects.registry import ObjectStores
from repohub.objects.xet.store import RecentXorbs, XetStore

if TYPE_CHECKING:
    from repohub.db.engine import Sessions


@dataclass
class Hub:
    settings: Settings
    sessions: Sessions
    blobs: BlobStore
    stores: ObjectStores
    lfs: LfsStorage
    xet: XetStore

    @classmethod
    def build(cls, settings: Settings) -> Hub:
        from repohub.db.engine import make_engine, make_session_factory
        from repohub.repos.xet.lfs import XetBackedLfs

        blobs = open_blobstore(settings)
        sessions = make_session_factory(make_engine(settings.resolved_database_url))
        recent = None
        if not isinstance(blobs, LocalBlobStore) and settings.xet_recent_bytes:
            recent = RecentXorbs(
                settings.resolved_cache_dir / "xet-recent", settings.xet_recent_bytes
            )
        xet = XetStore(
            blobs,
            settings.resolved_cache_dir / "xet-spool",
            max_xorb_bytes=settings.max_xorb_bytes,
            recent=recent,
        )
        plain = BlobLfsStorage(blobs, single_put_limit=settings.lfs_single_put_limit)
        return cls(
            settings,
            sessions,
            blobs,
            ObjectStores(blobs, settings.resolved_cache_dir),
            XetBackedLfs(plain, sessions, xet),
            xet,
        )

    def close(self) -> None:
        self.stores.close()
        self.sessions.dispose()
