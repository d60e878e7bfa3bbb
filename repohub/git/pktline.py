"""pkt-line reading that tells a flush-pkt from a delim-pkt (protocol v2 needs both)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum

from dulwich.errors import GitProtocolError, HangupException


class Special(Enum):
    FLUSH = b"0000"
    DELIM = b"0001"
    RESPONSE_END = b"0002"


_SPECIAL = {s.value: s for s in Special}
MAX_PKT = 65520


def read_pkt(read: Callable[[int], bytes]) -> bytes | Special:
    head = read(4)
    if not head:
        raise HangupException
    if head in _SPECIAL:
        return _SPECIAL[head]
    try:
        size = int(head, 16)
    except ValueError:
        raise GitProtocolError(f"invalid pkt-line length {head!r}") from None
    if not 4 < size <= MAX_PKT or head.strip(b"0123456789abcdef"):
        raise GitProtocolError(f"invalid pkt-line length {head!r}")
    data = read(size - 4)
    if len(data) != size - 4:
        raise GitProtocolError("truncated pkt-line")
    return data


def read_section(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """The lines up to the next flush or delim (which ends the section)."""
    while True:
        pkt = read_pkt(read)
        if isinstance(pkt, Special):
            return
        yield pkt.rstrip(b"\n")
