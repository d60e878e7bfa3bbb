"""Clone, push, fork and memory: RepoHub against C git's ``git http-backend``, in one run.

Both servers get byte-identical generated repositories (see ``_repogen``) and the same ``git``
client with the same flags, interleaved run by run, so machine noise hits both alike. What
counts is the ratio RepoHub / C git, not an absolute time (see
``/work/shared/reference/git-serving.md``).

    python -m benchmarks.git_bench                 # everything, medians of 3 runs
    python -m benchmarks.git_bench --quick         # skip the 1 GB memory repo
    python -m benchmarks.git_bench --only cgit     # the C git reference alone
    python -m benchmarks.git_bench --json out.json --runs 5

Generated repositories are cached under ``--workdir`` (default /tmp/repohub-bench), so only
the first run pays for generation. Every clone is checked once with ``git fsck`` and against
the source's refs (untimed), so a server that sends too little cannot look fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import shlex
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

if __package__ in (None, ""):  # also runnable as ``python benchmarks/git_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _cgit_server, _repogen
from benchmarks._server import (
    STARTUP_TIMEOUT,
    BenchError,
    PeakMemory,
    RepoHubTarget,
    clean_env,
    death_note,
    default_repohub_cmd,
    log_tail,
    machine_info,
    progress,
    redact,
    stop_process_group,
    tree_memory_mb,
)

CLONE_PUSH_TARGET = 1.5  # RepoHub may take at most 1.5x C git's time
FORK_FLAT_TARGET = 2.0  # fork of the largest repo / fork of the tiny one: "flat in size"
RSS_TARGET_MB = 300.0  # RepoHub's server process tree while serving the 1 GB repo
GIT_TIMEOUT = 1800.0

SPECS: dict[str, _repogen.RepoSpec] = {
    "tiny": _repogen.tiny_spec(),
    "many-files": _repogen.ManyFilesSpec(),
    "big-blobs": _repogen.BigBlobsSpec(),
    "huge": _repogen.BigBlobsSpec(name="huge", blobs=10, blob_mib=100, seed=20_240_603),
}
TRANSFER_REPOS = ("many-files", "big-blobs")


# --------------------------------------------------------------------------- git client


class GitClient:
    """The ``git`` binary with an isolated HOME and environment.

    Why: a developer's global config (credential helpers, ``url.insteadOf``, proxies,
    ``protocol.version``) would otherwise change what is measured, differently per machine.
    """

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / ".gitconfig").write_text(
            "[user]\n\tname = RepoHub Bench\n\temail = bench@repohub.invalid\n"
            "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        )
        self.env = clean_env(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")

    def run(self, *args: str, cwd: Path | None = None) -> str:
        """Run git, returning stdout; raise with git's own message on failure."""
        try:
            proc = subprocess.run(
                ["git", *args],
                cwd=cwd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"git {args[0]} timed out after {GIT_TIMEOUT:.0f} s") from exc
        if proc.returncode != 0:
            message = " | ".join(proc.stderr.strip().splitlines()[-6:])
            raise BenchError(f"git {redact(' '.join(args))} failed ({proc.returncode}): {message}")
        return proc.stdout

    def timed(self, *args: str, cwd: Path | None = None) -> float:
        started = time.perf_counter()
        self.run(*args, cwd=cwd)
        return time.perf_counter() - started

    def push(self, source: Path, url: str) -> float:
        """Push every branch and tag in one ``git push``: one timed operation per run."""
        refspecs = ("refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*")
        return self.timed("push", "--quiet", url, *refspecs, cwd=source)

    def clone(self, url: str, dest: Path) -> float:
        """A normal (checked-out) clone: what a user runs; checkout costs both servers alike."""
        return self.timed("clone", "--quiet", url, str(dest))

    def source_refs(self, source: Path) -> dict[str, str]:
        out = self.run("for-each-ref", "--format=%(refname) %(objectname)", cwd=source)
        return dict(line.split(" ", 1) for line in out.splitlines())

    def verify_clone(self, clone: Path, source: Path) -> None:
        """fsck the clone and check it has exactly the source's branches, tags and HEAD."""
        self.run("fsck", "--no-progress", "--full", "--strict", cwd=clone)
        expected = {
            ref.replace("refs/heads/", "refs/remotes/origin/", 1): oid
            for ref, oid in self.source_refs(source).items()
        }
        got = {ref: oid for ref, oid in self.source_refs(clone).items() if ref in expected}
        head = self.run("rev-parse", "HEAD", cwd=clone).strip()
        if got != expected or head != expected["refs/remotes/origin/main"]:
            raise BenchError(f"clone {clone.name} does not match its source: {got} != {expected}")

    def verify_remote(self, url: str, source: Path) -> None:
        """``ls-remote`` must list the source's branches and tags (a fork's refs, say)."""
        out = self.run("ls-remote", url)
        got = {
            ref: oid
            for oid, ref in (line.split("\t", 1) for line in out.splitlines())
            if ref.startswith(("refs/heads/", "refs/tags/")) and not ref.endswith("^{}")
        }
        expected = self.source_refs(source)
        if got != expected:
            raise BenchError(f"{redact(url)} lists {got}, expected {expected}")


