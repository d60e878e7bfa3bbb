"""Web pages under concurrent load: a repo page with a 1,000-file tree, and search over
100,000 repos, on the production database (PostgreSQL).

    python -m benchmarks.web_bench                      # 64 connections, 15 s per case
    python -m benchmarks.web_bench --connections 32 --duration 5 --repos 20000
    python -m benchmarks.web_bench --workers 2          # `repohub serve --workers 2`

It starts ``repohub serve`` against a fresh schema in the local PostgreSQL ``test`` database
(dropped afterwards) with local blob storage, pushes the 1,000-file repo with ``git``, seeds
the search corpus directly through SQL (owners, repos, model-card facets and documents, with
the same tsvector the index builds), then loads the server over loopback with ``wrk`` (Debian
package) or, without it, a bounded asyncio + httpx load generator. Each case runs a warm-up
of the same load first (``--warmup``, reported apart: a running hub's per-process caches are
warm), then the measured run, and prints requests/s and p50/p99 latency; the repo page's
server-side render time comes from its ``Server-Timing`` header over sequential requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # also runnable as ``python benchmarks/web_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, select, text

from benchmarks._server import owner_with_repo

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
TARGET_P99_MS = 100.0
RENDER_TARGET_MS = 50.0
OWNER = "bench"
PASSWORD = "B3nch-pass"  # noqa: S105 - a throwaway account in a throwaway schema
TASKS = [
    "text-classification",
    "token-classification",
    "fill-mask",
    "translation",
    "summarization",
    "image-classification",
    "object-detection",
    "text-generation",
    "automatic-speech-recognition",
    "feature-extraction",
    "question-answering",
    "image-segmentation",
]
LIBRARIES = [
    "transformers",
    "pytorch",
    "timm",
    "sentence-transformers",
    "diffusers",
    "sklearn",
    "keras",
    "onnx",
]
LICENSES = ["apache-2.0", "mit", "cc-by-4.0", "openrail", "bsd-3-clause", "other"]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "ta",
    "vo",
    "ze",
    "bri",
    "dan",
    "fel",
    "gor",
    "hul",
    "jin",
    "kes",
    "lum",
    "mor",
    "nix",
    "pel",
    "quo",
    "ras",
    "sol",
    "tuv",
    "wex",
]


# --- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema in the `test` database, dropped afterwards (as tests/support/stack.py)."""
    schema = f"bench_{secrets.token_hex(5)}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def server_command(port: int, workers: int) -> list[str]:
    """`repohub serve` with `workers` web processes."""
    script = Path(sys.executable).with_name("repohub")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "repohub.cli"]
    return [
        *command,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


@contextmanager
def serve(env: dict[str, str], log: Path, workers: int = 1) -> Iterator[str]:
    """The server on a loopback port, in its own process group (stopped as a whole)."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            server_command(port, workers),
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"repohub serve did not start:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=2):  # noqa: S310
                    break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- seeding -------------------------------------------------------------------------------


def push_big_repo(settings, base_url: str, workdir: Path) -> str:  # type: ignore[no-untyped-def]
    """A user, a write token and a model with 1,000 files (and a card) at its root."""
    from repohub.repos.context import Hub

    hub = Hub.build(settings)
    try:
        token = owner_with_repo(hub, OWNER, PASSWORD, "bench@example.com", "big")
    finally:
        hub.close()
    src = workdir / "big"
    src.mkdir()
    for i in range(1000):
        (src / f"file_{i:04d}.txt").write_text(f"line {i}\n" * (i % 40 + 1))
    (src / "README.md").write_text(
        "---\nlicense: apache-2.0\nlibrary_name: transformers\npipeline_tag: fill-mask\n---\n"
        "# Big\n\nA model repository with a thousand files at its root.\n"
    )
    git_env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(workdir),
    }
    host = base_url.removeprefix("http://")
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "a thousand files"],
        ["push", "-q", f"http://{OWNER}:{token}@{host}/{OWNER}/big", "main"],
    ):
        subprocess.run(["git", *args], cwd=src, env=git_env, check=True, capture_output=True)
    return f"/{OWNER}/big"


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def zipf_pick(words: list[str], rng: random.Random) -> str:
    """Common words are common: index ~ 1/rank, as in real text."""
    return words[min(len(words) - 1, int(rng.paretovariate(1.1)) - 1)]


@dataclass(frozen=True)
class Corpus:
    repos: int
    words: list[str]
    owners: int


def seed_search(url: str, count: int, rng: random.Random) -> Corpus:
    """`count` repos (10% private) with cards' facets and search documents, straight into
    the tables; the vectors are built by PostgreSQL exactly as `repos.search` builds them."""
    from repohub.db.models import Account, Network, Repo
    from repohub.db.social import RepoSearch, SearchSync

    words = vocabulary(5000, rng)
    rng.shuffle(words)
    engine = create_engine(url)
    owners = max(1, count // 200)
    with engine.begin() as conn:
        conn.execute(
            insert(Account),
            [{"kind": "org", "name": f"lab-{i}", "name_lower": f"lab-{i}"} for i in range(owners)],
        )
        owner_ids = list(conn.scalars(select(Account.id).where(Account.kind == "org")))
        first = conn.scalar(select(Network.id).order_by(Network.id.desc()).limit(1)) or 0
        conn.execute(insert(Network), [{"id": first + 1 + i} for i in range(count)])
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence('networks', 'id'), :v)"),
            {"v": first + count},
        )
        batch = 5000
        for start in range(0, count, batch):
            repos, searches = [], []
            for i in range(start, min(count, start + batch)):
                name = f"{zipf_pick(words, rng)}-{zipf_pick(words, rng)}-{i}"
                description = " ".join(zipf_pick(words, rng) for _ in range(8))
                repos.append(
                    {
                        "network_id": first + 1 + i,
                        "owner_id": rng.choice(owner_ids),
                        "repo_type": "model" if i % 5 else "dataset",
                        "name": name,
                        "name_lower": name.lower(),
                        "private": i % 10 == 3,
                        "description": description,
                        "downloads": int(rng.paretovariate(0.8) * 10),
                        "likes": int(rng.paretovariate(1.2)),
                    }
                )
            ids = list(
                conn.execute(
                    insert(Repo).returning(Repo.id, sort_by_parameter_order=True), repos
                ).scalars()
            )
            for repo_id, repo in zip(ids, repos, strict=True):
                body = " ".join(zipf_pick(words, rng) for _ in range(40))
                task, library, lic = rng.choice(TASKS), rng.choice(LIBRARIES), rng.choice(LICENSES)
                document = " ".join(
                    [
                        repo["name"],
                        " ".join(re.findall("[a-z0-9]+", repo["name"])),
                        repo["description"],
                        task,
                        library,
                        lic,
                        body,
                    ]
                )
                searches.append(
                    {
                        "repo_id": repo_id,
                        "task": task,
                        "library": library,
                        "license": lic,
                        "tags": "",
                        "summary": body[:200],
                        "document": document,
                    }
                )
            conn.execute(insert(RepoSearch), searches)
        conn.execute(text("UPDATE repo_search SET vector = to_tsvector('simple', document)"))
        marks = conn.execute(
            text("SELECT (SELECT coalesce(max(id), 0) FROM push_log), (SELECT max(id) FROM repos)")
        ).one()
        conn.execute(text("DELETE FROM search_sync"))
        conn.execute(insert(SearchSync).values(id=1, push_log_id=marks[0], repo_id=marks[1]))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return Corpus(count, words, owners)


def search_paths(corpus: Corpus, rng: random.Random, n: int = 400) -> list[str]:
    """What people type: common and rare words, two-word queries, filters, sorts, pages."""
    paths = []
    for _ in range(n):
        kind = rng.random()
        word = zipf_pick(corpus.words, rng)
        if kind < 0.35:
            paths.append(f"/models?q={word}")
        elif kind < 0.55:
            paths.append(f"/models?q={word}+{zipf_pick(corpus.words, rng)}&sort=likes")
        elif kind < 0.70:
            paths.append(f"/models?task={rng.choice(TASKS)}&license={rng.choice(LICENSES)}")
        elif kind < 0.80:
            paths.append(f"/models?library={rng.choice(LIBRARIES)}&sort=updated&p=2")
        elif kind < 0.90:
            paths.append(f"/models?owner=lab-{rng.randrange(corpus.owners)}&sort=downloads")
        else:
            paths.append(f"/datasets?q={word}&sort=updated")
    return paths


# --- load ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    case: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    tool: str


WRK_SCRIPT = """
local paths = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
"""
WRK_LATENCY_RE = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def _wrk_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    base: str, case: str, paths: list[str], connections: int, seconds: int, workdir: Path
) -> LoadResult:
    script = workdir / f"{case}.lua"
    script.write_text(WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths))
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    percentiles = {p: _wrk_ms(v, u) for p, v, u in WRK_LATENCY_RE.findall(out)}
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    bad_status = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    errors += int(bad_status.group(1)) if bad_status else 0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return LoadResult(case, total, errors, rps, percentiles["50"], percentiles["99"], "wrk")


async def _httpx_load(
    base: str, paths: list[str], connections: int, seconds: float
) -> tuple[list[float], int]:
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:

        async def worker(offset: int) -> None:
            nonlocal errors
            n = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                r = await client.get(paths[n % len(paths)])
                latencies.append((time.perf_counter() - started) * 1000)
                errors += r.status_code != 200
                n += connections

        await asyncio.gather(*(worker(i) for i in range(connections)))
    return latencies, errors


def run_httpx(base: str, case: str, paths: list[str], connections: int, seconds: int) -> LoadResult:
    latencies, errors = asyncio.run(_httpx_load(base, paths, connections, seconds))
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return LoadResult(
        case,
        len(latencies),
        errors,
        len(latencies) / seconds,
        statistics.median(latencies),
        p99,
        "asyncio+httpx",
    )


def render_times(base: str, path: str, count: int = 200) -> tuple[float, float, float]:
    """(first, p50, p99) of the server's own time for `path`, from Server-Timing."""
    times = []
    for _ in range(count):
        with urllib.request.urlopen(base + path, timeout=30) as r:  # noqa: S310
            r.read()
            timing = r.headers.get("server-timing", "")
        times.append(float(timing.split("dur=")[1]))
    first, rest = times[0], sorted(times[1:])
    return first, statistics.median(rest), rest[int(len(rest) * 0.99) - 1]


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=15, help="seconds per case")
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="seconds of the same load before each case, reported apart (0: none)",
    )
    parser.add_argument("--repos", type=int, default=100_000, help="search corpus size")
    parser.add_argument("--tool", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--workers", type=int, default=1, help="web server processes (`repohub serve --workers`)"
    )
    args = parser.parse_args()
    use_wrk = args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk"))
    rng = random.Random(args.seed)

    from repohub.config import Settings

    with tempfile.TemporaryDirectory(prefix="web-bench-") as tmp, pg_schema() as url:
        workdir = Path(tmp)
        env = {
            "REPOHUB_DATA_DIR": str(workdir / "data"),
            "REPOHUB_DATABASE_URL": url,
            "REPOHUB_SECRET_KEY": secrets.token_hex(32),
            # A production deployment runs job workers on machines of their own.
            "REPOHUB_SERVE_WORKER": "false",
        }
        with serve(env, workdir / "server.log", args.workers) as base:
            settings = Settings(
                data_dir=workdir / "data", database_url=url, secret_key=env["REPOHUB_SECRET_KEY"]
            )
            started = time.perf_counter()
            repo_page = push_big_repo(settings, base, workdir)
            corpus = seed_search(url, args.repos, rng)
            print(
                f"seeded 1,000-file repo and {args.repos:,} repos in "
                f"{time.perf_counter() - started:.0f} s"
            )
            first, p50, p99 = render_times(base, repo_page)
            print(
                f"repo page ({repo_page}, 1,000 files) server time: first view {first:.1f} ms, "
                f"then p50 {p50:.1f} ms, p99 {p99:.1f} ms (target < {RENDER_TARGET_MS:.0f} ms)"
            )
            cases = {
                "repo page (1,000 files)": [repo_page],
                f"search ({args.repos:,} repos)": search_paths(corpus, rng),
            }
            results: list[LoadResult] = []
            warm: list[LoadResult] = []
            for case, paths in cases.items():
                name = case.split(" ")[0]

                def load(label: str, seconds: int, paths: list[str] = paths) -> LoadResult:
                    if use_wrk:
                        return run_wrk(base, label, paths, args.connections, seconds, workdir)
                    return run_httpx(base, label, paths, args.connections, seconds)

                if args.warmup:  # a running hub's caches are warm: measure that, after this
                    warm.append(load(f"{name} (warm-up)", args.warmup))
                results.append(load(name, args.duration))
    print()
    print(
        f"{'case':<28} {'conns':>5} {'requests':>9} {'errors':>6} {'req/s':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7}  target p99 < {TARGET_P99_MS:.0f} ms"
    )
    for r in warm:
        print(
            f"{r.case:<28} {args.connections:>5} {r.requests:>9} {r.errors:>6} {r.rps:>8.0f} "
            f"{r.p50_ms:>7.1f} {r.p99_ms:>7.1f}  (not judged: first {args.warmup} s, caches cold)"
        )
    for r in results:
        verdict = "ok" if r.p99_ms < TARGET_P99_MS and not r.errors else "MISSED"
        print(
            f"{r.case:<28} {args.connections:>5} {r.requests:>9} {r.errors:>6} {r.rps:>8.0f} "
            f"{r.p50_ms:>7.1f} {r.p99_ms:>7.1f}  {verdict} ({r.tool})"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"server: {args.workers} process(es); machine: {os.cpu_count()} CPUs, "
          f"load average {load}, Python {sys.version.split()[0]}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
