"""The streaming pack indexer against packs made by the real git, checked by the real git.

Every index built here must equal what `git index-pack` writes for the same bytes (object
ids, offsets, CRC32s and pack checksum, read back with `git show-index`); broken packs must
be refused with a message that says what is wrong; one big blob must not be held in memory.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Callable
from io import BytesIO
from itertools import pairwise
from pathlib import Path

import pytest
from dulwich.object_format import SHA1
from dulwich.objects import Blob, Tree
from dulwich.pack import (
    OFS_DELTA,
    REF_DELTA,
    PackData,
    PackStreamReader,
    create_delta,
    pack_object_header,
)
from dulwich.repo import Repo

from repohub.objects import packindex
from repohub.objects.blobstore.local import LocalBlobStore
from repohub.objects.gitstore import NetworkObjectStore
from repohub.objects.packerrors import InvalidPack, PackTooLarge
from repohub.objects.packindex import IndexedPack, MissingDeltaBase, index_pack_stream

GIT_ENV = {
    "PATH": os.environ["PATH"],
    "HOME": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}
WORDS = [b"weight", b"tensor", b"layer", b"epoch", b"loss", b"batch", b"grad", b"norm", b"relu"]
Entries = list[tuple[bytes, int, int]]


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, input=stdin, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {result.stderr.decode()}")
    return result.stdout


def no_ext_ref(sha: bytes) -> tuple[int, bytes]:
    raise KeyError(sha)


def index(
    data: bytes,
    out_path: Path,
    *,
    resolve: Callable[[bytes], tuple[int, bytes]] = no_ext_ref,
    read_size: Callable[[int], int] = lambda n: n,
    max_bytes: int | None = None,
) -> IndexedPack:
    """Our indexer over `data`, handing it `read_size(n)` bytes per read; pack in `out_path`."""
    wire = BytesIO(data)
    with out_path.open("w+b") as out:
        return index_pack_stream(
            lambda n: wire.read(read_size(n)), out, resolve_ext_ref=resolve, max_bytes=max_bytes
        )


def git_index(pack: Path, repo: Path) -> tuple[Entries, bytes]:
    """What `git index-pack` records for `pack`: sorted (id, offset, crc32), pack checksum."""
    idx = pack.with_suffix(".idx")
    git(repo, "index-pack", "-o", str(idx), str(pack))
    entries = []
    for line in git(repo, "show-index", stdin=idx.read_bytes()).decode().splitlines():
        offset, sha, crc = line.split()
        entries.append((bytes.fromhex(sha), int(offset), int(crc.strip("()"), 16)))
    return sorted(entries), idx.read_bytes()[-40:-20]


def entry_types(data: bytes) -> Counter[int]:
    reader = PackStreamReader(SHA1.hash_func, BytesIO(data).read)
    return Counter(u.pack_type_num for u in reader.read_objects())


def text(rng: random.Random, lines: int) -> bytes:
    return b"".join(
        b" ".join(rng.choices(WORDS, k=10)) + b" %d\n" % rng.randrange(10**6) for _ in range(lines)
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve commits editing text files (deep delta chains after `repack -adf`), a tag."""
    repo = tmp_path_factory.mktemp("history")
    git(repo, "init", "-q", "-b", "main")
    rng = random.Random(7)
    files = {f"dir{i % 3}/file{i}.txt": text(rng, 300) for i in range(12)}
    for n in range(12):
        for name in rng.sample(sorted(files), 3) if n else files:
            lines = files[name].splitlines(keepends=True)
            start = rng.randrange(len(lines) - 20)
            lines[start : start + 20] = [text(rng, 20)]
            files[name] = b"".join(lines)
            (repo / name).parent.mkdir(exist_ok=True)
            (repo / name).write_bytes(files[name])
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"commit {n}")
    git(repo, "tag", "-a", "v1", "-m", "release")
    git(repo, "repack", "-q", "-a", "-d", "-f")
    return repo


def pack_of(repo: Path, *options: str, revs: bytes | None = None) -> bytes:
    if revs is None:
        return git(repo, "pack-objects", "--all", "--stdout", "-q", *options, stdin=b"")
    return git(repo, "pack-objects", "--revs", "--stdout", "-q", *options, stdin=revs)


