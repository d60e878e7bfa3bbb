"""Xet hashes against the real client: `hf_xet.hash_files` chunks and hashes a file exactly
as an upload does, so files whose chunk boundaries are known (one chunk under 8 KiB; runs of
one byte value, where the content-defined chunker only cuts at its 128 KiB cap) pin the
chunk hash, the merkle rule (several levels, varied hashes) and the file hash."""

from __future__ import annotations

from pathlib import Path

import hf_xet
import pytest

from repohub.objects.xet.hashes import (
    ZERO_HASH,
    InvalidXetHash,
    aggregate,
    chunk_hash,
    dedup_eligible,
    file_hash,
    from_hex,
    to_hex,
    verification_hash,
)

CAP = 128 * 1024


def _client_hash(path: Path) -> str:
    (info,) = hf_xet.hash_files([str(path)])
    return str(info.hash)


def _ours(data: bytes, size: int) -> str:
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    return to_hex(file_hash([(chunk_hash(c), len(c)) for c in chunks]))


def test_string_form_reverses_each_8_byte_group() -> None:
    raw = bytes(range(32))
    text = "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"
    assert to_hex(raw) == text
    assert from_hex(text) == raw


@pytest.mark.parametrize("text", ["AB" * 32, "ab" * 31, "zz" * 32, "", "ab" * 33])
def test_from_hex_refuses_what_is_not_64_lowercase_hex(text: str) -> None:
    with pytest.raises(InvalidXetHash, match="64 lowercase hex"):
        from_hex(text)


def test_a_file_of_one_chunk_hashes_as_the_client_does(tmp_path: Path) -> None:
    data = bytes((i * 7919) % 251 for i in range(5000))
    path = tmp_path / "small.bin"
    path.write_bytes(data)
    assert _ours(data, len(data)) == _client_hash(path)


def test_a_file_of_many_chunks_hashes_as_the_client_does(tmp_path: Path) -> None:
    # 40 runs of distinct byte values: 40 full chunks with 40 different hashes, a short tail.
    data = b"".join(bytes([k]) * CAP for k in range(40)) + b"tail"
    path = tmp_path / "steps.bin"
    path.write_bytes(data)
    assert _ours(data, CAP) == _client_hash(path)
    assert _ours(data, CAP // 2) != _client_hash(path), "other boundaries, another hash"


def test_the_empty_file_is_the_zero_hash(tmp_path: Path) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    assert file_hash([]) == ZERO_HASH
    assert _client_hash(path) == to_hex(ZERO_HASH)


def test_one_entry_is_its_own_root_and_order_matters() -> None:
    a, b, c = (chunk_hash(bytes([k]) * 100) for k in range(3))
    assert aggregate([(a, 100)]) == a
    assert aggregate([(a, 1), (b, 2), (c, 3)]) != aggregate([(b, 2), (a, 1), (c, 3)])
    assert aggregate([(a, 1), (b, 2)]) != aggregate([(a, 1), (b, 3)]), "sizes are hashed"


def test_verification_depends_on_every_chunk_hash() -> None:
    a, b = chunk_hash(b"a"), chunk_hash(b"b")
    assert verification_hash([a, b]) != verification_hash([b, a])
    assert verification_hash([a]) != a


def test_dedup_eligibility_is_the_last_u64_mod_1024() -> None:
    base = bytes(24)
    assert dedup_eligible(base + (2048).to_bytes(8, "little"))
    assert not dedup_eligible(base + (2049).to_bytes(8, "little"))
