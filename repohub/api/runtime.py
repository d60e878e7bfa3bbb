"""Per-process tuning of a web process: its thread pools and its garbage collector.

Threads: a small pool for request work, a separate one for transfers.

Request work (an access check, a database read, a page render) holds the GIL for most of
its run, so more threads than a few only lengthen every queue: with anyio's default of 40,
the threads of 32 concurrent page views took turns on the GIL and the slowest request of a
hundred waited four times as long as the median. A small pool serves them first come,
first served. A git or LFS transfer instead spends minutes mostly waiting on sockets and
storage; it gets a pool of its own so that a few large pushes never hold up the pages.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.requests import HTTPConnection

T = TypeVar("T")
TRANSFER_THREADS = 64
# Young-generation thresholds: gen0 every 2,000 net allocations instead of 700, and the full
# collection after 20 x 50 of those instead of 10 x 10 (see `settle_heap`).
GC_THRESHOLDS = (2000, 20, 50)


def configure(app_state: object, request_threads: int) -> None:
    """Size the pools: call from inside the event loop (the app's lifespan)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = request_threads
    app_state.transfer_threads = CapacityLimiter(TRANSFER_THREADS)  # type: ignore[attr-defined]


def settle_heap() -> None:
    """Take what was built at start-up (modules, routes, templates: ~150,000 objects) out of
    the collector's sight, and collect the young generations less often.

    CPython's full collection walks every tracked object. Under load (64 connections, two
    cores) a web process ran about two a second, each 160-200 ms long, and every request in
    flight waited through it: that was the repo page's p99 (200 ms against a 51 ms median).
    Frozen start-up objects are never garbage, and request garbage dies young, so after this
    a full collection is rare and short (none in a 15 s run). For server processes only, once
    their app is built: objects frozen here are never freed.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def run_transfer(connection: HTTPConnection, func: Callable[..., T], *args: object) -> T:
    limiter = getattr(connection.app.state, "transfer_threads", None)
    return await anyio.to_thread.run_sync(func, *args, limiter=limiter)
