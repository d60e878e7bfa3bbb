"""Xorb bodies: every chunk decoded and hashed on the way in, the stream copied unchanged,
and each way a body can be wrong refused with the chunk it breaks at."""

from __future__ import annotations

import io
import os

import pytest

from repohub.errors import InvalidArgument
from repohub.objects.xet.hashes import chunk_hash, xorb_hash
from repohub.objects.xet.xorbs import (
    CorruptStoredXorb,
    InvalidXorb,
    XorbIndex,
    XorbTooLarge,
    iter_raw_chunks,
    verify_xorb,
)
from tests.support.xetwire import chunk_record, make_xorb

CAP = 1 << 30


def _chunks() -> list[bytes]:
    text = b"weights " * 4000  # compresses: stored as LZ4
    return [os.urandom(20_000), text, bytes(range(256)) * 64, b"x"]


def _verify(body: bytes, expected: bytes, *, cap: int = CAP) -> tuple[XorbIndex, bytes]:
    sink = io.BytesIO()
    index = verify_xorb(io.BytesIO(body), expected, sink, max_bytes=cap)
    return index, sink.getvalue()


@pytest.mark.parametrize("schemes", [[0, 0, 0, 0], [0, 1, 2, 0], [1, 1, 1, 1], [2, 2, 2, 2]])
def test_a_well_formed_body_verifies_and_is_copied_unchanged(schemes: list[int]) -> None:
    chunks = _chunks()
    body, expected = make_xorb(chunks, schemes)
    index, copied = _verify(body, expected.hash)
    assert index == expected
    assert copied == body
    assert index.chunk_hashes == tuple(chunk_hash(c) for c in chunks)
    assert index.raw_bytes == sum(map(len, chunks))
    assert index.stored_bytes == len(body)
    raw = list(iter_raw_chunks(io.BytesIO(body), len(chunks)))
    assert raw == chunks


def test_a_footer_ends_the_body_and_is_not_copied() -> None:
    body, expected = make_xorb(_chunks())
    index, copied = _verify(body + b"XETBLOB\x01" + bytes(100), expected.hash)
    assert index == expected and copied == body


def test_the_hash_in_the_url_must_be_the_chunks_hash() -> None:
    body, _ = make_xorb(_chunks())
    other = xorb_hash([(chunk_hash(b"other"), 5)])
    with pytest.raises(InvalidXorb, match="its chunks hash to"):
        _verify(body, other)


def test_a_flipped_byte_changes_the_hash() -> None:
    body, expected = make_xorb(_chunks())
    damaged = bytearray(body)
    damaged[100] ^= 1
    with pytest.raises(InvalidXorb, match="hash to"):
        _verify(bytes(damaged), expected.hash)


def _header(stored: int, scheme: int, raw: int, version: int = 0) -> bytes:
    return (
        bytes([version])
        + stored.to_bytes(3, "little")
        + bytes([scheme])
        + raw.to_bytes(3, "little")
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "holds no chunk"),
        (_header(4, 0, 4)[:5], "ends inside its header"),
        (_header(4, 0, 4, version=1) + b"abcd", "header version 1"),
        (_header(4, 7, 4) + b"abcd", "scheme 7"),
        (_header(0, 0, 0), "raw length 0"),
        (_header(4, 0, 200_000) + b"abcd", "raw length 200000"),
        (_header(5, 0, 4) + b"abcde", "uncompressed but stores 5"),
        (_header(10, 0, 10) + b"abc", "after 3 of its 10"),
        (_header(6, 1, 10) + b"garbag", "LZ4 frame"),
        (_header(600_000, 1, 10) + b"x", "stored length 600000"),
    ],
)
def test_malformed_bodies_say_what_is_wrong(body: bytes, message: str) -> None:
    good = chunk_record(b"first chunk", 0)
    candidate = body if not body else good + body
    with pytest.raises(InvalidXorb, match=message) as caught:
        _verify(candidate, bytes(32))
    if body:
        assert "chunk 1" in caught.value.message


def test_an_lz4_chunk_must_decode_to_its_declared_size() -> None:
    record = bytearray(chunk_record(b"y" * 1000, 1))
    record[5:8] = (999).to_bytes(3, "little")
    with pytest.raises(InvalidXorb, match="more than its declared 999"):
        _verify(bytes(record), bytes(32))


def test_the_size_cap_is_a_413() -> None:
    body, expected = make_xorb(_chunks())
    with pytest.raises(XorbTooLarge) as caught:
        _verify(body, expected.hash, cap=len(body) - 1)
    assert caught.value.status_code == 413


def test_byte_ranges_cover_whole_chunks_with_their_headers() -> None:
    body, index = make_xorb(_chunks())
    first, last = index.byte_range(1, 3)
    assert first == index.ends[0] and last == index.ends[2]
    assert list(iter_raw_chunks(io.BytesIO(body[first:last]), 2)) == _chunks()[1:3]
    with pytest.raises(InvalidArgument, match="outside xorb"):
        index.byte_range(2, 5)


def test_the_packed_index_round_trips_and_damage_is_ours() -> None:
    _, index = make_xorb(_chunks())
    assert XorbIndex.unpack(index.pack()) == index
    with pytest.raises(CorruptStoredXorb):
        XorbIndex.unpack(index.pack()[:-3])
    with pytest.raises(CorruptStoredXorb):
        list(iter_raw_chunks(io.BytesIO(b"\x00" * 8), 1))
