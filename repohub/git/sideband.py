"""Side-band-64k framing that stays linear in the size of what it sends.

dulwich's ``Protocol.write_sideband`` cuts its payload with ``blob = blob[65515:]``,
copying the rest of the buffer for every frame: quadratic, 15 s for one 64 MiB blob.
Here frames are cut from a ``memoryview``, so each byte is copied once, into the frame
that carries it. Small writes are gathered into full frames because a pack of
thousands of small objects must not cost a frame (and a send) per object.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["MAX_PAYLOAD", "SidebandWriter"]

MAX_PAYLOAD = 65515
"""A pkt-line is at most 65520 bytes: 4 of length, 1 of channel, 65515 of payload."""

DATA, PROGRESS, ERROR = 1, 2, 3

Write = Callable[[bytes | memoryview], object]


class SidebandWriter:
    """Frame a byte stream into side-band pkt-lines on ``channel``.

    Data written with ``write`` is buffered up to ``max_payload`` bytes; call
    ``flush`` before the flush-pkt that ends the response, or the tail is lost. Every
    byte is copied into a frame or the buffer before ``write`` returns, so callers may
    reuse their buffers, and ``write`` (the transport) gets one ``bytes`` per frame.
    ``progress`` and ``error`` messages go out at once.
    """

    def __init__(self, write: Write, channel: int = DATA, max_payload: int = MAX_PAYLOAD) -> None:
        if not 0 < max_payload <= MAX_PAYLOAD:
            raise ValueError(f"max_payload must be in 1..{MAX_PAYLOAD}, not {max_payload}")
        if not 0 < channel < 256:
            raise ValueError(f"channel must fit in a byte, not {channel}")
        self._write = write
        self._channel = channel
        self._max = max_payload
        self._buf = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data``; full frames go out now, the remainder waits for more."""
        view = memoryview(data).cast("B")
        pos = 0
        if self._buf:
            pos = min(self._max - len(self._buf), len(view))
            self._buf += view[:pos]
            if len(self._buf) < self._max:
                return
            self._emit(self._channel, self._buf)
            self._buf.clear()
        while len(view) - pos >= self._max:
            self._emit(self._channel, view[pos : pos + self._max])
            pos += self._max
        self._buf += view[pos:]

    def flush(self) -> None:
        """Send buffered data as a (short) frame."""
        if self._buf:
            self._emit(self._channel, self._buf)
            self._buf.clear()

    def progress(self, msg: bytes) -> None:
        """Send ``msg`` on the progress channel, which git prints as ``remote: ...``.

        Pending data is not flushed first: the channels are independent streams, and
        flushing on every progress tick would bring back the small frames buffering
        avoids.
        """
        self._emit_all(PROGRESS, msg)

    def error(self, msg: bytes) -> None:
        """Send ``msg`` on the error channel, after any pending data.

        The client aborts the fetch when it reads this frame.
        """
        self.flush()
        self._emit_all(ERROR, msg)

    def _emit_all(self, channel: int, msg: bytes) -> None:
        view = memoryview(msg).cast("B")
        for start in range(0, len(view), self._max):
            self._emit(channel, view[start : start + self._max])

    def _emit(self, channel: int, payload: bytes | bytearray | memoryview) -> None:
        # One join per frame: the payload is copied once, next to its 5-byte prefix,
        # so the transport gets one buffer per frame instead of two.
        prefix = b"%04x%c" % (len(payload) + 5, channel)
        self._write(b"".join((prefix, payload)))