@pytest.fixture(scope="module")
def ofs_pack(history: Path) -> bytes:
    data = pack_of(history, "--delta-base-offset")
    assert entry_types(data)[OFS_DELTA] > 20
    return data


@pytest.fixture(scope="module")
def ref_pack(history: Path) -> bytes:
    data = pack_of(history)
    assert entry_types(data)[REF_DELTA] > 20
    return data


@pytest.mark.parametrize("kind", ["ofs_pack", "ref_pack"])
def test_index_equals_git_index_pack(
    request: pytest.FixtureRequest, history: Path, tmp_path: Path, kind: str
) -> None:
    data: bytes = request.getfixturevalue(kind)
    indexed = index(data, tmp_path / "ours.pack")
    assert (tmp_path / "ours.pack").read_bytes() == data, "copied verbatim"
    (tmp_path / "theirs.pack").write_bytes(data)
    assert (sorted(indexed.entries), indexed.checksum) == git_index(
        tmp_path / "theirs.pack", history
    )
    assert indexed.ext_refs == []


def test_index_equals_dulwich_pack_indexer(ofs_pack: bytes, tmp_path: Path) -> None:
    indexed = index(ofs_pack, tmp_path / "ours.pack")
    with PackData(str(tmp_path / "ours.pack"), object_format=SHA1) as data:
        assert sorted(indexed.entries) == list(data.sorted_entries())
        assert indexed.checksum == data.get_stored_checksum()


def test_reads_of_a_few_bytes_split_every_header(ofs_pack: bytes, tmp_path: Path) -> None:
    rng = random.Random(3)
    tiny = index(ofs_pack, tmp_path / "tiny.pack", read_size=lambda n: min(n, rng.randint(1, 9)))
    assert tiny == index(ofs_pack, tmp_path / "whole.pack")