# --------------------------------------------------------------------------- servers


class Target(Protocol):
    """A git server under test: makes empty repos and names their URLs."""

    label: str
    pid: int

    def new_empty_repo(self, name: str) -> str:
        """Create an empty repository; return a URL ``git push`` can write to."""

    def clone_url(self, name: str) -> str:
        """An anonymous read URL for ``name``."""

    def close(self) -> None:
        """Stop the server."""

    def death_note(self) -> str | None:
        """None while the server runs; else its exit status and the tail of its log."""


class CGitTarget:
    """``git http-backend`` as CGI behind ``_cgit_server``, in its own process.

    A separate process (not a thread here) so its memory can be sampled apart from the
    benchmark's own and from the git client's.
    """

    label = "cgit"

    def __init__(self, root: Path, log: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self._log = log
        cmd = [sys.executable, str(Path(_cgit_server.__file__)), "--root", str(root)]
        with log.open("ab") as log_file:
            self._proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env=clean_env(),
                start_new_session=True,
            )
        self.pid = self._proc.pid
        self.base_url = f"http://127.0.0.1:{self._read_port()}"

    def _read_port(self) -> int:
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], STARTUP_TIMEOUT)
        line = self._proc.stdout.readline().decode() if ready else ""
        if not line.startswith("LISTENING "):
            self.close()
            raise BenchError(f"C git server did not start: {log_tail(self._log)}")
        return int(line.split()[1])

    def new_empty_repo(self, name: str) -> str:
        _cgit_server.init_bare_repo(self.root / f"{name}.git")
        return self.clone_url(name)

    def clone_url(self, name: str) -> str:
        return f"{self.base_url}/{name}.git"

    def close(self) -> None:
        stop_process_group(self._proc)

    def death_note(self) -> str | None:
        return death_note(self._proc, self._log)


# --------------------------------------------------------------------------- benchmark


@dataclass
class Results:
    """Raw per-run figures and errors, in a JSON-ready shape."""

    repos: dict[str, dict[str, int]] = field(default_factory=dict)
    transfer: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    forks: dict[str, list[float]] = field(default_factory=dict)
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add_time(self, repo: str, op: str, label: str, seconds: float) -> None:
        self.transfer.setdefault(repo, {}).setdefault(op, {}).setdefault(label, []).append(seconds)

    def times(self, repo: str, op: str, label: str) -> list[float]:
        return self.transfer.get(repo, {}).get(op, {}).get(label, [])


