"""Bridges between ASGI's async body/send and the blocking reads and writes of dulwich.

The protocol handlers run in a worker thread. They pull the request body one chunk at a time
and push response bytes in batches, each hop waiting on the event loop, so neither side ever
holds more than a chunk or a batch: a 1 GB push or clone streams through bounded memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio.from_thread

from repohub.errors import PayloadTooLarge

Send = Callable[[dict[str, Any]], Awaitable[None]]
FLUSH_BYTES = 256 * 1024


class BodyReader:
    """A blocking `recv(n)` over an async body iterator, inflating gzip bodies as git sends them."""

    def __init__(self, chunks: AsyncIterator[bytes], *, gzip: bool, limit: int | None) -> None:
        self._chunks = chunks
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._buf = memoryview(b"")
        self._eof = False
        self._left = limit

    def _fill(self) -> None:
        while not self._buf and not self._eof:
            try:
                chunk = anyio.from_thread.run(self._chunks.__anext__)
            except StopAsyncIteration:
                self._eof = True
                chunk = self._inflate.flush() if self._inflate else b""
            else:
                if self._inflate is not None:
                    chunk = self._inflate.decompress(chunk)
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
