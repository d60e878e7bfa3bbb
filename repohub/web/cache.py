"""Per-process caches of things that never change: keyed by git object ids.

A tree id names its entries forever and a blob id its bytes, so these caches need no
invalidation, only a size bound; a node that restarts simply rebuilds them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from repohub.repos.lru import Lru


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
    storage: Lru = field(default_factory=lambda: Lru(256))  # (repo id, updated) -> figures
    pages: PageCache = field(default_factory=PageCache)  # anonymous pages