class Bench:
    """Runs the sections in order; a failure loses that server's section, not the whole run."""

    def __init__(
        self,
        targets: list[Target],
        client: GitClient,
        sources: dict[str, Path],
        scratch: Path,
        results: Results,
    ) -> None:
        self.targets = targets
        self.client = client
        self.sources = sources
        self.scratch = scratch
        self.results = results
        self.pushed: dict[tuple[str, str], str] = {}  # (repo, label) -> name on that server
        self._failed: set[tuple[str, str]] = set()
        self._dead: set[str] = set()
        for target in targets:  # before any work: what a freshly started server costs
            fresh_rss, fresh_anon = tree_memory_mb(target.pid)
            results.memory[target.label] = {"fresh_rss_mb": fresh_rss, "fresh_anon_mb": fresh_anon}

    def _order(self, run: int) -> list[Target]:
        """Alternate which server goes first, so warm caches and drift favour neither."""
        return self.targets if run % 2 == 0 else self.targets[::-1]

    def _attempt(self, section: str, target: Target, action: Callable[[], None]) -> None:
        """Run one measurement; on failure skip this section (or, if the server died, all)."""
        if (section, target.label) in self._failed or target.label in self._dead:
            return
        try:
            action()
        except (BenchError, OSError, subprocess.SubprocessError) as exc:
            self._failed.add((section, target.label))
            message = redact(str(exc))
            note = target.death_note()
            if note is not None:
                self._dead.add(target.label)
                message += "\n" + textwrap.indent(f"{target.label} {note}", "    ")
            self.results.errors.append(f"{section} [{target.label}]: {message}")
            progress(f"  ERROR {section} [{target.label}]: {message}")

    def transfer(self, repo: str, runs: int) -> None:
        """Push into a new empty repo each run, then clone the last pushed one each run."""
        source = self.sources[repo]
        for run in range(runs):
            for target in self._order(run):
                self._attempt(
                    f"{repo}/push", target, lambda t=target, r=run: self._push(repo, t, r)
                )
        for run in range(runs):
            for target in self._order(run):
                if (repo, target.label) in self.pushed:
                    self._attempt(
                        f"{repo}/clone",
                        target,
                        lambda t=target, r=run: self._clone(repo, t, r, source),
                    )

    def _push(self, repo: str, target: Target, run: int) -> None:
        name = f"{repo}-{run}"
        url = target.new_empty_repo(name)
        seconds = self.client.push(self.sources[repo], url)
        self.pushed[(repo, target.label)] = name
        self.results.add_time(repo, "push", target.label, seconds)
        progress(f"  {repo:<10} push  {target.label:<8} run {run + 1}: {seconds:7.2f} s")

    def _seed(self, repo: str, target: Target) -> None:
        """An untimed push, for repos that are only forked."""
        self.client.push(self.sources[repo], target.new_empty_repo(repo))
        self.pushed[(repo, target.label)] = repo

    def _clone(self, repo: str, target: Target, run: int, source: Path) -> None:
        dest = self.scratch / f"clone-{repo}-{target.label}-{run}"
        try:
            seconds = self.client.clone(target.clone_url(self.pushed[(repo, target.label)]), dest)
            if run == 0:
                self.client.verify_clone(dest, source)
        finally:
            shutil.rmtree(dest, ignore_errors=True)
        self.results.add_time(repo, "clone", target.label, seconds)
        progress(f"  {repo:<10} clone {target.label:<8} run {run + 1}: {seconds:7.2f} s")

    def memory(self, repo: str) -> None:
        """Push then clone the big repo once per server, sampling the server's RSS."""
        for target in self.targets:
            self._attempt(f"{repo}/memory", target, lambda t=target: self._memory(repo, t))

    def _memory(self, repo: str, target: Target) -> None:
        figures: dict[str, Any] = dict(self.results.memory.get(target.label, {}))
        figures["idle_rss_mb"], figures["idle_anon_mb"] = tree_memory_mb(target.pid)
        url = target.new_empty_repo(repo)
        with PeakMemory(target.pid) as push_mem:
            figures["push_s"] = self.client.push(self.sources[repo], url)
        self.pushed[(repo, target.label)] = repo
        dest = self.scratch / f"clone-{repo}-{target.label}"
        try:
            with PeakMemory(target.pid) as clone_mem:
                figures["clone_s"] = self.client.clone(target.clone_url(repo), dest)
            self.client.verify_clone(dest, self.sources[repo])
        finally:
            shutil.rmtree(dest, ignore_errors=True)
        figures.update(
            push_rss_mb=push_mem.rss_mb,
            push_anon_mb=push_mem.anon_mb,
            clone_rss_mb=clone_mem.rss_mb,
            clone_anon_mb=clone_mem.anon_mb,
            push_top=push_mem.top,
            clone_top=clone_mem.top,
        )
        self.results.memory[target.label] = figures
        progress(
            f"  {repo:<10} {target.label:<8} push {figures['push_s']:.1f} s "
            f"(peak RSS {push_mem.rss_mb:.0f} MB, anon {push_mem.anon_mb:.0f} MB), "
            f"clone {figures['clone_s']:.1f} s "
            f"(peak RSS {clone_mem.rss_mb:.0f} MB, anon {clone_mem.anon_mb:.0f} MB); "
            f"largest process at the peaks: {push_mem.top}; {clone_mem.top}"
        )

    def forks(self, repohub: RepoHubTarget, repos: list[str], runs: int) -> None:
        """Fork each repo once per run, each run by a new user (a user can fork a repo once)."""
        self._attempt("tiny/push", repohub, lambda: self._seed("tiny", repohub))
        forkers: list[tuple[str, str]] = []

        def make_forkers() -> None:
            forkers.extend((f"bob{run}", repohub.create_user(f"bob{run}")) for run in range(runs))

        self._attempt("fork", repohub, make_forkers)
        for run, (forker, token) in enumerate(forkers):
            for repo in repos:
                if (repo, "repohub") in self.pushed:
                    self._attempt(
                        f"{repo}/fork",
                        repohub,
                        lambda r=repo, u=forker, k=token, n=run: self._fork(repohub, r, u, k, n),
                    )

    def _fork(self, repohub: RepoHubTarget, repo: str, forker: str, token: str, run: int) -> None:
        seconds, new_id = repohub.fork(self.pushed[(repo, "repohub")], token, forker)
        if run == 0:
            self.client.verify_remote(f"{repohub.base_url}/{new_id}", self.sources[repo])
        self.results.forks.setdefault(repo, []).append(seconds)
        progress(f"  {repo:<10} fork  repohub  run {run + 1}: {seconds:7.3f} s")


