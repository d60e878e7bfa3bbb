"""Deterministic repositories for the git benchmarks, generated with ``git fast-import``.

Why fast-import: it writes a pack straight from a stream, so a 1 GB repository costs seconds of
git time instead of minutes of ``git add``/``git commit``. Why seeded, with fixed dates: both
servers must be measured on byte-identical repositories (same commit ids on every run and
machine), and a cache keyed by the parameters lets reruns skip generation entirely.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

# Bump when the generated stream changes, so caches built by an older generator are not reused.
GENERATOR_VERSION = 1

_COMPLETE_MARKER = "repohub-bench-complete.json"
_EPOCH = 1_700_000_000
_IDENT = b"RepoHub Bench <bench@repohub.invalid>"
_BYTES_PER_LINE = 30  # rendered as 60 hex digits + newline: text that deflates to about 55 %
_LINE_LEN = 2 * _BYTES_PER_LINE + 1
_DIRECTORIES = 20
_CHUNK = 8 * 1024 * 1024
_MIB = 1024 * 1024
_GIT_TIMEOUT = 3600


class RepoSpec(Protocol):
    """What the cache and the benchmark need from a repository recipe."""

    name: str

    def write_stream(self, out: BinaryIO) -> None:
        """Write the whole fast-import stream for this repository to ``out``."""

    def fast_import_args(self) -> list[str]:
        """Extra ``git fast-import`` options suited to this shape of data."""

    def repack_args(self) -> list[str]:
        """``git repack`` options that leave the source in one well-deltified pack."""


@dataclass(frozen=True)
class ManyFilesSpec:
    """Many small text files edited over many commits: exercises deltas and object counts.

    Each later commit rewrites one contiguous block (``block_fraction`` of the lines) in
    ``touched_per_commit`` files, so later versions are stored as deltas against earlier ones,
    like source code or configs evolving.
    """

    name: str = "many-files"
    files: int = 2000
    commits: int = 200
    lines_per_file: int = 500
    touched_per_commit: int = 16
    block_fraction: float = 0.35
    seed: int = 20_240_601

    def write_stream(self, out: BinaryIO) -> None:
        """Emit the initial snapshot, the edit commits, a ``dev`` branch and a ``v1.0`` tag."""
        rng = random.Random(self.seed)
        paths = [
            f"data/shard-{i % _DIRECTORIES:02d}/file-{i:05d}.txt".encode()
            for i in range(self.files)
        ]
        contents = [_random_lines(rng, self.lines_per_file) for _ in paths]
        _commit_start(out, mark=1, index=0, message=b"initial snapshot\n")
        _inline_file(out, b"README.md", f"# {self.name}\n\nGenerated benchmark data.\n".encode())
        for path, content in zip(paths, contents, strict=True):
            _inline_file(out, path, content)
        block = max(1, round(self.lines_per_file * self.block_fraction))
        for index in range(1, self.commits):
            _commit_start(out, mark=index + 1, index=index, message=b"edit %d\n" % index)
            touched = rng.sample(range(self.files), min(self.touched_per_commit, self.files))
            for file_index in touched:
                contents[file_index] = _rewrite_block(rng, contents[file_index], block)
                _inline_file(out, paths[file_index], contents[file_index])
        if self.commits > 2:
            _branch(out, b"refs/heads/dev", mark=self.commits * 3 // 4)
        _tag(out, b"v1.0", mark=self.commits, index=self.commits)

    def fast_import_args(self) -> list[str]:
        """No options: fast-import's own deltas are replaced by the ``repack -f`` below."""
        return []

    def repack_args(self) -> list[str]:
        """``-f`` recomputes deltas across versions of the same path (fast-import's are poor)."""
        return ["-a", "-d", "-f"]


@dataclass(frozen=True)
class BigBlobsSpec:
    """A few large incompressible blobs (model weights): exercises streaming and framing."""

    name: str = "big-blobs"
    blobs: int = 3
    blob_mib: int = 100
    seed: int = 20_240_602

    def write_stream(self, out: BinaryIO) -> None:
        """One commit per blob, the first with a README; tag ``v1.0`` on the last commit."""
        rng = random.Random(self.seed)
        for index in range(self.blobs):
            _commit_start(out, mark=index + 1, index=index, message=b"add shard %d\n" % index)
            if index == 0:
                _inline_file(out, b"README.md", f"# {self.name}\n".encode())
            path = b"weights/shard-%05d.bin" % index
            out.write(b"M 100644 inline " + path + b"\n")
            _random_data(out, rng, self.blob_mib * _MIB)
        _tag(out, b"v1.0", mark=self.blobs, index=self.blobs)

    def fast_import_args(self) -> list[str]:
        """Random data never deltas; skip fast-import's delta attempts between big blobs."""
        return ["--big-file-threshold=1m"]

    def repack_args(self) -> list[str]:
        """One pack, no delta search: random blobs never delta and the search costs minutes."""
        return ["-a", "-d", "--window=0"]


