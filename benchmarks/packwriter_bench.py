"""Time pack generation for a full clone: RepoHub's write_pack, stock dulwich, C git.

Uses the shared benchmark repositories (``benchmarks/_repogen.py``, generated once and
cached): 2,000 text files over 200 commits (~60 MB of text), and a few big random blobs.
Each row writes a pack of every object to /dev/null; the figure is the median of N runs:

    python -m benchmarks.packwriter_bench [--runs 3] [--cache-dir DIR] [--no-big-blobs]

The Python rows get the object list from ``git rev-list`` beforehand, as upload-pack
gets it from its graph walk; ``git pack-objects --all`` walks the history itself, so C
git is also timed on the same object list fed to stdin.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from dulwich.pack import write_pack_from_container
from dulwich.repo import Repo

from benchmarks._repogen import BigBlobsSpec, ManyFilesSpec, RepoSpec, ensure_repo, repo_stats
from repohub.git.packwriter import write_pack
from repohub.git.sideband import SidebandWriter

C_GIT = "C git pack-objects --all --stdout"


def median_time(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def all_objects(repo: Path) -> list[bytes]:
    out = subprocess.run(
        ["git", "rev-list", "--objects", "--all"], cwd=repo, capture_output=True, check=True
    ).stdout
    return [line.split(b" ", 1)[0] for line in out.splitlines()]


def rows(repo: Path, ids: list[bytes], devnull: BinaryIO) -> dict[str, Callable[[], object]]:
    """The contenders, each a no-argument callable writing the whole pack to ``devnull``."""
    sink = devnull.write
    dulwich_repo = Repo(str(repo))
    store = dulwich_repo.object_store
    packs = list(store.packs)

    def framed() -> None:
        framer = SidebandWriter(sink)
        write_pack(packs, ids, framer.write, fallback_store=store)
        framer.flush()

    def c_git(*args: str, stdin: bytes | None = None) -> Callable[[], object]:
        command = ["git", "pack-objects", "--stdout", "-q", *args]
        return lambda: subprocess.run(command, cwd=repo, input=stdin, stdout=devnull, check=True)

    return {
        "repohub write_pack": lambda: write_pack(packs, ids, sink, fallback_store=store),
        "repohub write_pack + SidebandWriter": framed,
        "dulwich write_pack_from_container": lambda: write_pack_from_container(
            sink, store, [(oid, None) for oid in ids], object_format=dulwich_repo.object_format
        ),
        C_GIT: c_git("--all", stdin=b""),
        "C git pack-objects < same object list": c_git(stdin=b"\n".join(ids) + b"\n"),
    }


def bench(spec: RepoSpec, cache_dir: Path, runs: int) -> None:
    repo = ensure_repo(spec, cache_dir)
    stats = repo_stats(repo)
    ids = all_objects(repo)
    print(f"\n{spec.name}: {stats['objects']} objects, {stats['pack_bytes'] / 1e6:.1f} MB packed")
    print(f"{'path':<40} {'median s':>9} {'x C git':>8}")
    with Path(os.devnull).open("wb") as devnull:
        results = {name: median_time(run, runs) for name, run in rows(repo, ids, devnull).items()}
    for name, seconds in results.items():
        print(f"{name:<40} {seconds:>9.3f} {seconds / results[C_GIT]:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "repohub-bench"
    )
    parser.add_argument("--no-big-blobs", action="store_true")
    args = parser.parse_args()
    bench(ManyFilesSpec(), args.cache_dir, args.runs)
    if not args.no_big_blobs:
        bench(BigBlobsSpec(blobs=2, blob_mib=64), args.cache_dir, args.runs)


if __name__ == "__main__":
    main()
