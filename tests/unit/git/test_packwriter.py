"""write_pack against packs made by the real git, checked by the real git.

Every pack written here is accepted by ``git index-pack --strict`` and ``git verify-pack``
and the receiving repository passes ``git fsck --strict``. The PackStats counters (and
the entry types in the output) show which path each case took.
"""

from __future__ import annotations

import os
import random
import subprocess
from collections import Counter
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from dulwich.object_format import SHA1
from dulwich.pack import OFS_DELTA, REF_DELTA, Pack, PackStreamReader
from dulwich.repo import Repo

from repohub.git import packwriter
from repohub.git.packwriter import CHUNK_SIZE, PackStats, pack_layout, write_pack

GIT_ENV = {
    "PATH": os.environ["PATH"],
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


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, input=stdin, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {result.stderr.decode()}")
    return result.stdout


def text(rng: random.Random, lines: int) -> list[bytes]:
    return [
        b" ".join(rng.choices(WORDS, k=10)) + b" %d\n" % rng.randrange(10**6) for _ in range(lines)
    ]


def commit_edits(repo: Path, rng: random.Random, files: dict[str, list[bytes]], n: int) -> None:
    """Change and drop a few lines in three files, so repack finds deltas between versions.

    Files shrink, so older (larger) versions become the bases, as git prefers: a fetch
    of the newest commit then gets deltas on objects the client already has.
    """
    for name in rng.sample(sorted(files), 3):
        lines = files[name]
        for _ in range(4):
            lines[rng.randrange(len(lines))] = text(rng, 1)[0]
        del lines[rng.randrange(len(lines))]
        lines[0] = b"commit %d\n" % n
    for name, lines in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(lines))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"commit {n}")


def rev_objects(repo: Path, *revs: str) -> list[bytes]:
    out = git(repo, "rev-list", "--objects", *revs)
    return [line.split(b" ", 1)[0] for line in out.splitlines()]


def pack_files(repo: Path) -> list[Path]:
    return sorted((repo / ".git" / "objects" / "pack").glob("*.pack"))


def new_bare(path: Path) -> Path:
    git(path.parent, "init", "-q", "--bare", path.name)
    return path


def receive(dest: Path, data: bytes, *options: str) -> Path:
    """index-pack ``data`` into bare repo ``dest`` as a fetch would; return its .idx."""
    out = git(dest, "index-pack", "--strict", "--stdin", *options, stdin=data)
    idx = dest / "objects" / "pack" / f"pack-{out.split()[-1].decode()}.idx"
    git(dest, "verify-pack", str(idx))
    return idx


def fsck_at(dest: Path, tip: bytes) -> None:
    git(dest, "update-ref", "refs/heads/main", tip.decode())
    git(dest, "fsck", "--strict", "--no-dangling")


