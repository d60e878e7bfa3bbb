"""Shards: what hf_xet uploads parses back to the files and xorbs it names, each way the
bytes can lie is refused with where it breaks, and a dedup answer shows only keyed hashes."""

from __future__ import annotations

import hashlib
import os

import pytest

from repohub.objects.xet.hashes import keyed
from repohub.objects.xet.shards import (
    BOOKEND,
    FOOTER_SIZE,
    RECORD,
    InvalidShard,
    dedup_answer,
    parse_shard,
)
from tests.support.xetwire import Term, file_entry, make_xorb, shard, split


def _upload() -> tuple[bytes, list, list]:
    data = os.urandom(100_000)
    _, a = make_xorb(split(data[:60_000], 16_384))
    _, b = make_xorb(split(data[60_000:], 16_384))
    entry = file_entry([Term(a, 0, 4), Term(b, 0, len(b.raw_sizes))], data)
    small = file_entry([Term(a, 1, 2)], data[16_384:32_768])
    return shard([entry, small], [a, b]), [entry, small], [a, b]


def test_an_upload_shard_parses_to_what_it_names() -> None:
    data, files, xorbs = _upload()
    parsed = parse_shard(data)
    assert parsed.files == tuple(files)
    assert parsed.footer is None
    assert [x.xorb_hash for x in parsed.xorbs] == [x.hash for x in xorbs]
    for entry, xorb in zip(parsed.xorbs, xorbs, strict=True):
        assert tuple(c.hash for c in entry.chunks) == xorb.chunk_hashes
        assert tuple(c.raw_size for c in entry.chunks) == xorb.raw_sizes
        assert entry.raw_bytes_total == xorb.raw_bytes
    assert parsed.files[0].verification is not None and len(parsed.files[0].verification) == 2


def test_the_sha256_reads_as_the_usual_hex_digest() -> None:
    data = b"some bytes"
    _, xorb = make_xorb([data])
    entry = file_entry([Term(xorb, 0, 1)], data)
    (parsed,) = parse_shard(shard([entry], [xorb])).files
    assert parsed.sha256_hex == hashlib.sha256(data).hexdigest()


def test_every_truncation_is_refused() -> None:
    data, _, _ = _upload()
    for cut in range(0, len(data), RECORD // 2):
        with pytest.raises(InvalidShard, match="invalid shard"):
            parse_shard(data[:cut])


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, b"NotAShard".ljust(32, b"\0"), "shard tag"),
        (32, (3).to_bytes(8, "little"), "version 3"),
        (40, (99).to_bytes(8, "little"), "footer of 99"),
        (RECORD + 36, (10**6).to_bytes(4, "little"), "announced"),
    ],
)
def test_a_lying_field_is_refused(offset: int, value: bytes, message: str) -> None:
    data = bytearray(_upload()[0])
    data[offset : offset + len(value)] = value
    with pytest.raises(InvalidShard, match=message):
        parse_shard(bytes(data))


def test_bytes_after_the_xorb_section_are_refused() -> None:
    with pytest.raises(InvalidShard, match="follow its xorb section"):
        parse_shard(_upload()[0] + BOOKEND)


def test_a_dedup_answer_keys_every_chunk_hash() -> None:
    _, _, xorbs = _upload()
    key = os.urandom(32)
    answer = dedup_answer(xorbs, hmac_key=key, now=1000, expiry=2000)
    parsed = parse_shard(answer)
    assert parsed.files == ()
    assert parsed.footer is not None
    assert (parsed.footer.hmac_key, parsed.footer.creation_ts, parsed.footer.key_expiry) == (
        key,
        1000,
        2000,
    )
    assert len(answer) - FOOTER_SIZE == RECORD * (
        3 + len(xorbs) + sum(len(x.raw_sizes) for x in xorbs)
    )
    for entry, xorb in zip(parsed.xorbs, xorbs, strict=True):
        shown = tuple(c.hash for c in entry.chunks)
        assert shown == tuple(keyed(key, h) for h in xorb.chunk_hashes)
        assert not set(shown) & set(xorb.chunk_hashes), "no raw chunk hash is shown"
        assert entry.xorb_hash == xorb.hash
        starts = [c.raw_start for c in entry.chunks]
        assert starts == [sum(xorb.raw_sizes[:i]) for i in range(len(starts))]
