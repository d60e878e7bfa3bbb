"""Per-process caches of things that never change: keyed by git object ids.

A tree id names its entries forever and a blob id its bytes, so these caches need no
invalidation, only a size bound; a node that restarts simply rebuilds them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

V = TypeVar("V")


class Lru(Generic[V]):
    """A thread-safe LRU map with a bound on entries. Values are computed outside the
    lock, so one slow miss does not stall the hits of other requests."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: Hashable) -> V | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


class PageCache:
    """Whole pages as anonymous visitors see them, for a few seconds.

    Keys carry the state the page was rendered from, read through the access check on every
    request (a repo's row; a search's hits), so a page is never served to someone who may
    not read it, and a push or a setting change is a new key at once. What the key leaves out
    (fork counts, "3 minutes ago") may lag by at most `ttl` seconds.
    """

    def __init__(self, size: int = 1024, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._lru: Lru[tuple[float, str]] = Lru(size)

    def get(self, key: Hashable, render: Callable[[], str]) -> str:
        now = time.monotonic()
        hit = self._lru.peek(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        html = render()
        self._lru.put(key, (now, html))
        return html


@dataclass
class Caches:
    trees: Lru = field(default_factory=lambda: Lru(512))  # tree id -> described entries
    objects: Lru = field(default_factory=lambda: Lru(8192))  # peeled refs, commits, subtrees
    cards: Lru = field(default_factory=lambda: Lru(256))  # (blob id, links) -> card + HTML
    files: Lru = field(default_factory=lambda: Lru(256))  # (blob id, name) -> highlighted HTML
    headers: Lru = field(default_factory=lambda: Lru(256))  # LFS oid -> safetensors summary
    fragments: Lru = field(default_factory=lambda: Lru(256))  # rendered HTML pieces
    pages: PageCache = field(default_factory=PageCache)  # anonymous pages
