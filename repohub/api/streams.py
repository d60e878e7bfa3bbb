"""Bridges between ASGI's async body/send and the blocking reads and writes of dulwich.

The protocol handlers run in a worker thread. They pull the request body one chunk at a time
and push response bytes in batches, each hop waiting on the event loop, so neither side ever
holds more than a chunk or a batch: a 1 GB push or clone streams through bounded memory.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio.from_thread

from repohub.errors import PayloadTooLarge

Send = Callable[[dict[str, Any]], Awaitable[None]]
FLUSH_BYTES = 256 * 1024
BATCH_BYTES = 1024 * 1024
PREFETCH_BATCHES = 4


class BodyReader:
    """A blocking `recv(n)` over an async body iterator, inflating gzip bodies as git sends them.

    A task on the event loop keeps reading the body ahead into a small queue of ~1 MiB
    batches while the worker thread processes the previous ones, so receiving and hashing or
    writing overlap, and a thread hop costs one per batch rather than one per socket read.
    """

    def __init__(self, chunks: AsyncIterator[bytes], *, gzip: bool, limit: int | None) -> None:
        self._chunks = chunks
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._buf = memoryview(b"")
        self._eof = False
        self._left = limit
        self._queue: asyncio.Queue[bytes | BaseException | None] | None = None
        self._pump_task: asyncio.Task[None] | None = None

    async def _start(self) -> None:
        self._queue = asyncio.Queue(maxsize=PREFETCH_BATCHES)
        self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        assert self._queue is not None
        parts: list[bytes] = []
        size = 0
        try:
            async for chunk in self._chunks:
                parts.append(chunk)
                size += len(chunk)
                if size >= BATCH_BYTES:
                    await self._queue.put(b"".join(parts))
                    parts, size = [], 0
            if parts:
                await self._queue.put(b"".join(parts))
            await self._queue.put(None)
        except Exception as exc:  # handed to the reading thread, which raises it
            await self._queue.put(exc)

    async def _next(self) -> bytes | BaseException | None:
        assert self._queue is not None
        return await self._queue.get()

    async def _stop(self) -> None:
        if self._pump_task is not None and not self._pump_task.done():
            self._pump_task.cancel()

    def close(self) -> None:
        """Stop reading ahead (the caller is done, early or not)."""
        if self._pump_task is not None:
            anyio.from_thread.run(self._stop)

    def _fill(self) -> None:
        if self._queue is None:
            anyio.from_thread.run(self._start)
        while not self._buf and not self._eof:
            item = anyio.from_thread.run(self._next)
            if isinstance(item, BaseException):
                raise item
            if item is None:
                self._eof = True
                chunk = self._inflate.flush() if self._inflate else b""
            else:
                chunk = self._inflate.decompress(item) if self._inflate is not None else item
            if self._left is not None:
                self._left -= len(chunk)
                if self._left < 0:
                    raise PayloadTooLarge("request body is larger than this server accepts")
            self._buf = memoryview(chunk)

    def recv(self, n: int) -> bytes:
        """At least one byte (b"" only at end of body), at most `n`."""
        self._fill()
        out, self._buf = self._buf[:n], self._buf[n:]
        return bytes(out)

    def read(self, n: int) -> bytes:
        """Exactly `n` bytes, fewer only at end of body."""
        parts = []
        while n > 0:
            data = self.recv(n)
            if not data:
                break
            parts.append(data)
            n -= len(data)
        return b"".join(parts)


class ResponseWriter:
    """Blocking writes into an ASGI response that has already been started."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._buf = bytearray()

    def write(self, data: bytes | memoryview) -> None:
        self._buf += data
        if len(self._buf) >= FLUSH_BYTES:
            self.flush()

    def flush(self, *, more: bool = True) -> None:
        body, self._buf = bytes(self._buf), bytearray()
        if body or not more:
            anyio.from_thread.run(
                self._send, {"type": "http.response.body", "body": body, "more_body": more}
            )

    def close(self) -> None:
        self.flush(more=False)