# --------------------------------------------------------------------------- report


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(results: Results) -> dict[str, Any]:
    """Medians, ratios and pass/fail against the targets: what the table and JSON show."""
    transfer = {}
    for repo, ops in results.transfer.items():
        for op in ops:
            cgit = median(results.times(repo, op, "cgit"))
            hub = median(results.times(repo, op, "repohub"))
            ratio = hub / cgit if cgit and hub else None
            transfer[f"{repo}/{op}"] = {
                "cgit_s": cgit,
                "repohub_s": hub,
                "ratio": ratio,
                "target": CLONE_PUSH_TARGET,
                "ok": None if ratio is None else ratio <= CLONE_PUSH_TARGET,
            }
    forks = {repo: median(times) for repo, times in results.forks.items()}
    spread = fork_spread(forks, results.repos)
    hub_memory = results.memory.get("repohub", {})
    peak = max(hub_memory.get("clone_rss_mb", 0.0), hub_memory.get("push_rss_mb", 0.0))
    anon = max(hub_memory.get("clone_anon_mb", 0.0), hub_memory.get("push_anon_mb", 0.0))
    return {
        "transfer": transfer,
        "fork_s": forks,
        "fork_spread": spread,
        "fork_ok": None if spread is None else spread <= FORK_FLAT_TARGET,
        "repohub_peak_rss_mb": peak or None,
        "repohub_peak_anon_mb": anon or None,
        "rss_ok": None if not peak else peak < RSS_TARGET_MB,
    }


def fork_spread(forks: dict[str, float | None], repos: dict[str, dict[str, int]]) -> float | None:
    """Fork time of the largest repo forked over that of the tiny one: 1.0 means flat."""
    times = {repo: seconds for repo, seconds in forks.items() if seconds}
    tiny = times.pop("tiny", None)
    if not tiny or not times:
        return None
    largest = max(times, key=lambda repo: repos.get(repo, {}).get("pack_bytes", 0))
    return times[largest] / tiny


