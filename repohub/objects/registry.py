"""One `NetworkObjectStore` per fork network per process, kept open for its pack cache."""

from __future__ import annotations

import threading
from pathlib import Path

from repohub.objects.blobstore import BlobStore
from repohub.objects.gitstore import NetworkObjectStore


class ObjectStores:
    def __init__(self, blobs: BlobStore, cache_dir: Path) -> None:
        self.blobs = blobs
        self.cache_dir = cache_dir
        self._stores: dict[int, NetworkObjectStore] = {}
        self._lock = threading.Lock()

    def get(self, network_id: int, *, refresh: bool = True) -> NetworkObjectStore:
        """The store of `network_id`, with packs stored by other nodes picked up if `refresh`."""
        with self._lock:
            store = self._stores.get(network_id)
            if store is None:
                store = NetworkObjectStore(self.blobs, network_id, self.cache_dir)
                self._stores[network_id] = store
                refresh = True
        if refresh:
            store.refresh()
        return store

    def drop(self, network_id: int) -> None:
        """Delete every pack of a network that no repo uses any more."""
        store = self.get(network_id)
        for name in store.pack_names():
            store._remove_pack_by_name(name)
        store.close()
        with self._lock:
            self._stores.pop(network_id, None)

    def close(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