def stored(dest: Path) -> set[bytes]:
    out = git(dest, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    return set(out.split())


def entry_types(data: bytes) -> Counter[int]:
    reader = PackStreamReader(SHA1.hash_func, BytesIO(data).read)
    return Counter(unpacked.pack_type_num for unpacked in reader.read_objects())


def ref_bases(data: bytes) -> set[bytes]:
    reader = PackStreamReader(SHA1.hash_func, BytesIO(data).read)
    return {
        u.delta_base.hex().encode() for u in reader.read_objects() if u.pack_type_num == REF_DELTA
    }


def produce(packs: list[Pack], ids: list[bytes], **options: object) -> tuple[bytes, PackStats]:
    out = BytesIO()
    stats = write_pack(packs, ids, out.write, **options)  # type: ignore[arg-type]
    data = out.getvalue()
    assert stats.bytes == len(data)
    assert stats.objects == stats.reused + stats.inflated
    return data, stats


def client_at(tmp_path: Path, source: Path, rev: str) -> Path:
    """A bare repo holding ``rev`` and its history, as a client that fetched it would."""
    tmp_path.mkdir(exist_ok=True)
    client = new_bare(tmp_path / "client.git")
    receive(client, git(source, "pack-objects", "--revs", "--stdout", stdin=f"{rev}\n".encode()))
    fsck_at(client, git(source, "rev-parse", rev).strip())
    return client


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repo with 8 commits on main and 2 on side, repacked into one pack of OFS deltas."""
    repo = tmp_path_factory.mktemp("history")
    git(repo, "init", "-q", "-b", "main")
    rng = random.Random(1234)
    files = {f"dir{i % 3}/file{i}.txt": text(rng, 150) for i in range(12)}
    for n in range(8):
        commit_edits(repo, rng, files, n)
    git(repo, "checkout", "-q", "-b", "side", "main~3")
    side_files = {name: (repo / name).read_bytes().splitlines(keepends=True) for name in files}
    for n in range(8, 10):
        commit_edits(repo, rng, side_files, n)
    git(repo, "checkout", "-q", "main")
    git(repo, "repack", "-adf", "--depth=50", "--window=50")
    return repo


def open_pack(pack: Path) -> Pack:
    return Pack(str(pack.with_suffix("")), object_format=SHA1)


@pytest.fixture
def packs_of() -> Iterator[list[Pack]]:
    """Collects the packs a test opens (append to it) and closes them afterwards."""
    opened: list[Pack] = []
    yield opened
    for pack in opened:
        pack.close()


def test_history_has_ofs_deltas(history: Path) -> None:
    [pack] = pack_files(history)
    assert entry_types(pack.read_bytes())[OFS_DELTA] > 10


def test_all_objects_of_one_pack_copy_it_verbatim(
    history: Path, packs_of: list[Pack], tmp_path: Path
) -> None:
    [path] = pack_files(history)
    packs_of.append(open_pack(path))
    ids = rev_objects(history, "--all")

    data, stats = produce(packs_of, ids)

    assert data == path.read_bytes()
    assert stats == PackStats(len(ids), len(data), len(ids), 0, 0)
    dest = new_bare(tmp_path / "dest.git")
    receive(dest, data)
    fsck_at(dest, git(history, "rev-parse", "main").strip())
    assert stored(dest) == set(ids)


def test_one_branch_shortens_ofs_distances(
    history: Path, packs_of: list[Pack], tmp_path: Path
) -> None:
    """Git writes the newest objects first: leaving main's newest commits out moves the
    rest of the entries closer to their bases."""
    packs_of.append(open_pack(pack_files(history)[0]))
    ids = rev_objects(history, "side")

    data, stats = produce(packs_of, ids)

    assert stats.deltas_rewritten > 0
    assert entry_types(data)[OFS_DELTA] > 0
    dest = new_bare(tmp_path / "dest.git")
    receive(dest, data)
    fsck_at(dest, git(history, "rev-parse", "side").strip())
    assert stored(dest) == set(ids)


def test_without_ofs_delta_capability_sends_ref_deltas(
    history: Path, packs_of: list[Pack], tmp_path: Path
) -> None:
    [path] = pack_files(history)
    packs_of.append(open_pack(path))
    ids = rev_objects(history, "--all")

    data, stats = produce(packs_of, ids, ofs_delta=False)

    types = entry_types(data)
    assert types[OFS_DELTA] == 0
    assert types[REF_DELTA] == stats.deltas_rewritten == entry_types(path.read_bytes())[OFS_DELTA]
    assert stats.inflated == 0
    dest = new_bare(tmp_path / "dest.git")
    receive(dest, data)
    fsck_at(dest, git(history, "rev-parse", "main").strip())


@pytest.fixture
def pushed(history: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A server that had main~3 and then received main as a thin push.

    Returns the server and its two packs: the old one, and the pushed one completed by
    index-pack --fix-thin, whose REF deltas name bases appended to it (and also held by
    the old pack).
    """
    server = client_at(tmp_path / "server", history, "main~3")
    old = next((server / "objects" / "pack").glob("*.pack"))
    thin = git(history, "pack-objects", "--revs", "--thin", "--stdout", stdin=b"main\n^main~3\n")
    completed = receive(server, thin, "--fix-thin").with_suffix(".pack")
    assert entry_types(completed.read_bytes())[REF_DELTA] > 0
    return server, old, completed


def test_thin_pack_keeps_ref_deltas_on_client_objects(
    history: Path, pushed: tuple[Path, Path, Path], packs_of: list[Pack], tmp_path: Path
) -> None:
    _server, old, completed = pushed
    packs_of.extend(open_pack(path) for path in (old, completed))
    ids = rev_objects(history, "main", "^main~1")
    client_has = set(rev_objects(history, "main~1"))

    data, stats = produce(packs_of, ids, client_has=client_has, thin=True)

    assert stats == PackStats(len(ids), len(data), len(ids), 0, 0)
    outside = ref_bases(data) - set(ids)
    assert outside
    assert outside <= client_has
    client = client_at(tmp_path, history, "main~1")
    with pytest.raises(AssertionError, match=r"unresolved deltas|missing"):
        git(client, "index-pack", "--stdin", stdin=data)
    receive(client, data, "--fix-thin")
    fsck_at(client, git(history, "rev-parse", "main").strip())


def test_thin_pack_turns_ofs_deltas_on_client_objects_into_ref(
    history: Path, packs_of: list[Pack], tmp_path: Path
) -> None:
    """In the repacked history new versions are OFS deltas on the client's old ones."""
    packs_of.append(open_pack(pack_files(history)[0]))
    ids = rev_objects(history, "main", "^main~1")
    client_has = set(rev_objects(history, "main~1"))

    data, stats = produce(packs_of, ids, client_has=client_has, thin=True)

    assert stats.deltas_rewritten > 0
    assert stats.inflated == 0
    assert ref_bases(data) - set(ids) <= client_has
    client = client_at(tmp_path, history, "main~1")
    receive(client, data, "--fix-thin")
    fsck_at(client, git(history, "rev-parse", "main").strip())


@pytest.mark.parametrize("thin_source", ["pushed", "repacked"])
def test_without_thin_deltas_on_client_objects_are_inflated(
    history: Path,
    pushed: tuple[Path, Path, Path],
    packs_of: list[Pack],
    tmp_path: Path,
    thin_source: str,
) -> None:
    """The same requests as the two tests above with thin=False: self-contained packs."""
    if thin_source == "pushed":
        packs_of.extend(open_pack(path) for path in pushed[1:])
    else:
        packs_of.append(open_pack(pack_files(history)[0]))
    ids = rev_objects(history, "main", "^main~1")
    client_has = set(rev_objects(history, "main~1"))

    data, stats = produce(packs_of, ids, client_has=client_has)

    assert stats.inflated > 0
    assert ref_bases(data) <= set(ids)
    git(new_bare(tmp_path / "empty.git"), "index-pack", "--stdin", stdin=data)
    client = client_at(tmp_path, history, "main~1")
    receive(client, data)
    fsck_at(client, git(history, "rev-parse", "main").strip())


def test_ofs_base_chosen_from_another_pack_becomes_ref(
    history: Path, packs_of: list[Pack], tmp_path: Path
) -> None:
    """Objects up to main~4 come from an older pack; deltas on them in the big pack must
    name their base by sha, since their offsets mean nothing in the old pack."""
    prefix = tmp_path / "old" / "pack"
    prefix.parent.mkdir()
    name = git(history, "pack-objects", "--revs", str(prefix), stdin=b"main~4\n").strip().decode()
    packs_of.append(open_pack(Path(f"{prefix}-{name}.pack")))
    packs_of.append(open_pack(pack_files(history)[0]))
    ids = rev_objects(history, "--all")

    data, stats = produce(packs_of, ids)

    assert stats.deltas_rewritten > 0
    assert stats.inflated == 0
    assert entry_types(data)[REF_DELTA] > 0
    dest = new_bare(tmp_path / "dest.git")
    receive(dest, data)
    fsck_at(dest, git(history, "rev-parse", "main").strip())
    assert stored(dest) == set(ids)


@pytest.mark.parametrize("completed_first", [False, True])
def test_ref_deltas_of_a_completed_thin_pack_are_copied(
    history: Path,
    pushed: tuple[Path, Path, Path],
    packs_of: list[Pack],
    tmp_path: Path,
    completed_first: bool,
) -> None:
    """Bases come from whichever pack is first; REF deltas resolve either way."""
    _server, old, completed = pushed
    order = [completed, old] if completed_first else [old, completed]
    packs_of.extend(open_pack(path) for path in order)
    ids = rev_objects(history, "main")

    data, stats = produce(packs_of, ids)

    assert stats == PackStats(len(ids), len(data), len(ids), 0, 0)
    assert entry_types(data)[REF_DELTA] > 0
    dest = new_bare(tmp_path / "dest.git")
    receive(dest, data)
    fsck_at(dest, git(history, "rev-parse", "main").strip())
    assert stored(dest) == set(ids)


def test_loose_objects_come_from_the_fallback_store(
    history: Path, packs_of: list[Pack], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", "--no-local", str(history), str(work))
    (work / "dir0" / "new.txt").write_bytes(b"fresh\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "loose")
    packs_of.extend(open_pack(path) for path in pack_files(work))
    ids = rev_objects(work, "--all")
    repo = Repo(str(work))
    try:
        data, stats = produce(packs_of, ids, fallback_store=repo.object_store)
    finally:
        repo.close()

    assert stats.inflated == 4  # blob, dir0 tree, root tree, commit
    assert stats.reused == len(ids) - 4
    dest = new_bare(tmp_path / "dest.git")
    receive(dest, data)
    fsck_at(dest, git(work, "rev-parse", "HEAD").strip())
    assert stored(dest) == set(ids)


def test_duplicates_are_sent_once(history: Path, packs_of: list[Pack]) -> None:
    packs_of.append(open_pack(pack_files(history)[0]))
    ids = rev_objects(history, "main")

    once, _ = produce(packs_of, ids)
    twice, stats = produce(packs_of, ids + ids[::-1])

    assert twice == once
    assert stats.objects == len(ids)


@pytest.mark.parametrize("revs", [("main",), ("main~4",), ("main", "^main~1")])
def test_index_lookups_and_layout_scans_agree(
    history: Path,
    pushed: tuple[Path, Path, Path],
    packs_of: list[Pack],
    monkeypatch: pytest.MonkeyPatch,
    revs: tuple[str, ...],
) -> None:
    """Small fetches look objects up in the index, large ones scan the layout."""
    packs_of.extend(open_pack(path) for path in pushed[1:])
    ids = rev_objects(history, *revs)
    outputs = []
    for ratio in (0, 10**9):  # always look up; always scan
        monkeypatch.setattr(packwriter, "_SCAN_RATIO", ratio)
        outputs.append(produce(packs_of, ids, client_has=set(ids), thin=True))

    assert outputs[0] == outputs[1]


def test_missing_object_fails_before_writing(history: Path, packs_of: list[Pack]) -> None:
    packs_of.append(open_pack(pack_files(history)[0]))
    chunks: list[bytes] = []

    with pytest.raises(KeyError):
        write_pack(packs_of, [b"1" * 40], chunks.append)

    assert chunks == []


def test_big_entries_go_out_in_bounded_chunks(packs_of: list[Pack], tmp_path: Path) -> None:
    repo = tmp_path / "big"
    git(tmp_path, "init", "-q", "-b", "main", repo.name)
    blob = random.Random(5).randbytes(3 * CHUNK_SIZE + 12345)  # incompressible
    (repo / "weights.bin").write_bytes(blob)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "weights")
    git(repo, "repack", "-adq")
    packs_of.append(open_pack(pack_files(repo)[0]))
    chunks: list[bytes] = []

    stats = write_pack(packs_of, rev_objects(repo, "--all"), chunks.append)

    assert max(len(chunk) for chunk in chunks) == CHUNK_SIZE
    assert all(type(chunk) is bytes for chunk in chunks)
    assert b"".join(chunks) == pack_files(repo)[0].read_bytes()
    assert stats.reused == 3


def test_inflated_big_object_is_compressed_in_chunks(packs_of: list[Pack], tmp_path: Path) -> None:
    """Version 2 of a big file is a delta on (larger) version 1; sent alone, it is
    inflated and recompressed."""
    repo = tmp_path / "big"
    git(tmp_path, "init", "-q", "-b", "main", repo.name)
    rng = random.Random(6)
    blob = b"".join(text(rng, 40_000))
    for n, content in enumerate([blob, blob[:-100]]):
        (repo / "data.txt").write_bytes(content)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"v{n}")
    git(repo, "repack", "-adf")
    packs_of.append(open_pack(pack_files(repo)[0]))
    ids = rev_objects(repo, "main", "^main~1")
    chunks: list[bytes] = []

    stats = write_pack(packs_of, ids, chunks.append)

    assert stats.inflated >= 1
    assert len(blob) > 2 * CHUNK_SIZE
    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE + 4096
    client = client_at(tmp_path, repo, "main~1")
    receive(client, b"".join(chunks))
    fsck_at(client, git(repo, "rev-parse", "main").strip())


def test_layout_bounds_entries(history: Path, packs_of: list[Pack]) -> None:
    [path] = pack_files(history)
    pack = open_pack(path)
    packs_of.append(pack)

    layout = pack_layout(pack)

    assert pack_layout(pack) is layout
    assert layout.offsets[0] == 12
    assert layout.end_of(layout.offsets[-1]) == path.stat().st_size - 20
    assert layout.end_of(layout.offsets[0]) == layout.offsets[1]
    first_sha = layout.sha_at(12)
    assert pack.index.object_offset(first_sha) == 12
    with pytest.raises(KeyError):
        layout.sha_at(13)