def fmt(value: float | None, spec: str = "7.2f") -> str:
    width = spec.split(".")[0]
    return format(value, spec) if value is not None else "-".rjust(int(width or 1))


def human_size(size: float) -> str:
    """Right-aligned decimal size: the repos span 3 kB to 1 GB."""
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:7.1f} {unit}"
        size /= 1000
    return f"{size:7.1f} GB"


def memory_cell(mem: dict[str, Any], phase: str) -> str:
    """``RSS / anon`` for one phase, or a dash if that phase was not measured."""
    if f"{phase}_rss_mb" not in mem:
        return "-".rjust(11)
    return f"{mem[f'{phase}_rss_mb']:5.0f} /{mem[f'{phase}_anon_mb']:4.0f}"


def verdict(ok: bool | None) -> str:
    return {True: "ok", False: "MISSED", None: ""}[ok]


def render(results: Results, summary: dict[str, Any], runs: int) -> str:
    """The human-readable table printed on stdout."""
    lines = ["", "Repositories (generated, packed):"]
    for repo, stats in results.repos.items():
        lines.append(
            f"  {repo:<11} {human_size(stats['pack_bytes'])}  {stats['objects']:>7,} objects"
        )
    lines += [
        "",
        f"Push and clone, median of {runs} runs (seconds)",
        f"  {'repo':<11} {'op':<6} {'C git':>7} {'RepoHub':>8} {'ratio':>7}  target",
    ]
    for key, row in summary["transfer"].items():
        repo, op = key.split("/")
        ratio = f"{row['ratio']:6.2f}x" if row["ratio"] is not None else "      -"
        lines.append(
            f"  {repo:<11} {op:<6} {fmt(row['cgit_s'])} {fmt(row['repohub_s'], '8.2f')} "
            f"{ratio}  <= {CLONE_PUSH_TARGET}x {verdict(row['ok'])}"
        )
    if summary["fork_s"]:
        lines += ["", f"Fork (RepoHub API call, median of {runs} runs)"]
        for repo, seconds in summary["fork_s"].items():
            size = human_size(results.repos.get(repo, {}).get("pack_bytes", 0))
            lines.append(f"  {repo:<11} {size}  {fmt(seconds, '7.3f')} s")
        spread = summary["fork_spread"]
        lines.append(
            f"  largest / tiny: {fmt(spread, '.2f')}x  target flat (<= {FORK_FLAT_TARGET}x) "
            f"{verdict(summary['fork_ok'])}"
        )
    if results.memory:
        lines += [
            "",
            "Server process tree memory, peak MB as VmRSS / RssAnon (VmRSS includes mmapped packs)",
            f"  {'server':<8} {'fresh':>11} {'before':>11} {'push 1 GB':>11} {'clone 1 GB':>11}"
            "   push s  clone s",
        ]
        for label, mem in results.memory.items():
            cells = " ".join(
                memory_cell(mem, phase) for phase in ("fresh", "idle", "push", "clone")
            )
            lines.append(
                f"  {label:<8} {cells}  {fmt(mem.get('push_s'), '7.1f')}  "
                f"{fmt(mem.get('clone_s'), '7.1f')}"
            )
        if summary["repohub_peak_rss_mb"] is not None:
            lines.append(
                f"  RepoHub peak RSS {summary['repohub_peak_rss_mb']:.0f} MB "
                f"(anon {summary['repohub_peak_anon_mb'] or 0:.0f} MB), target < "
                f"{RSS_TARGET_MB:.0f} MB {verdict(summary['rss_ok'])}"
            )
    if results.errors:
        lines += ["", "ERRORS (these figures are missing):", *(f"  {e}" for e in results.errors)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/repohub-bench"))
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="skip the 1 GB memory repo")
    parser.add_argument("--only", choices=("cgit", "repohub", "both"), default="both")
    parser.add_argument("--repohub-cmd", help='server command prefix, e.g. "repohub"')
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep this run's server data")
    parser.add_argument("--check", action="store_true", help="exit 2 if a target is missed")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 20:
        parser.error("--runs must be between 1 and 20")
    return args


