"""Xet's hashes: keyed BLAKE3 over chunks, a merkle rule over chunk lists, and the string form.

Every Xet id (chunk, xorb, file, term verification) is 32 bytes, and the server recomputes
each of them from bytes or chunk hashes it holds itself, so nobody can name content that is
not theirs. Shards carry the raw bytes; URLs, JSON and headers carry `to_hex`, which is not the
plain hex of those bytes (each 8-byte group is reversed: the client prints four little-endian
u64s).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence

import blake3

from repohub.errors import InvalidArgument

HASH_SIZE = 32
DATA_KEY = bytes(
    (102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28,
     157, 228, 33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41)
)  # fmt: skip
INTERNAL_NODE_KEY = bytes(
    (1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230,
     93, 221, 83, 111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63)
)  # fmt: skip
VERIFICATION_KEY = bytes(
    (127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243,
     164, 205, 38, 213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195)
)  # fmt: skip
ZERO_HASH = bytes(HASH_SIZE)

_GROUPS = struct.Struct("<4Q")
_HEX_RE = re.compile(r"[0-9a-f]{64}")
_MAX_GROUP = 9  # a merkle node has 2..9 children
_DEDUP_MODULUS = 1024


class InvalidXetHash(InvalidArgument):
    """A hash in a URL or JSON body that is not 64 lowercase hex characters."""


def keyed(key: bytes, data: bytes) -> bytes:
    return blake3.blake3(data, key=key).digest()


def chunk_hash(data: bytes) -> bytes:
    return keyed(DATA_KEY, data)


def to_hex(h: bytes) -> str:
    """The string form: bytes 00 01 .. 07 print as `0706050403020100`, and so on per group."""
    return "".join(f"{group:016x}" for group in _GROUPS.unpack(h))


def from_hex(text: str) -> bytes:
    if not isinstance(text, str) or not _HEX_RE.fullmatch(text):
        raise InvalidXetHash(f"invalid Xet hash {text!r}: expected 64 lowercase hex characters")
    return _GROUPS.pack(*(int(text[i : i + 16], 16) for i in range(0, 64, 16)))


def _last_u64(h: bytes) -> int:
    return int.from_bytes(h[24:32], "little")


def _group_end(entries: Sequence[tuple[bytes, int]], start: int) -> int:
    """Where the group that begins at `start` ends: at the first child from the third on
    whose hash is 0 mod 4, else after nine children (or at the end of the list)."""
    left = len(entries) - start
    if left <= 2:
        return len(entries)
    limit = min(_MAX_GROUP, left)
    for j in range(2, limit):
        if _last_u64(entries[start + j][0]) % 4 == 0:
            return start + j + 1
    return start + limit


def _node(group: Sequence[tuple[bytes, int]]) -> tuple[bytes, int]:
    text = "".join(f"{to_hex(h)} : {size}\n" for h, size in group)
    return keyed(INTERNAL_NODE_KEY, text.encode()), sum(size for _, size in group)


def aggregate(entries: Sequence[tuple[bytes, int]]) -> bytes:
    """The merkle root of (hash, size) entries; one entry is its own root, none is zeros."""
    level = list(entries)
    if not level:
        return ZERO_HASH
    while len(level) > 1:
        merged = []
        start = 0
        while start < len(level):
            end = _group_end(level, start)
            merged.append(_node(level[start:end]))
            start = end
        level = merged
    return level[0][0]


def xorb_hash(chunks: Sequence[tuple[bytes, int]]) -> bytes:
    """A xorb's id from its (chunk hash, raw size) list."""
    return aggregate(chunks)


def file_hash(chunks: Sequence[tuple[bytes, int]]) -> bytes:
    """A file's id from all its chunks in order; the empty file's id is 32 zero bytes."""
    if not chunks:
        return ZERO_HASH
    return keyed(ZERO_HASH, aggregate(chunks))


def verification_hash(chunk_hashes: Sequence[bytes]) -> bytes:
    """The proof a shard carries per term: only a holder of the raw chunk hashes can make it."""
    return keyed(VERIFICATION_KEY, b"".join(chunk_hashes))


def dedup_eligible(h: bytes) -> bool:
    """Whether a chunk is one the client may ask the global dedup index about (1 in 1024)."""
    return _last_u64(h) % _DEDUP_MODULUS == 0
