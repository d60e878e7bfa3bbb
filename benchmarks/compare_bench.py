"""Compare two versions: 1,000 changed files and two `.safetensors` of 500 tensors each.

    python -m benchmarks.compare_bench                 # 50 timed requests
    python -m benchmarks.compare_bench --requests 200

It starts ``repohub serve`` (no job worker) against a fresh schema in the local PostgreSQL
``test`` database with local blob storage, pushes the fixture of `_compare_fixture.py` with
``git`` and ``git lfs``, stores train and eval reports for both commits, then times:

- the API, ``GET /api/models/{owner}/{name}/compare/{base}...{head}``: the server's own time
  from its ``Server-Timing`` header (building and serialising the answer) and the client's
  wall time, over sequential requests;
- ``build_compare`` in this process, against the same database and storage: the first call
  (nothing cached: git objects read, diffs and safetensors headers computed) and later ones
  (the git part cached per (base sha, head sha); reports read every time).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # also runnable as ``python benchmarks/compare_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._compare_fixture import build_fixture
from benchmarks.web_bench import pg_schema, serve

TARGET_MS = 200.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _report(name: str, values: list[float]) -> None:
    print(
        f"  {name}: median {statistics.median(values):.1f} ms, "
        f"p95 {_percentile(values, 0.95):.1f} ms, max {max(values):.1f} ms (n={len(values)})"
    )


def time_api(base_url: str, path: str, token: str, count: int) -> tuple[float, list, list, int]:
    server, wall = [], []
    first = 0.0
    size = 0
    for i in range(count + 1):
        request = urllib.request.Request(base_url + path)  # noqa: S310 (loopback)
        request.add_header("Authorization", f"Bearer {token}")
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310 (loopback)
            body = answer.read()
            timing = float(answer.headers["server-timing"].split("dur=")[1])
        elapsed = (time.perf_counter() - started) * 1000
        if i == 0:
            first, size = timing, len(body)
            data = json.loads(body)
            changed = data["files"]["changed"]
            tensors = next(f for f in changed if f["path"] == "model.safetensors")["safetensors"]
            print(
                f"  answer: {len(changed)} changed files, safetensors diff of "
                f"{tensors['params_before']:,} -> {tensors['params_after']:,} parameters "
                f"({len(tensors['reshaped'])} reshaped, {len(tensors['retyped'])} retyped, "
                f"{len(tensors['added'])} added, {len(tensors['removed'])} removed), "
                f"{len(data['verdicts'])} verdicts, {len(body) / 1e6:.1f} MB of JSON"
            )
            continue
        server.append(timing)
        wall.append(elapsed)
    return first, server, wall, size


def time_in_process(settings, fixture, count: int) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    from repohub.auth.identity import Identity
    from repohub.compare import service
    from repohub.repos.context import Hub
    from repohub.repos.service import RepoKey

    hub = Hub.build(settings)
    try:
        service._git_parts.clear()  # a cold start for this process
        owner, name = fixture.repo.split("/")
        key = RepoKey("model", owner, name)
        times = []
        for _ in range(count + 1):
            started = time.perf_counter()
            service.build_compare(hub, Identity(), key, fixture.base, fixture.head)
            times.append((time.perf_counter() - started) * 1000)
        return times[0], times[1:]
    finally:
        hub.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--tensors", type=int, default=500)
    args = parser.parse_args()

    from repohub.config import Settings

    with tempfile.TemporaryDirectory(prefix="compare-bench-") as tmp, pg_schema() as url:
        workdir = Path(tmp)
        env = {
            "REPOHUB_DATA_DIR": str(workdir / "data"),
            "REPOHUB_DATABASE_URL": url,
            "REPOHUB_SECRET_KEY": secrets.token_hex(32),
            "REPOHUB_SERVE_WORKER": "false",
        }
        settings = Settings(
            data_dir=workdir / "data", database_url=url, secret_key=env["REPOHUB_SECRET_KEY"]
        )
        with serve(env, workdir / "server.log") as base_url:
            started = time.perf_counter()
            fixture = build_fixture(
                settings, base_url, workdir, files=args.files, tensors=args.tensors
            )
            print(
                f"pushed {args.files:,} changed files + 2 x {args.tensors} tensors and stored "
                f"4 reports in {time.perf_counter() - started:.1f} s"
            )
            print(f"API {fixture.api_path}")
            first, server, wall, _ = time_api(
                base_url, fixture.api_path, fixture.token, args.requests
            )
            print(f"  first request (cold cache) server time: {first:.1f} ms")
            _report("server time (Server-Timing)", server)
            _report("client wall time", wall)
            page_ok = report_page(base_url, fixture.page_path, args.requests)
            cold, warm = time_in_process(settings, fixture, args.requests)
            print("in-process build_compare")
            print(f"  first call (cold cache): {cold:.1f} ms")
            _report("later calls", warm)
        ok = statistics.median(server) < TARGET_MS and page_ok
        verdict = "met" if ok else "MISSED"
        print(f"target: median server time < {TARGET_MS:.0f} ms once reports exist: {verdict}")
    return 0 if ok else 1


# --------------------------------------------------------------------------------------------
# The compare page (web): `{repo}/compare/{base}...{head}`, added beside the API's timing.


def time_page(base_url: str, path: str, count: int) -> tuple[float, list[float], list[float]]:
    """The HTML page, fetched anonymously (the fixture's repo is public): the server's time
    from its `Server-Timing` header and the client's wall time, over sequential requests
    after a first one. The page renders the same `build_compare` dict as the API, so its
    git part is cached by then; what it adds is the template (100 files a page)."""
    server, wall, first = [], [], 0.0
    for i in range(count + 1):
        started = time.perf_counter()
        with urllib.request.urlopen(base_url + path, timeout=120) as answer:  # noqa: S310 (loopback)
            body = answer.read()
            timing = float(answer.headers["server-timing"].split("dur=")[1])
        if i == 0:
            first = timing
            print(f"  page: {len(body) / 1e3:.0f} kB of HTML")
            continue
        server.append(timing)
        wall.append((time.perf_counter() - started) * 1000)
    return first, server, wall


def report_page(base_url: str, path: str, count: int) -> bool:
    print(f"page {path}")
    first, server, wall = time_page(base_url, path, count)
    print(f"  first request server time: {first:.1f} ms")
    _report("server time (Server-Timing)", server)
    _report("client wall time", wall)
    return statistics.median(server) < TARGET_MS


if __name__ == "__main__":
    raise SystemExit(main())