def test_bases_evicted_from_the_cache_are_rebuilt(
    ofs_pack: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = index(ofs_pack, tmp_path / "cached.pack")
    monkeypatch.setattr(packindex, "BASE_CACHE_BYTES", 0)
    assert index(ofs_pack, tmp_path / "uncached.pack") == expected


# -- thin packs -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def thin_pack(history: Path) -> bytes:
    """The last four commits as a push sends them: deltas on objects the server has."""
    data = pack_of(history, "--thin", "--delta-base-offset", revs=b"main\n^main~4\n")
    reader = PackStreamReader(SHA1.hash_func, BytesIO(data).read)
    bases = {u.delta_base for u in reader.read_objects() if u.pack_type_num == REF_DELTA}
    listed = git(history, "rev-list", "--objects", "main", "^main~4").decode().splitlines()
    sent = {bytes.fromhex(line.split()[0]) for line in listed}
    assert bases, "some deltas are on objects the pack leaves out (the point of --thin)"
    assert not bases & sent
    return data


def test_thin_pack_is_completed_with_the_networks_bases(
    history: Path, thin_pack: bytes, tmp_path: Path
) -> None:
    source = Repo(str(history))
    try:
        indexed = index(thin_pack, tmp_path / "thin.pack", resolve=source.object_store.get_raw)
    finally:
        source.close()
    ids = [sha for sha, _, _ in indexed.entries]
    assert indexed.ext_refs
    assert set(indexed.ext_refs) <= set(ids)
    assert len(ids) == len(set(ids)), "no base appended twice"
    # The completed pack stands alone: git indexes it exactly as we did.
    assert (sorted(indexed.entries), indexed.checksum) == git_index(tmp_path / "thin.pack", history)


def test_thin_pack_without_its_base_is_refused(thin_pack: bytes, tmp_path: Path) -> None:
    with pytest.raises(MissingDeltaBase) as caught:
        index(thin_pack, tmp_path / "thin.pack")
    assert isinstance(caught.value, KeyError)
    assert "delta bases not in the pack nor the repository" in str(caught.value)


# -- broken packs ---------------------------------------------------------------------------


def refused(data: bytes, tmp_path: Path) -> str:
    with pytest.raises(InvalidPack) as caught:
        index(data, tmp_path / "broken.pack")
    return str(caught.value)


@pytest.mark.parametrize("keep", [0, 5, 12, 13, 100, 0.5, -21, -20, -1])
def test_truncated_pack_is_refused(ofs_pack: bytes, tmp_path: Path, keep: float) -> None:
    cut = int(len(ofs_pack) * keep) if isinstance(keep, float) else keep % len(ofs_pack)
    assert refused(ofs_pack[:cut], tmp_path).startswith("malformed pack: truncated")


def test_flipped_byte_inside_a_zlib_stream_is_refused(
    history: Path, ofs_pack: bytes, tmp_path: Path
) -> None:
    (tmp_path / "good.pack").write_bytes(ofs_pack)
    offsets = sorted(offset for _, offset, _ in git_index(tmp_path / "good.pack", history)[0])
    length, offset = max((b - a, a) for a, b in pairwise(offsets))
    broken = bytearray(ofs_pack)
    broken[offset + length // 2] ^= 0x55
    message = refused(bytes(broken), tmp_path)
    assert message.startswith("malformed pack: ")
    assert f"entry at offset {offset}" in message


def test_wrong_trailer_is_refused(ofs_pack: bytes, tmp_path: Path) -> None:
    broken = ofs_pack[:-1] + bytes([ofs_pack[-1] ^ 1])
    assert refused(broken, tmp_path).startswith("malformed pack: checksum mismatch")


def test_trailing_garbage_is_refused(ofs_pack: bytes, tmp_path: Path) -> None:
    message = refused(ofs_pack + b"junk", tmp_path)
    assert message == "malformed pack: 4 bytes of trailing garbage after the checksum"


@pytest.mark.parametrize("delta", [-1, 1])
def test_wrong_object_count_is_refused(ofs_pack: bytes, tmp_path: Path, delta: int) -> None:
    count = int.from_bytes(ofs_pack[8:12], "big") + delta
    body = ofs_pack[:8] + count.to_bytes(4, "big") + ofs_pack[12:-20]
    broken = body + hashlib.sha1(body, usedforsecurity=False).digest()
    assert refused(broken, tmp_path).startswith("malformed pack: ")


def test_not_a_pack_is_refused(tmp_path: Path) -> None:
    assert refused(b"PACX" + bytes(40), tmp_path) == "malformed pack: bad signature b'PACX'"


def raw_pack(objects: list[tuple[int, bytes, bytes | None]]) -> bytes:
    """A pack of whole objects and REF deltas, (type, data, delta base id), built by hand."""
    out = b"PACK" + (2).to_bytes(4, "big") + len(objects).to_bytes(4, "big")
    for type_num, data, base in objects:
        header = pack_object_header(type_num, base, len(data), object_format=SHA1)
        out += bytes(header) + zlib.compress(data)
    return out + hashlib.sha1(out, usedforsecurity=False).digest()


def tree_raw(*entries: tuple[bytes, bytes]) -> bytes:
    return b"".join(b"100644 " + name + b"\0" + sha for name, sha in entries)


def test_tree_naming_dot_dot_is_refused(tmp_path: Path) -> None:
    blob = Blob.from_string(b"payload")
    data = raw_pack(
        [(3, blob.as_raw_string(), None), (2, tree_raw((b"..", blob.sha().digest())), None)]
    )
    assert refused(data, tmp_path) == "invalid object in pack: invalid name .."


def test_tree_made_bad_by_a_delta_is_refused(tmp_path: Path) -> None:
    """Structure is checked after delta resolution too, not only for whole objects."""
    blob = Blob.from_string(b"payload")
    good = tree_raw((b"a.txt", blob.sha().digest()), (b"b.txt", blob.sha().digest()))
    bad = tree_raw((b".git", blob.sha().digest()), (b"b.txt", blob.sha().digest()))
    base_id = Tree.from_raw_string(Tree.type_num, good).sha().digest()
    delta = b"".join(create_delta(good, bad))
    data = raw_pack([(2, good, None), (REF_DELTA, delta, base_id)])
    assert refused(data, tmp_path) == "invalid object in pack: invalid name .git"


def test_ref_delta_before_its_base_resolves(history: Path, tmp_path: Path) -> None:
    """A REF delta may come before its base in the pack; git accepts that, so do we."""
    blob = Blob.from_string(b"payload")
    good = tree_raw((b"a.txt", blob.sha().digest()), (b"b.txt", blob.sha().digest()))
    other = tree_raw((b"a.txt", blob.sha().digest()), (b"c.txt", blob.sha().digest()))
    base_id = Tree.from_raw_string(Tree.type_num, good).sha().digest()
    delta = b"".join(create_delta(good, other))
    data = raw_pack([(REF_DELTA, delta, base_id), (2, good, None)])
    indexed = index(data, tmp_path / "ours.pack")
    (tmp_path / "theirs.pack").write_bytes(data)
    assert (sorted(indexed.entries), indexed.checksum) == git_index(
        tmp_path / "theirs.pack", history
    )


def test_pack_over_the_size_limit_is_refused(ofs_pack: bytes, tmp_path: Path) -> None:
    with pytest.raises(PackTooLarge, match="size limit"):
        index(ofs_pack, tmp_path / "big.pack", max_bytes=len(ofs_pack) - 1)
    assert index(ofs_pack, tmp_path / "fits.pack", max_bytes=len(ofs_pack)).entries


# -- memory ---------------------------------------------------------------------------------


def test_big_blob_is_never_held_in_memory(tmp_path: Path) -> None:
    """256 MiB of random bytes stream through with a few MiB of Python memory at most."""
    size = 256 << 20
    blob_path = tmp_path / "weights.bin"
    with blob_path.open("wb") as f:
        for _ in range(size // (16 << 20)):
            f.write(os.urandom(16 << 20))
    git(tmp_path, "init", "-q", "--bare", "repo.git")
    repo = tmp_path / "repo.git"
    fast = ("-c", "core.compression=0", "-c", "pack.compression=0")
    blob_id = git(repo, *fast, "hash-object", "-w", str(blob_path)).strip()
    blob_path.unlink()
    pack_path = tmp_path / "big.pack"
    with pack_path.open("wb") as f:
        subprocess.run(
            ["git", *fast, "pack-objects", "--stdout", "-q"],
            cwd=repo,
            env=GIT_ENV,
            input=blob_id + b"\n",
            stdout=f,
            check=True,
        )
    with pack_path.open("rb") as wire, (tmp_path / "copy.pack").open("w+b") as out:
        tracemalloc.start()
        try:
            indexed = index_pack_stream(wire.read, out, resolve_ext_ref=no_ext_ref)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert [e[0].hex().encode() for e in indexed.entries] == [blob_id]
    assert peak < 16 << 20, f"peak {peak / 2**20:.1f} MiB while indexing a 256 MiB blob"


# -- wired into the network's object store --------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> NetworkObjectStore:
    return NetworkObjectStore(LocalBlobStore(tmp_path / "blobs"), 1, tmp_path / "cache")


def test_store_completes_a_thin_push(
    history: Path, thin_pack: bytes, store: NetworkObjectStore
) -> None:
    base = pack_of(history, "--delta-base-offset", revs=b"main~4\n")
    store.receive_pack(BytesIO(base).read, None).publish()
    incoming = store.receive_pack(BytesIO(thin_pack).read, None)
    try:
        tip = git(history, "rev-parse", "main").strip()
        assert incoming.get(tip).id == tip
        git(history, "verify-pack", str(incoming.index_path))
    finally:
        incoming.discard()


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: d[:-7], "malformed pack: truncated"),
        (lambda d: d + b"x", "malformed pack: 1 bytes of trailing garbage"),
    ],
)
def test_store_refuses_and_leaves_nothing_behind(
    ofs_pack: bytes, store: NetworkObjectStore, mangle: Callable[[bytes], bytes], message: str
) -> None:
    with pytest.raises(InvalidPack, match=message):
        store.receive_pack(BytesIO(mangle(ofs_pack)).read, None)
    assert list(store.cache_dir.iterdir()) == []


def test_store_refuses_a_thin_push_it_cannot_complete(
    thin_pack: bytes, store: NetworkObjectStore
) -> None:
    with pytest.raises(InvalidPack, match="pack refers to objects this repository lacks"):
        store.receive_pack(BytesIO(thin_pack).read, None)
    assert list(store.cache_dir.iterdir()) == []


def test_store_enforces_the_size_limit(ofs_pack: bytes, store: NetworkObjectStore) -> None:
    with pytest.raises(PackTooLarge):
        store.receive_pack(BytesIO(ofs_pack).read, None, max_bytes=1000)
    assert list(store.cache_dir.iterdir()) == []
