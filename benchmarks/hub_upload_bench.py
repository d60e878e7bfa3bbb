"""Uploads through the Hugging Face Hub client against ``git`` / ``git lfs`` pushes of the
same content, through one ``repohub serve``, in one run.

    python -m benchmarks.hub_upload_bench                          # 3 rounds, 200 files, 1 GiB
    python -m benchmarks.hub_upload_bench --rounds 1 --size-mib 8 --files 20
    python -m benchmarks.hub_upload_bench --profile --json out.json --check

Two cases, each round interleaved (the side that goes first alternates round by round):

* ``--files`` small text files (1-6 kB, nested directories): ``HfApi.upload_folder`` into a
  fresh repo against ``git add -A`` + ``git commit`` + ``git push`` of the same folder into
  another fresh repo. The client's one call lists the folder, asks ``preupload`` how to send
  each file, base64-encodes every file into the NDJSON commit and posts it, so git's side is
  timed over the same work: staging (hashing), committing and pushing, not the push alone.
  Target: the client's median within 1.5x git's.
* one file of ``--size-mib`` random bytes: ``HfApi.upload_file`` (``HF_HUB_DISABLE_XET=1``,
  so it goes through the LFS batch API: sha256, batch, PUT, verify, commit) against ``git lfs
  track`` + ``git add`` (the clean filter hashes and copies the file into ``.git/lfs``) +
  ``git commit`` + ``git push`` (whose ``pre-push`` hook uploads it). Target: within 1.2x.

Every repo is new and empty, and every big upload sends bytes the hub has never stored (the
file's last 32 bytes change before each), so neither side can skip work. Each result is checked
untimed: both repos of the small case hold exactly the folder's files with git's blob ids (by
``list_repo_tree``), and the big file downloads back through ``/resolve`` with its sha256.
Besides the totals the report splits each side's time: the client's own phases (by timing its
internal steps), git's commands, and the server's time per request (from its access log).
``--profile`` also runs the client calls under cProfile and prints where they spent it.
The data lives in a temporary directory under /tmp (``--workdir``), removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import hashlib
import io
import json
import os
import pstats
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # also runnable as ``python benchmarks/hub_upload_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._server import (
    OWNER,
    BenchError,
    RepoHubTarget,
    default_repohub_cmd,
    machine_info,
    progress,
    redact,
)
from benchmarks.lfs_bench import CHUNK, ERRORS, MIB, LfsGit, settle

SMALL_TARGET = 1.5  # upload_folder's median over git add + commit + push's, at most
BIG_TARGET = 1.2  # upload_file's median over git lfs track + add + commit + push's, at most
BIG_NAME = "weights.bin"  # matched by the ``*.bin`` pattern git's side tracks
TAIL = 32  # the bytes rewritten before every big upload: a new oid each time
WORDS = (
    "model",
    "layer",
    "weight",
    "tensor",
    "token",
    "batch",
    "epoch",
    "optimizer",
    "gradient",
    "attention",
    "head",
    "embedding",
    "vocab",
    "config",
    "checkpoint",
    "shard",
    "dataset",
    "split",
    "train",
    "eval",
    "loss",
    "metric",
    "scheduler",
    "warmup",
)
CLIENT_PHASES = {  # huggingface_hub._commit_api function -> the phase it is
    "_fetch_upload_modes": "preupload",
    "_compute_missing_sha256s": "sha256",
    "post_lfs_batch_info": "LFS batch",
    "lfs_upload": "LFS PUT + verify",
    "_send_commit": "commit (build + POST)",
}
ACCESS_LINE = re.compile(r"repohub\.access request_id=\S+ (\w+) (\S+) (\d{3}) ([\d.]+)ms")


# --------------------------------------------------------------------------- data


def write_folder(root: Path, count: int, seed: int) -> dict[str, str]:
    """``count`` text files of 1-6 kB in nested directories; returns path -> git blob id.

    The seed changes per round, so no repo receives objects another one already holds.
    """
    rng = random.Random(seed)
    tops = ("configs", "src/model", "src/data", "docs", "tokenizer", "scripts/eval")
    blobs = {}
    for i in range(count):
        depth = "/".join(f"part{rng.randrange(4)}" for _ in range(rng.randrange(3)))
        directory = "/".join(p for p in (tops[i % len(tops)], depth) if p)
        rel = f"{directory}/file_{i:04d}.{('txt', 'py', 'json', 'md')[i % 4]}"
        size = rng.randint(1000, 6000)
        lines, length = [f"# file {i} of round seed {seed}"], 0
        while length < size:
            line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
            lines.append(line)
            length += len(line) + 1
        data = ("\n".join(lines) + "\n").encode()
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        blobs[rel] = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324
    return blobs


@dataclass
class BigFile:
    """One random file; before every upload its last 32 bytes change, so its oid does.

    The sha256 state of everything before those bytes is kept, so a new oid costs nothing.
    """

    path: Path
    size: int
    _prefix: Any = None  # hashlib state over the first size - TAIL bytes

    @classmethod
    def generate(cls, path: Path, size: int) -> BigFile:
        started = time.perf_counter()
        digest = hashlib.sha256()
        with path.open("wb") as sink:
            remaining = size - TAIL
            while remaining:
                block = os.urandom(min(CHUNK, remaining))
                digest.update(block)
                sink.write(block)
                remaining -= len(block)
            sink.write(bytes(TAIL))
        progress(f"generated {path} ({size / MIB:.0f} MiB, {time.perf_counter() - started:.1f} s)")
        return cls(path, size, digest)

    def renew(self, tag: str) -> str:
        """Rewrite the tail for ``tag``; return the file's new sha256 (its LFS oid)."""
        tail = hashlib.sha256(tag.encode()).digest()[:TAIL]
        with self.path.open("r+b") as sink:
            sink.seek(self.size - TAIL)
            sink.write(tail)
        digest = self._prefix.copy()
        digest.update(tail)
        return digest.hexdigest()


