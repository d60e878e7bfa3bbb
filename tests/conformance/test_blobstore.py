"""The `BlobStore` contract, run against every backend, plus what S3 itself must enforce."""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, cast

import pytest
from botocore.exceptions import ClientError

from repohub.errors import ChecksumMismatch, NotFound, SizeMismatch
from repohub.objects.blobstore import BlobInfo, BlobStore
from repohub.objects.blobstore.local import LocalBlobStore
from repohub.objects.blobstore.s3 import PART_SIZE, S3BlobStore, parse_s3_url, sha256_base64
from tests.support.seaweed import S3Server

MIB = 1024 * 1024
DATA = bytes(range(256)) * 40  # 10,240 bytes
KEY = "lfs/ab/cd/abcdef"
BAD_KEYS = ["", "../x", "a/../b", "a/..", "a..b", "/abs", "a\\b", "a//b", "a/", "./a", ".tmp/x"]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_bytes(
    store: BlobStore, key: str, data: bytes, *, size: int | None = None, sha256: str | None = None
) -> BlobInfo:
    return store.put(key, io.BytesIO(data), size=size, sha256=sha256)


def read(store: BlobStore, key: str, *, start: int = 0, end: int | None = None) -> bytes:
    with store.open(key, start=start, end=end) as stream:
        return stream.read()


class GeneratedStream(io.RawIOBase):
    """`size` deterministic bytes made on demand, never all at once.

    Records the size of every read, so a test can prove the store pulled the stream in
    bounded pieces instead of reading it whole. The pattern's period is not a power of two,
    so parts stored out of order would change the hash.
    """

    PATTERN = random.Random(7).randbytes(MIB + 7)

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.requests: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        self.requests.append(-1 if n is None else n)
        remaining = self.size - self.position
        count = remaining if n is None or n < 0 else min(n, remaining)
        data = self._bytes_at(self.position, count)
        self.position += count
        return data

    def _bytes_at(self, offset: int, count: int) -> bytes:
        out = bytearray()
        while len(out) < count:
            start = (offset + len(out)) % len(self.PATTERN)
            out += self.PATTERN[start : start + count - len(out)]
        return bytes(out)

    @classmethod
    def digest(cls, size: int) -> str:
        stream, digest = cls(size), hashlib.sha256()
        while chunk := stream.read(MIB):
            digest.update(chunk)
        return digest.hexdigest()

    @classmethod
    def slice(cls, start: int, end: int) -> bytes:
        return cls(end)._bytes_at(start, end - start)