def prepare_sources(names: list[str], cache: Path, results: Results) -> dict[str, Path]:
    sources = {}
    for name in names:
        started = time.perf_counter()
        sources[name] = _repogen.ensure_repo(SPECS[name], cache)
        results.repos[name] = _repogen.repo_stats(sources[name])
        progress(f"repo {name}: {sources[name]} ({time.perf_counter() - started:.1f} s)")
    return sources


@contextlib.contextmanager
def started_targets(
    args: argparse.Namespace, run_dir: Path, results: Results
) -> Iterator[list[Target]]:
    """Start the servers that ``--only`` asks for and always stop them again.

    A server that fails to start is reported and left out, so the other one's figures
    (typically C git's, while RepoHub is still being written) are still measured.
    """
    targets: list[Target] = []
    starters: list[Callable[[], Target]] = []
    if args.only in ("cgit", "both"):
        starters.append(lambda: CGitTarget(run_dir / "cgit-root", run_dir / "cgit-server.log"))
    if args.only in ("repohub", "both"):
        cmd = shlex.split(args.repohub_cmd) if args.repohub_cmd else default_repohub_cmd()
        starters.append(
            lambda: RepoHubTarget(
                cmd,
                run_dir / "repohub-data",
                run_dir / "repohub-server.log",
                # The generated repos push 100 MB weights without LFS, on purpose: they are
                # the git-serving reference. RepoHub's 10 MB default policy would refuse them.
                {"REPOHUB_LARGE_FILE_THRESHOLD": str(10 * 1024**3)},
            )
        )
    try:
        for start in starters:
            try:
                targets.append(start())
            except (BenchError, OSError) as exc:
                results.errors.append(f"startup: {redact(str(exc))}")
                progress(f"  ERROR startup: {redact(str(exc))}")
        yield targets
    finally:
        for target in targets:
            target.close()


def run(args: argparse.Namespace) -> tuple[Results, dict[str, Any]]:
    """Generate (or reuse) the repositories, start the servers and run every section."""
    results = Results()
    wanted = ["tiny", *TRANSFER_REPOS] + ([] if args.quick else ["huge"])
    sources = prepare_sources(wanted, args.workdir / "repos", results)
    run_dir = args.workdir / "runs" / time.strftime("%Y%m%d-%H%M%S")
    scratch = run_dir / "scratch"
    scratch.mkdir(parents=True)
    client = GitClient(args.workdir / "home")
    progress(f"run directory: {run_dir}")
    try:
        with started_targets(args, run_dir, results) as targets:
            bench = Bench(targets, client, sources, scratch, results)
            for repo in TRANSFER_REPOS:
                bench.transfer(repo, args.runs)
            if not args.quick:
                bench.memory("huge")
            hub = next((t for t in targets if isinstance(t, RepoHubTarget)), None)
            if hub is not None:
                fork_repos = ["tiny", *TRANSFER_REPOS] + ([] if args.quick else ["huge"])
                bench.forks(hub, fork_repos, args.runs)
    finally:
        if not args.keep:
            for data in ("cgit-root", "cgit-home", "repohub-data", "scratch"):
                shutil.rmtree(run_dir / data, ignore_errors=True)
    return results, summarize(results)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results, summary = run(args)
    print(render(results, summary, args.runs))
    if args.json:
        document = {
            "machine": machine_info(),
            "args": {"runs": args.runs, "quick": args.quick, "only": args.only},
            "summary": summary,
            "raw": {
                "repos": results.repos,
                "transfer": results.transfer,
                "forks": results.forks,
                "memory": results.memory,
            },
            "errors": results.errors,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    if results.errors:
        return 1
    missed = [row["ok"] is False for row in summary["transfer"].values()]
    missed += [summary["fork_ok"] is False, summary["rss_ok"] is False]
    return 2 if args.check and any(missed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
