"""Time indexing a pushed pack: RepoHub's streaming indexer, the old dulwich path, C git.

Uses the shared benchmark repositories (``benchmarks/_repogen.py``, generated once and
cached): 2,000 text files over 200 commits (~60 MB pack, deep delta chains), and three
100 MB random blobs (~300 MB pack). The pack a push would send is made once with
``git pack-objects --all --delta-base-offset``; each row then reads it as receive-pack does
(from a stream, 64 KiB at a time), copies it to a file, indexes it and writes the ``.idx``:

    python -m benchmarks.pushindex_bench [--runs 3] [--cache-dir DIR] [--no-big-blobs]

Every run is a fresh process, so the peak RSS column is that row's own (``wait4``); the
Python rows time themselves after their imports, C git is timed from outside.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from dulwich.object_format import SHA1
from dulwich.objects import Commit, ShaFile, Tag, Tree
from dulwich.pack import PackData, PackIndexer, PackStreamCopier, write_pack_index

from benchmarks._repogen import BigBlobsSpec, ManyFilesSpec, RepoSpec, ensure_repo, repo_stats
from repohub.objects.packindex import index_pack_stream

ROOT = Path(__file__).resolve().parents[1]
RECV_BYTES = 65536  # what dulwich's ReceivableProtocol hands out per recv()
C_GIT = "C git index-pack --stdin"
ROWS = {
    "repohub": "repohub index_pack_stream",
    "dulwich": "old dulwich Copier+Indexer",
}


def _no_ext_ref(sha: bytes) -> tuple[int, bytes]:
    raise KeyError(sha)


def _index_repohub(read_some: Callable[[int], bytes], out: BinaryIO, idx: BinaryIO) -> None:
    indexed = index_pack_stream(read_some, out, resolve_ext_ref=_no_ext_ref)
    os.fsync(out.fileno())
    write_pack_index(idx, sorted(indexed.entries), indexed.checksum, version=2)


def _index_dulwich(read_some: Callable[[int], bytes], out: BinaryIO, idx: BinaryIO) -> None:
    """The receive path RepoHub had before packindex: inflates everything whole, twice."""
    structured: dict[int, type[ShaFile]] = {1: Commit, 2: Tree, 4: Tag}

    class CheckingIndexer(PackIndexer):
        def _result(self, unpacked):  # type: ignore[no-untyped-def]
            if unpacked.obj_type_num in structured:
                cls = structured[unpacked.obj_type_num]
                cls.from_raw_chunks(unpacked.obj_type_num, unpacked.obj_chunks).check()
            return super()._result(unpacked)

    indexer = CheckingIndexer(out, SHA1.hash_func, resolve_ext_ref=_no_ext_ref)
    PackStreamCopier(SHA1.hash_func, read_some, read_some, out, delta_iter=indexer).verify()
    out.flush()
    with PackData(out.name, file=out, object_format=SHA1) as data:  # type: ignore[arg-type]
        indexer.set_pack_data(data)
        entries = sorted(indexer)
        checksum = data.get_stored_checksum()
    os.fsync(out.fileno())
    write_pack_index(idx, entries, checksum, version=2)


def child(kind: str, pack: Path, workdir: Path) -> None:
    """One timed run in this (fresh) process; prints its seconds for the parent."""
    index = _index_repohub if kind == "repohub" else _index_dulwich
    with (
        pack.open("rb", buffering=0) as wire,
        (workdir / "in.pack").open("w+b") as out,
        (workdir / "in.idx").open("wb") as idx,
    ):
        start = time.perf_counter()
        index(lambda n: wire.read(min(n, RECV_BYTES)), out, idx)
        print(time.perf_counter() - start)


def _measure(command: list[str], stdin: Path | None, cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes) and stdout of one process."""
    with (stdin or Path(os.devnull)).open("rb") as source:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdin=source, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        output = proc.stdout.read().decode()
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{command} failed with {proc.returncode}")
    return seconds, usage.ru_maxrss * 1024, output


def run_once(row: str, pack: Path) -> tuple[float, int]:
    """Seconds and peak RSS of one run of `row` in a scratch directory."""
    with tempfile.TemporaryDirectory(dir=pack.parent) as scratch:
        work = Path(scratch)
        if row == C_GIT:
            subprocess.run(["git", "init", "-q", "--bare", str(work)], check=True)
            seconds, rss, _ = _measure(["git", "index-pack", "--stdin"], pack, work)
            return seconds, rss
        kind = next(k for k, name in ROWS.items() if name == row)
        command = [sys.executable, "-m", "benchmarks.pushindex_bench", "--child", kind]
        _, rss, output = _measure([*command, str(pack), str(work)], None, ROOT)
        return float(output.strip()), rss


def push_pack(repo: Path, target: Path) -> Path:
    """The pack `git push` of every ref would send (deltas as offsets), made once."""
    if not target.exists():
        partial = target.with_suffix(".partial")
        with partial.open("wb") as out:
            subprocess.run(
                ["git", "pack-objects", "--all", "--stdout", "-q", "--delta-base-offset"],
                cwd=repo,
                stdin=subprocess.DEVNULL,
                stdout=out,
                check=True,
            )
        partial.rename(target)
    return target


def bench(spec: RepoSpec, cache_dir: Path, runs: int) -> None:
    repo = ensure_repo(spec, cache_dir)
    stats = repo_stats(repo)
    pack = push_pack(repo, cache_dir / f"{repo.name}.push.pack")
    print(f"\n{spec.name}: {stats['objects']} objects, {pack.stat().st_size / 1e6:.1f} MB pack")
    rows = [ROWS["repohub"], ROWS["dulwich"], C_GIT]
    samples: dict[str, list[tuple[float, int]]] = {row: [] for row in rows}
    for _ in range(runs):  # interleaved, so drift and a busy neighbour hit every row alike
        for row in rows:
            samples[row].append(run_once(row, pack))
    seconds = {row: statistics.median(s for s, _ in runs_) for row, runs_ in samples.items()}
    print(f"{'path':<30} {'median s':>9} {'x C git':>8} {'peak RSS MB':>12}")
    for row in rows:
        peak = max(rss for _, rss in samples[row]) / 1e6
        ratio = seconds[row] / seconds[C_GIT]
        print(f"{row:<30} {seconds[row]:>9.2f} {ratio:>8.2f} {peak:>12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "repohub-bench" / "repos"
    )
    parser.add_argument("--no-big-blobs", action="store_true")
    parser.add_argument("--child", choices=sorted(ROWS), help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, *args.paths)
        return
    bench(ManyFilesSpec(), args.cache_dir, args.runs)
    if not args.no_big_blobs:
        bench(BigBlobsSpec(), args.cache_dir, args.runs)


if __name__ == "__main__":
    main()