def http(method: str, url: str, body: bytes | None = None, **headers: str) -> tuple[int, bytes]:
    """Status and body of an anonymous request: no credentials but what the URL carries."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


# --- the contract, for every backend ---------------------------------------------------------


def test_put_open_head(blobstore: BlobStore) -> None:
    assert put_bytes(blobstore, KEY, DATA, size=len(DATA), sha256=sha(DATA)) == BlobInfo(
        KEY, len(DATA)
    )
    assert read(blobstore, KEY) == DATA
    assert blobstore.head(KEY) == BlobInfo(KEY, len(DATA))


def test_put_without_expectations(blobstore: BlobStore) -> None:
    assert put_bytes(blobstore, "a/b", b"x") == BlobInfo("a/b", 1)
    assert put_bytes(blobstore, "empty", b"") == BlobInfo("empty", 0)
    assert read(blobstore, "empty") == b""


def test_put_accepts_uppercase_sha256(blobstore: BlobStore) -> None:
    put_bytes(blobstore, KEY, DATA, sha256=sha(DATA).upper())
    assert read(blobstore, KEY) == DATA


def test_put_replaces(blobstore: BlobStore) -> None:
    put_bytes(blobstore, KEY, b"old")
    put_bytes(blobstore, KEY, b"newer")
    assert read(blobstore, KEY) == b"newer"


def test_open_is_a_binary_file(blobstore: BlobStore) -> None:
    put_bytes(blobstore, KEY, DATA)
    stream = blobstore.open(KEY)
    try:
        assert stream.read(10) == DATA[:10]
        assert stream.read(5) == DATA[10:15]
        assert stream.read() == DATA[15:]
    finally:
        stream.close()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        *[(0, None), (5, None), (0, 7), (5, 7), (100, 5000), (9000, 20000), (7, 7), (9, 3)],
        *[(len(DATA), None), (len(DATA) + 5, None), (len(DATA) - 1, None)],
    ],
)
def test_open_range(blobstore: BlobStore, start: int, end: int | None) -> None:
    put_bytes(blobstore, KEY, DATA)
    expected = DATA[start:end] if end is None or end > start else b""
    assert read(blobstore, KEY, start=start, end=end) == expected


def test_range_reader_stops_at_end(blobstore: BlobStore) -> None:
    put_bytes(blobstore, KEY, DATA)
    with blobstore.open(KEY, start=10, end=20) as stream:
        assert stream.read(4) == DATA[10:14]
        assert stream.read(100) == DATA[14:20]
        assert stream.read(100) == b""


def test_range_of_empty_blob(blobstore: BlobStore) -> None:
    put_bytes(blobstore, "empty", b"")
    assert read(blobstore, "empty", start=0, end=10) == b""


def test_missing_key(blobstore: BlobStore, tmp_path: Path) -> None:
    assert blobstore.head("no/such") is None
    with pytest.raises(NotFound):
        blobstore.open("no/such")
    with pytest.raises(NotFound):
        blobstore.open("no/such", start=3, end=3)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with pytest.raises(NotFound):
        blobstore.download_to("no/such", str(downloads / "out"))
    assert list(downloads.iterdir()) == []


def test_missing_key_below_a_blob(blobstore: BlobStore) -> None:
    put_bytes(blobstore, "a/b", b"x")
    assert blobstore.head("a/b/c") is None
    assert blobstore.head("a") is None
    with pytest.raises(NotFound):
        blobstore.open("a/b/c")


def test_copy(blobstore: BlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    blobstore.put("copy/source", io.BytesIO(data))
    info = blobstore.copy("copy/source", "copy/target")
    assert info.size == len(data)
    with blobstore.open("copy/target") as f:
        assert f.read() == data
    blobstore.delete("copy/source")
    with blobstore.open("copy/target") as f:
        assert f.read() == data, "the copy does not depend on its source"
    with pytest.raises(NotFound):
        blobstore.copy("copy/missing", "copy/other")


def test_delete(blobstore: BlobStore) -> None:
    put_bytes(blobstore, KEY, DATA)
    blobstore.delete(KEY)
    assert blobstore.head(KEY) is None
    blobstore.delete(KEY)
    blobstore.delete("never/there")


def test_list_sorted_recursive_prefixed(blobstore: BlobStore) -> None:
    keys = ["b", "a/c", "a/b/2", "a/b/1", "a0", "ab/x", "a/b/1x"]
    for number, key in enumerate(keys):
        put_bytes(blobstore, key, b"x" * number)
    sizes = dict(zip(keys, range(len(keys)), strict=True))

    def listed(prefix: str) -> list[BlobInfo]:
        return list(blobstore.list(prefix))

    assert listed("") == [BlobInfo(k, sizes[k]) for k in sorted(keys)]
    assert [i.key for i in listed("a/")] == ["a/b/1", "a/b/1x", "a/b/2", "a/c"]
    assert [i.key for i in listed("a")] == ["a/b/1", "a/b/1x", "a/b/2", "a/c", "a0", "ab/x"]
    assert [i.key for i in listed("a/b/1")] == ["a/b/1", "a/b/1x"]
    assert [i.key for i in listed("a/b/")] == ["a/b/1", "a/b/1x", "a/b/2"]
    assert listed("zzz/") == []
    assert listed("b/") == []


def test_list_names_that_sort_before_a_slash(blobstore: BlobStore) -> None:
    """Only the set is promised when a sibling name continues a directory's name with a
    byte below `/`: AWS S3 and the local store list `a.b` before `a/x` (byte order), while
    SeaweedFS walks directory `a` before its sibling `a.b`."""
    keys = ["a/x", "a.b", "a-c/y"]
    for key in keys:
        put_bytes(blobstore, key, b"x")
    assert sorted(info.key for info in blobstore.list("")) == sorted(keys)
    assert [info.key for info in blobstore.list("a/")] == ["a/x"]


def test_download_to(blobstore: BlobStore, tmp_path: Path) -> None:
    put_bytes(blobstore, KEY, DATA)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    target = downloads / "pack"
    target.write_bytes(b"stale")
    blobstore.download_to(KEY, str(target))
    assert target.read_bytes() == DATA
    assert [p.name for p in downloads.iterdir()] == ["pack"]


def test_put_file(blobstore: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "pack"
    source.write_bytes(DATA)
    assert blobstore.put_file("git/1/pack-1.pack", str(source)) == BlobInfo(
        "git/1/pack-1.pack", len(DATA)
    )
    assert read(blobstore, "git/1/pack-1.pack") == DATA
    assert source.read_bytes() == DATA


def test_put_file_large(blobstore: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "pack"
    size = PART_SIZE + 3 * MIB  # the multipart path on S3
    with source.open("wb") as sink:
        stream = GeneratedStream(size)
        while chunk := stream.read(MIB):
            sink.write(chunk)
    blobstore.put_file("git/1/big.pack", str(source))
    assert blobstore.head("git/1/big.pack") == BlobInfo("git/1/big.pack", size)
    start = PART_SIZE - 10
    assert read(blobstore, "git/1/big.pack", start=start, end=start + 20) == (
        GeneratedStream.slice(start, start + 20)
    )


@pytest.mark.parametrize("declared", [len(DATA) - 1, len(DATA) + 1, 0])
def test_size_mismatch_stores_nothing(blobstore: BlobStore, declared: int) -> None:
    with pytest.raises(SizeMismatch) as caught:
        put_bytes(blobstore, KEY, DATA, size=declared, sha256=sha(DATA))
    assert caught.value.expected == declared
    assert_nothing_stored(blobstore)


def test_checksum_mismatch_stores_nothing(blobstore: BlobStore) -> None:
    with pytest.raises(ChecksumMismatch) as caught:
        put_bytes(blobstore, KEY, DATA, size=len(DATA), sha256=sha(b"other"))
    assert (caught.value.expected, caught.value.got) == (sha(b"other"), sha(DATA))
    assert_nothing_stored(blobstore)


def test_failed_put_keeps_previous_blob(blobstore: BlobStore) -> None:
    put_bytes(blobstore, KEY, b"previous")
    with pytest.raises(ChecksumMismatch):
        put_bytes(blobstore, KEY, DATA, sha256=sha(b"other"))
    assert read(blobstore, KEY) == b"previous"


def assert_nothing_stored(store: BlobStore) -> None:
    assert store.head(KEY) is None
    assert list(store.list("")) == []
    if isinstance(store, LocalBlobStore):
        assert list((store.root / ".tmp").iterdir()) == []


def test_large_streamed_put(blobstore: BlobStore) -> None:
    size = 40 * MIB
    stream = GeneratedStream(size)
    digest = GeneratedStream.digest(size)
    info = blobstore.put("big", cast(BinaryIO, stream), size=size, sha256=digest)
    assert info == BlobInfo("big", size)
    assert all(0 < n <= PART_SIZE for n in stream.requests), "store read the stream whole"
    assert blobstore.head("big") == info
    for start in (0, PART_SIZE - 5, 2 * PART_SIZE - 5, size - 5):
        assert read(blobstore, "big", start=start, end=start + 10) == (
            GeneratedStream.slice(start, min(start + 10, size))
        )
    with blobstore.open("big") as whole:
        copied = hashlib.sha256()
        while chunk := whole.read(MIB):
            copied.update(chunk)
    assert copied.hexdigest() == digest


@pytest.mark.parametrize("declared_size", [None, 20 * MIB, 30 * MIB])
def test_large_mismatch_stores_nothing(blobstore: BlobStore, declared_size: int | None) -> None:
    stream = cast(BinaryIO, GeneratedStream(25 * MIB))
    with pytest.raises((ChecksumMismatch, SizeMismatch)):
        blobstore.put(KEY, stream, size=declared_size, sha256=sha(b"other"))
    assert_nothing_stored(blobstore)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_key_guard(blobstore: BlobStore, key: str, tmp_path: Path) -> None:
    source = tmp_path / "file"
    source.write_bytes(b"x")
    calls = [
        lambda: put_bytes(blobstore, key, b"x"),
        lambda: blobstore.put_file(key, str(source)),
        lambda: blobstore.open(key),
        lambda: blobstore.head(key),
        lambda: blobstore.delete(key),
        lambda: blobstore.download_to(key, str(tmp_path / "out")),
        lambda: blobstore.presigned_get(key, expires_in=60),
        lambda: blobstore.presigned_put(key, expires_in=60, size=1),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="invalid blob key"):
            call()
    assert list(blobstore.list("")) == []


@pytest.mark.parametrize("prefix", ["../", "/a", "a//", "a\\b", ".tmp/"])
def test_list_prefix_guard(blobstore: BlobStore, prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        list(blobstore.list(prefix))


# --- local backend ---------------------------------------------------------------------------


def test_local_has_no_presigned_urls(local_blobstore: LocalBlobStore) -> None:
    put_bytes(local_blobstore, KEY, DATA)
    assert local_blobstore.presigned_get(KEY, expires_in=60) is None
    assert local_blobstore.presigned_put(KEY, expires_in=60, size=1, sha256=sha(b"x")) is None


def test_local_keys_stay_inside_root(local_blobstore: LocalBlobStore) -> None:
    put_bytes(local_blobstore, KEY, DATA)
    assert (local_blobstore.root / KEY).read_bytes() == DATA


@pytest.mark.parametrize("url", ["s3://bucket/x", "file://host/path", "file://", "/plain/path"])
def test_local_rejects_other_urls(url: str) -> None:
    with pytest.raises(ValueError, match="not a local storage URL"):
        LocalBlobStore.from_url(url)


# --- S3 backend and the server's own checks ------------------------------------------------


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    assert parse_s3_url("s3://bucket/a/b/") == ("bucket", "a/b")
    for url in ("file:///x", "s3:///x", "s3://bucket/../x", "s3://bucket/x?y=1"):
        with pytest.raises(ValueError, match=r"S3 storage URL|invalid blob key"):
            parse_s3_url(url)


def test_s3_keys_live_under_the_prefix(s3_blobstore: S3BlobStore, seaweed: S3Server) -> None:
    put_bytes(s3_blobstore, KEY, DATA)
    response = seaweed.client().get_object(
        Bucket=seaweed.bucket, Key=f"{s3_blobstore.prefix}/{KEY}"
    )
    with response["Body"] as body:
        assert body.read() == DATA


def test_s3_failed_multipart_is_aborted(s3_blobstore: S3BlobStore, seaweed: S3Server) -> None:
    with pytest.raises(ChecksumMismatch):
        s3_blobstore.put(KEY, cast(BinaryIO, GeneratedStream(20 * MIB)), sha256=sha(b"other"))
    uploads = seaweed.client().list_multipart_uploads(
        Bucket=seaweed.bucket, Prefix=s3_blobstore.prefix
    )
    assert uploads.get("Uploads", []) == []


def test_s3_ensure_bucket(seaweed: S3Server) -> None:
    store = S3BlobStore(seaweed.client(), "fresh-bucket", "p")
    store.ensure_bucket()
    store.ensure_bucket()
    put_bytes(store, KEY, DATA)
    assert read(store, KEY) == DATA


def test_seaweed_refuses_wrong_credentials(seaweed: S3Server) -> None:
    with pytest.raises(ClientError) as caught:
        seaweed.client(secret_key="wrong-secret").list_buckets()
    assert caught.value.response["Error"]["Code"] in {"SignatureDoesNotMatch", "AccessDenied"}


def test_seaweed_refuses_anonymous_reads(s3_blobstore: S3BlobStore, seaweed: S3Server) -> None:
    put_bytes(s3_blobstore, KEY, DATA)
    url = f"{seaweed.endpoint_url}/{seaweed.bucket}/{s3_blobstore.prefix}/{KEY}"
    assert http("GET", url)[0] == 403


def test_presigned_get(s3_blobstore: S3BlobStore) -> None:
    put_bytes(s3_blobstore, KEY, DATA)
    url = s3_blobstore.presigned_get(KEY, expires_in=60)
    assert url is not None
    assert http("GET", url) == (200, DATA)


def test_presigned_get_expires(s3_blobstore: S3BlobStore) -> None:
    put_bytes(s3_blobstore, KEY, DATA)
    url = s3_blobstore.presigned_get(KEY, expires_in=1)
    assert url is not None
    time.sleep(2.5)
    assert http("GET", url)[0] == 403


def test_presigned_get_tampered_signature(s3_blobstore: S3BlobStore) -> None:
    put_bytes(s3_blobstore, KEY, DATA)
    url = s3_blobstore.presigned_get(KEY, expires_in=60)
    assert url is not None
    tampered = re.sub(
        r"(X-Amz-Signature=[0-9a-f]*)([0-9a-f])",
        lambda m: m[1] + ("0" if m[2] != "0" else "1"),
        url,
    )
    assert tampered != url
    assert http("GET", tampered)[0] == 403
    other_key = url.replace(KEY, KEY + "x")
    assert http("GET", other_key)[0] == 403


def test_presigned_put_with_checksum(s3_blobstore: S3BlobStore) -> None:
    url = s3_blobstore.presigned_put(KEY, expires_in=60, size=len(DATA), sha256=sha(DATA))
    assert url is not None
    header = {"x-amz-checksum-sha256": sha256_base64(sha(DATA))}
    wrong = bytes(reversed(DATA))
    assert http("PUT", url, wrong, **header)[0] == 400  # BadDigest: S3 hashed the body
    assert http("PUT", url, DATA)[0] == 403  # the checksum header is signed: it must be sent
    assert http("PUT", url, DATA + b"!", **header)[0] == 403  # Content-Length is signed
    assert s3_blobstore.head(KEY) is None
    assert http("PUT", url, DATA, **header)[0] == 200
    assert read(s3_blobstore, KEY) == DATA


def test_presigned_put_without_checksum_pins_the_length(s3_blobstore: S3BlobStore) -> None:
    url = s3_blobstore.presigned_put(KEY, expires_in=60, size=len(DATA))
    assert url is not None
    assert http("PUT", url, DATA[:-1])[0] == 403
    assert s3_blobstore.head(KEY) is None
    assert http("PUT", url, DATA)[0] == 200
    assert s3_blobstore.head(KEY) == BlobInfo(KEY, len(DATA))