# --------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    """One timed upload: total seconds and its split (client phases, git commands, server)."""

    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    server: dict[str, float] = field(default_factory=dict)


class PhaseTimer:
    """Wraps the client's internal steps (``CLIENT_PHASES``) to time each, inclusively.

    ``huggingface_hub`` looks these up as module globals at call time (``hf_api`` imports
    them inside its methods), so replacing the module attributes reaches every call.
    """

    def __init__(self) -> None:
        self.current: dict[str, float] | None = None

    def install(self) -> None:
        from huggingface_hub import _commit_api

        for name, phase in CLIENT_PHASES.items():
            setattr(_commit_api, name, self._wrap(getattr(_commit_api, name), phase))

    def _wrap(self, function: Callable[..., Any], phase: str) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                if self.current is not None:
                    elapsed = time.perf_counter() - started
                    self.current[phase] = self.current.get(phase, 0.0) + elapsed

        return timed

    @contextlib.contextmanager
    def collect(self) -> Iterator[dict[str, float]]:
        self.current = phases = {}
        try:
            yield phases
        finally:
            self.current = None


class ServerLog:
    """The server's own milliseconds per request (its access log), summed by kind."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def window(self) -> Iterator[dict[str, float]]:
        start = self.path.stat().st_size
        seconds: dict[str, float] = {}
        yield seconds
        time.sleep(0.05)  # the last access line is written after its answer went out
        with self.path.open("rb") as log:
            log.seek(start)
            text = log.read().decode(errors="replace")
        for method, path, _status, ms in ACCESS_LINE.findall(text):
            kind = request_kind(method, path)
            seconds[kind] = seconds.get(kind, 0.0) + float(ms) / 1000
            seconds["requests"] = seconds.get("requests", 0) + 1


def request_kind(method: str, path: str) -> str:
    path = path.split("?", 1)[0]
    for marker, kind in (
        ("/preupload/", "preupload"),
        ("/info/lfs/objects/batch", "LFS batch"),
        ("/info/lfs/locks/verify", "LFS locks/verify"),
        ("/info/refs", "info/refs"),
        ("/git-receive-pack", "receive-pack"),
        ("/git-upload-pack", "upload-pack"),
    ):
        if marker in path:
            return kind
    if path.startswith("/api/") and "/commit/" in path:
        return "commit"
    if path.startswith("/lfs-transfer/"):
        return "LFS verify" if path.endswith("/verify") else f"LFS {method}"
    return f"{method} other"


class Bench:
    """The server, the client, git, and the samples of each case and side."""

    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        log = root / "repohub-server.log"
        self.hub = RepoHubTarget(default_repohub_cmd(), root / "repohub-data", log)
        self.server = ServerLog(log)
        self.git = LfsGit(root / "home")
        self.api = make_client(self.hub, root / "hf-home")
        self.phases = PhaseTimer()
        self.phases.install()
        self.profile = cProfile.Profile() if args.profile else None
        self.samples: dict[str, list[Sample]] = {}
        self.notes: list[str] = []

    def close(self) -> None:
        self.hub.close()

    # ----------------------------------------------------------------- plumbing

    def _client_call(self, action: Callable[[], object]) -> Sample:
        settle()
        with self.server.window() as server, self.phases.collect() as phases:
            started = time.perf_counter()
            if self.profile is not None:
                self.profile.runcall(action)
            else:
                action()
            seconds = time.perf_counter() - started
        return Sample(seconds, phases, server)

    def _git_steps(self, cwd: Path, steps: list[tuple[str, list[str]]]) -> Sample:
        settle()
        phases = {}
        with self.server.window() as server:
            started = time.perf_counter()
            for label, command in steps:
                phases[label] = self.git.timed(*command, cwd=cwd)
            seconds = time.perf_counter() - started
        return Sample(seconds, phases, server)

    def _record(self, key: str, sample: Sample, round_: int) -> None:
        self.samples.setdefault(key, []).append(sample)
        progress(f"  round {round_ + 1}: {key:<12} {sample.seconds:7.2f} s")

    def warm_up(self) -> None:
        """One untimed commit each way first: a running hub has imported its code paths."""
        self.hub.new_empty_repo("warm-up-api")
        self.api.upload_file(
            path_or_fileobj=b"warm\n", path_in_repo="warm.txt", repo_id=f"{OWNER}/warm-up-api"
        )
        url = self.hub.new_empty_repo("warm-up-git")
        work = self.root / "git-warm-up"
        work.mkdir()
        (work / "warm.txt").write_text("warm\n")
        self.git.run("init", "--quiet", cwd=work)
        self.git.run("add", "-A", cwd=work)
        self.git.run("commit", "--quiet", "-m", "warm up", cwd=work)
        self.git.run("push", "--quiet", url, "main", cwd=work)
        shutil.rmtree(work)

    # ----------------------------------------------------------------- small files

    def small_round(self, round_: int) -> None:
        folder = self.root / f"folder-{round_}"
        blobs = write_folder(folder, self.args.files, seed=1000 + round_)
        sides = [self._small_api, self._small_git]
        for side in sides if round_ % 2 == 0 else sides[::-1]:
            side(round_, folder, blobs)
        shutil.rmtree(folder)

    def _small_api(self, round_: int, folder: Path, blobs: dict[str, str]) -> None:
        repo = f"small-api-{round_}"
        self.hub.new_empty_repo(repo)
        sample = self._client_call(
            lambda: self.api.upload_folder(
                folder_path=folder, repo_id=f"{OWNER}/{repo}", commit_message="small files"
            )
        )
        self._check_tree(repo, blobs)
        self._record("small/api", sample, round_)

    def _small_git(self, round_: int, folder: Path, blobs: dict[str, str]) -> None:
        repo = f"small-git-{round_}"
        url = self.hub.new_empty_repo(repo)
        work = self.root / f"git-small-{round_}"
        shutil.copytree(folder, work, copy_function=os.link)  # the same files, not copies
        self.git.run("init", "--quiet", cwd=work)
        sample = self._git_steps(
            work,
            [
                ("add", ["add", "-A"]),
                ("commit", ["commit", "--quiet", "-m", "small files"]),
                ("push", ["push", "--quiet", url, "main"]),
            ],
        )
        shutil.rmtree(work)
        self._check_tree(repo, blobs)
        self._record("small/git", sample, round_)

    def _check_tree(self, repo: str, blobs: dict[str, str]) -> None:
        """The repo on the server holds exactly these files, with these git blob ids."""
        from huggingface_hub.hf_api import RepoFile

        tree = self.api.list_repo_tree(f"{OWNER}/{repo}", recursive=True)
        got = {e.path: e.blob_id for e in tree if isinstance(e, RepoFile)}
        if got != blobs:
            missing = sorted(set(blobs) - set(got))[:3]
            extra = sorted(set(got) - set(blobs))[:3]
            wrong = sorted(p for p in set(got) & set(blobs) if got[p] != blobs[p])[:3]
            raise BenchError(
                f"{repo}: {len(got)} files, expected {len(blobs)}; missing {missing}, "
                f"unexpected {extra}, other content {wrong}"
            )

    # ----------------------------------------------------------------- one big file

    def big_round(self, round_: int, big: BigFile) -> None:
        sides = [self._big_api, self._big_git]
        for side in sides if round_ % 2 == 0 else sides[::-1]:
            side(round_, big)

    def _big_api(self, round_: int, big: BigFile) -> None:
        repo = f"big-api-{round_}"
        self.hub.new_empty_repo(repo)
        oid = big.renew(repo)
        sample = self._client_call(
            lambda: self.api.upload_file(
                path_or_fileobj=str(big.path), path_in_repo=BIG_NAME, repo_id=f"{OWNER}/{repo}"
            )
        )
        self._check_big(repo, oid, big.size)
        self._record("big/api", sample, round_)

    def _big_git(self, round_: int, big: BigFile) -> None:
        repo = f"big-git-{round_}"
        url = self.hub.new_empty_repo(repo)
        oid = big.renew(repo)
        work = self.root / f"git-big-{round_}"
        work.mkdir()
        os.link(big.path, work / BIG_NAME)  # the same page-cached bytes the client reads
        self.git.run("init", "--quiet", cwd=work)
        sample = self._git_steps(
            work,
            [
                ("lfs track", ["lfs", "track", "*.bin"]),
                ("add", ["add", ".gitattributes", BIG_NAME]),
                ("commit", ["commit", "--quiet", "-m", "weights"]),
                ("push", ["push", "--quiet", url, "main"]),
            ],
        )
        if not (work / ".git" / "hooks" / "pre-push").is_file():
            raise BenchError("git-lfs installed no pre-push hook: the push uploaded nothing")
        shutil.rmtree(work)
        self._check_big(repo, oid, big.size)
        self._record("big/git", sample, round_)

    def _check_big(self, repo: str, oid: str, size: int) -> None:
        """Stored as LFS with this oid, and ``/resolve`` gives back these very bytes."""
        from huggingface_hub.hf_api import RepoFile

        tree = self.api.list_repo_tree(f"{OWNER}/{repo}", recursive=True)
        entry = next((e for e in tree if isinstance(e, RepoFile) and e.path == BIG_NAME), None)
        if entry is None or entry.lfs is None or entry.lfs.sha256 != oid:
            raise BenchError(f"{repo}: {BIG_NAME} is not the LFS object {oid}: {entry}")
        url = f"{self.hub.base_url}/{OWNER}/{repo}/resolve/main/{BIG_NAME}"
        request = urllib.request.Request(url)  # noqa: S310 - loopback http:// only
        request.add_header("Authorization", f"Bearer {self.hub.owner_token}")
        digest, length = hashlib.sha256(), 0
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=600) as response:
            while block := response.read(CHUNK):
                digest.update(block)
                length += len(block)
        if length != size or digest.hexdigest() != oid:
            raise BenchError(f"{repo}: /resolve gave {length} bytes with another sha256")


def make_client(hub: RepoHubTarget, home: Path) -> Any:
    """An ``HfApi`` on this server: own cache, no telemetry, no Xet, no progress bars.

    The client reads these settings at import, so they are set before the first import.
    """
    if "huggingface_hub" in sys.modules:
        raise BenchError("huggingface_hub was imported before its settings were made")
    for key in [k for k in os.environ if k.startswith("HF_") or k.lower().endswith("_proxy")]:
        del os.environ[key]
    os.environ.update(
        HF_ENDPOINT=hub.base_url,
        HF_HOME=str(home),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        NO_PROXY="127.0.0.1,localhost",
    )
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.base_url, token=hub.owner_token)


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Case:
    label: str
    client: str
    git: str
    target: float


def summarize(bench: Bench, big_size: int) -> dict[str, Any]:
    cases = {
        "small": Case(
            f"{bench.args.files} small files",
            "upload_folder",
            "git add -A + commit + push",
            SMALL_TARGET,
        ),
        "big": Case(
            f"one {big_size / MIB:.0f} MiB file",
            "upload_file (LFS)",
            "git lfs track + add + commit + push",
            BIG_TARGET,
        ),
    }
    rows = []
    for key, case in cases.items():
        api, git = bench.samples.get(f"{key}/api"), bench.samples.get(f"{key}/git")
        if not api or not git:
            continue
        api_median = statistics.median(s.seconds for s in api)
        git_median = statistics.median(s.seconds for s in git)
        ratio = api_median / git_median
        rows.append(
            {
                "case": case.label,
                "client": case.client,
                "git": case.git,
                "client_s": [s.seconds for s in api],
                "git_s": [s.seconds for s in git],
                "client_median_s": api_median,
                "git_median_s": git_median,
                "ratio": ratio,
                "target": case.target,
                "ok": ratio <= case.target,
                "client_phases_s": median_split(s.phases for s in api),
                "git_phases_s": median_split(s.phases for s in git),
                "client_server_s": median_split(s.server for s in api),
                "git_server_s": median_split(s.server for s in git),
            }
        )
    return {"rows": rows, "notes": bench.notes}


def median_split(splits: Iterator[dict[str, float]] | Any) -> dict[str, float]:
    splits = list(splits)
    keys = sorted({k for split in splits for k in split})
    return {k: statistics.median(split.get(k, 0.0) for split in splits) for k in keys}


def render(summary: dict[str, Any], rounds: int) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "",
        f"median of {rounds} round(s); ratio = client / git (lower is better for the client); "
        f"{os.cpu_count()} CPUs, load average {load} at the end",
        "",
        f"{'case':<22} {'client':<18} {'seconds':>8}   {'git':<36} {'seconds':>8} "
        f"{'ratio':>7}  target",
    ]
    for row in summary["rows"]:
        verdict = "ok" if row["ok"] else "MISSED"
        lines.append(
            f"{row['case']:<22} {row['client']:<18} {row['client_median_s']:8.2f}   "
            f"{row['git']:<36} {row['git_median_s']:8.2f} {row['ratio']:6.2f}x  "
            f"<= {row['target']}x {verdict}"
        )
    for row in summary["rows"]:
        lines += ["", f"{row['case']}: where the time went (medians, seconds)"]
        lines.append(
            f"  client runs {fmt_times(row['client_s'])}; git runs {fmt_times(row['git_s'])}"
        )
        lines.append(f"  client phases: {fmt_split(row['client_phases_s'])}")
        lines.append(f"  server, client's requests: {fmt_split(row['client_server_s'])}")
        lines.append(f"  git commands: {fmt_split(row['git_phases_s'])}")
        lines.append(f"  server, git's requests: {fmt_split(row['git_server_s'])}")
    lines += [f"note: {note}" for note in summary["notes"]]
    return "\n".join(lines)


def fmt_times(times: list[float]) -> str:
    return "/".join(f"{t:.2f}" for t in times)


def fmt_split(split: dict[str, float]) -> str:
    count = split.get("requests")
    cells = [f"{k} {v:.3f}" for k, v in split.items() if k != "requests"]
    if count is not None:
        cells.append(f"({count:.0f} requests)")
    return ", ".join(cells) or "-"


def print_profile(profile: cProfile.Profile, limit: int = 30) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)
    progress(out.getvalue())


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per case (median)")
    parser.add_argument("--size-mib", type=int, default=1024, help="the big file (MiB)")
    parser.add_argument("--files", type=int, default=200, help="small files per commit")
    parser.add_argument("--only", choices=("small", "big", "both"), default="both")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"), help="parent of the data")
    parser.add_argument("--profile", action="store_true", help="cProfile the client calls")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--check", action="store_true", help="exit 2 if a target is missed")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    if not 1 <= args.size_mib <= 16 * 1024:
        parser.error("--size-mib must be between 1 and 16384")
    if not 1 <= args.files <= 1000:
        parser.error("--files must be between 1 and 1000 (one preupload call takes 1,000)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="hub-upload-bench-", dir=args.workdir))
    progress(f"data directory: {root}")
    errors: list[str] = []
    summary: dict[str, Any] = {"rows": [], "notes": []}
    size = args.size_mib * MIB
    bench = None
    try:
        bench = Bench(args, root)
        big = BigFile.generate(root / "big.bin", size) if args.only != "small" else None
        bench.warm_up()
        for round_ in range(args.rounds):
            if args.only != "big":
                bench.small_round(round_)
            if big is not None:
                bench.big_round(round_, big)
        summary = summarize(bench, size)
    except (*ERRORS, RuntimeError, ValueError) as exc:  # the client's own errors too
        note = bench.hub.death_note() if bench is not None else None
        errors.append(redact(str(exc)) + (f"\n{note}" if note else ""))
        progress(f"ERROR {errors[-1]}")
        if bench is not None:
            summary = summarize(bench, size)
    finally:
        if bench is not None:
            bench.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(render(summary, args.rounds))
    for error in errors:
        print(f"ERROR {error}")
    if bench is not None and bench.profile is not None:
        print_profile(bench.profile)
    if args.json:
        document = {
            "machine": {**machine_info(), "loadavg": os.getloadavg()},
            "args": {"rounds": args.rounds, "size_mib": args.size_mib, "files": args.files},
            "targets": {"small": SMALL_TARGET, "big": BIG_TARGET},
            "summary": summary,
            "errors": errors,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    if errors:
        return 1
    return 2 if args.check and any(not row["ok"] for row in summary["rows"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