def tiny_spec() -> ManyFilesSpec:
    """A one-commit repository: the small end of the fork-time comparison."""
    return ManyFilesSpec(name="tiny", files=3, commits=1, lines_per_file=10)


def spec_key(spec: RepoSpec) -> str:
    """A short stable digest of the recipe, so changed parameters never hit a stale cache."""
    params = {"kind": type(spec).__name__, "version": GENERATOR_VERSION, **asdict(spec)}  # type: ignore[call-overload]
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    return digest[:12]


def ensure_repo(spec: RepoSpec, cache_dir: Path) -> Path:
    """Return a packed bare repository for ``spec`` under ``cache_dir``, generating it once.

    The repository is built in a temporary directory and renamed into place with a marker,
    so an interrupted generation is redone instead of being served half-written.
    """
    path = cache_dir / f"{spec.name}-{spec_key(spec)}.git"
    if (path / _COMPLETE_MARKER).exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    building = path.with_name(path.name + ".building")
    for stale in (path, building):
        if stale.exists():
            shutil.rmtree(stale)
    _git("init", "--quiet", "--bare", "--initial-branch=main", str(building))
    _fast_import(spec, building)
    _git("repack", "--quiet", *spec.repack_args(), cwd=building)
    _git("prune-packed", cwd=building)
    info = {"spec": asdict(spec), **repo_stats(building)}  # type: ignore[call-overload]
    (building / _COMPLETE_MARKER).write_text(json.dumps(info, indent=2))
    building.rename(path)
    return path


def repo_stats(repo: Path) -> dict[str, int]:
    """Object count and packed size (bytes), reported beside the timings."""
    out = subprocess.run(
        ["git", "count-objects", "-v"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return {
        "objects": int(fields.get("in-pack", "0")) + int(fields.get("count", "0")),
        "pack_bytes": int(fields.get("size-pack", "0")) * 1024,
    }


def _fast_import(spec: RepoSpec, repo: Path) -> None:
    """Feed ``spec``'s stream to ``git fast-import`` and fail loudly if git rejects it."""
    cmd = ["git", "fast-import", "--quiet", *spec.fast_import_args()]
    with subprocess.Popen(cmd, cwd=repo, stdin=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        try:
            spec.write_stream(proc.stdin)
            proc.stdin.write(b"done\n")
        finally:
            proc.stdin.close()
        if proc.wait(timeout=_GIT_TIMEOUT) != 0:
            raise RuntimeError(f"git fast-import failed for {spec.name} ({proc.returncode})")


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, timeout=_GIT_TIMEOUT)


def _random_lines(rng: random.Random, count: int) -> bytes:
    """``count`` lines of 60 random hex digits: text-like, compressible, never duplicated."""
    return rng.randbytes(count * _BYTES_PER_LINE).hex("\n", _BYTES_PER_LINE).encode() + b"\n"


def _rewrite_block(rng: random.Random, content: bytes, block: int) -> bytes:
    """Replace ``block`` consecutive lines at a random line so the new version deltas well."""
    lines = len(content) // _LINE_LEN
    start = rng.randrange(max(1, lines - block + 1))
    head, tail = content[: start * _LINE_LEN], content[(start + block) * _LINE_LEN :]
    return head + _random_lines(rng, min(block, lines)) + tail


def _data(out: BinaryIO, payload: bytes) -> None:
    out.write(b"data %d\n" % len(payload))
    out.write(payload)
    out.write(b"\n")


def _random_data(out: BinaryIO, rng: random.Random, size: int) -> None:
    """Stream ``size`` random bytes as one ``data`` command without holding them in memory."""
    out.write(b"data %d\n" % size)
    remaining = size
    while remaining:
        piece = min(_CHUNK, remaining)
        out.write(rng.randbytes(piece))
        remaining -= piece
    out.write(b"\n")


def _commit_start(out: BinaryIO, *, mark: int, index: int, message: bytes) -> None:
    """Start a commit on ``main``; fast-import chains it onto the branch's previous tip."""
    out.write(b"commit refs/heads/main\nmark :%d\n" % mark)
    out.write(b"committer %s %d +0000\n" % (_IDENT, _EPOCH + 60 * index))
    _data(out, message)


def _inline_file(out: BinaryIO, path: bytes, content: bytes) -> None:
    out.write(b"M 100644 inline " + path + b"\n")
    _data(out, content)


def _branch(out: BinaryIO, ref: bytes, *, mark: int) -> None:
    out.write(b"reset " + ref + b"\nfrom :%d\n\n" % mark)


def _tag(out: BinaryIO, name: bytes, *, mark: int, index: int) -> None:
    """An annotated tag, so pushes and clones carry a tag object as well as commits."""
    out.write(b"tag " + name + b"\nfrom :%d\n" % mark)
    out.write(b"tagger %s %d +0000\n" % (_IDENT, _EPOCH + 60 * index))
    _data(out, b"release " + name + b"\n")
