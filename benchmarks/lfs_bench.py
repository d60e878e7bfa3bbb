"""Git LFS through RepoHub against the same bytes moved raw, for both storage backends.

One random file (1 GiB by default) goes up with ``git lfs push`` / ``git push`` and comes back
with ``git lfs pull`` / ``git clone``, through a ``repohub serve`` started like a user would.
The reference is the raw transfer of the same bytes to the same place: boto3 against the same
SeaweedFS S3 server for ``--storage s3``, ``cp`` within the same filesystem for ``--storage
local``. What counts is RepoHub's throughput over the faster raw path (target >= 0.8) and the
server's peak memory during the transfers (target < 300 MB), not the absolute MB/s.

    python -m benchmarks.lfs_bench                      # local and s3, 1 GiB, medians of 3
    python -m benchmarks.lfs_bench --storage s3 --runs 5 --json out.json
    python -m benchmarks.lfs_bench --only raw           # the boto3 / cp references alone
    python -m benchmarks.lfs_bench --size 256MiB --check

The file is generated once and cached under ``--workdir`` (default /tmp/repohub-bench/lfs).
Raw and RepoHub transfers alternate run by run so machine noise hits both alike, and dirty
pages are flushed (untimed) before every timed operation so one run's writeback does not land
in the next one's time. Every download is checked once per configuration against the file's
sha256 (untimed), and every timed push sends a file the hub has never stored (the cached
file with its first 32 bytes changed) to a fresh repo that the server has confirmed wants the
bytes, so neither a server that skips work nor content-addressed dedup can look fast. With
``GIT_TRACE=1`` on the timed git commands, the report also splits a push into its upload PUT
and verify POST, and a pull into the transfer and the final ``update-index``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

if __package__ in (None, ""):  # also runnable as ``python benchmarks/lfs_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from benchmarks._server import (
    OWNER,
    BenchError,
    PeakMemory,
    RepoHubTarget,
    default_repohub_cmd,
    machine_info,
    progress,
    redact,
    tree_memory_mb,
)
from benchmarks.git_bench import GitClient
from tests.support.seaweed import S3Server, running_seaweedfs

THROUGHPUT_TARGET = 0.8  # RepoHub's MB/s over the faster raw path's, at least
RSS_TARGET_MB = 300.0  # RepoHub's server process tree during the LFS transfers
COMMAND_TIMEOUT = 1800.0
MIB = 1024 * 1024
GIB = 1024 * MIB
CHUNK = 4 * MIB
FILE_NAME = "weights.bin"  # matched by the ``*.bin`` pattern the work repo tracks
PUSH_KINDS = ("lfs-push", "git-push")  # one work-repo branch (and new oid) per kind and run
LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"
GIT_LFS_VERSION = "3.3.0"  # only the ``git-lfs/`` prefix of the User-Agent matters
# The shape RepoHub's own S3 blob store uses (16 MiB parts, 4 in flight). On loopback
# SeaweedFS with 2 CPUs it moved 1 GiB as fast as boto3's default (8 MiB x 10) and as
# 64 MiB x 2 or x 8, both ways, within run-to-run noise.
RAW_TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=16 * MIB, multipart_chunksize=16 * MIB, max_concurrency=4
)
ERRORS = (BenchError, OSError, subprocess.SubprocessError, BotoCoreError, ClientError, Boto3Error)

Direction = Literal["upload", "download"]
Role = Literal["reference", "info", "repohub"]


@dataclass(frozen=True)
class RowSpec:
    """A table row: ``reference`` rows set the bar, ``info`` rows only explain."""

    label: str
    direction: Direction
    role: Role
    target: bool = False  # a RepoHub row the 0.8 target (and ``--check``) applies to


def row_key(direction: Direction, label: str) -> str:
    """Rows are keyed by direction too: ``cp`` is a row both ways."""
    return f"{direction}/{label}"


ROWS = {
    row_key(spec.direction, spec.label): spec
    for spec in (
        RowSpec("boto3 upload_file", "upload", "reference"),
        RowSpec("boto3 put_object", "upload", "reference"),
        RowSpec("cp", "upload", "reference"),
        RowSpec("cp + fsync", "upload", "info"),
        RowSpec("git lfs push --all", "upload", "repohub", target=True),
        RowSpec("git push (pre-push hook)", "upload", "repohub"),
        RowSpec("curl PUT + verify (no git-lfs)", "upload", "repohub"),
        RowSpec("boto3 download_file", "download", "reference"),
        RowSpec("boto3 get_object", "download", "reference"),
        RowSpec("cp", "download", "reference"),
        RowSpec("cat > /dev/null", "download", "info"),
        RowSpec("git lfs pull", "download", "repohub", target=True),
        RowSpec("git clone (smudge)", "download", "repohub"),
        RowSpec("git lfs fetch (no checkout)", "download", "repohub"),
        RowSpec("curl GET (no git-lfs)", "download", "repohub"),
    )
}


# --------------------------------------------------------------------------- the file


@dataclass(frozen=True)
class Payload:
    """The random file every transfer moves, with its sha256 (the LFS oid)."""

    path: Path
    size: int
    oid: str

    @property
    def megabytes(self) -> float:
        return self.size / 1e6


def ensure_payload(cache: Path, size: int) -> Payload:
    """Generate the random file once; later runs trust the sidecar written after it.

    Random bytes, so no layer (HTTP compression, S3 server, filesystem) can shrink the work.
    """
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"random-{size}.bin"
    sidecar = path.with_name(path.name + ".sha256")
    if path.is_file() and path.stat().st_size == size and sidecar.is_file():
        return Payload(path, size, sidecar.read_text().strip())
    started = time.perf_counter()
    digest = hashlib.sha256()
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as sink:
        remaining = size
        while remaining:
            block = os.urandom(min(CHUNK, remaining))
            digest.update(block)
            sink.write(block)
            remaining -= len(block)
    partial.replace(path)
    sidecar.write_text(digest.hexdigest() + "\n")
    progress(f"generated {path} ({time.perf_counter() - started:.1f} s)")
    return Payload(path, size, digest.hexdigest())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify_copy(path: Path, payload: Payload, what: str) -> None:
    """The downloaded file must be the payload itself, not a pointer or a short read."""
    size = path.stat().st_size if path.exists() else -1
    if size != payload.size:
        raise BenchError(f"{what}: {path} has {size} bytes, expected {payload.size}")
    if sha256_file(path) != payload.oid:
        raise BenchError(f"{what}: {path} has the right size but the wrong sha256")


def settle() -> None:
    """Flush dirty pages before a timed operation, so it never pays for the previous one."""
    os.sync()


def run_command(command: list[str]) -> None:
    """Run a local tool (cp, cat) with its output discarded; fail with its message."""
    proc = subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"{shlex.join(command)} failed: {proc.stderr.decode()[-300:]}")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


# --------------------------------------------------------------------------- raw references


class S3Reference:
    """boto3 against the same S3 server RepoHub stores into: managed transfer and one stream."""

    def __init__(self, s3: S3Server, payload: Payload, scratch: Path) -> None:
        self.client = s3.client()
        self.bucket = s3.bucket
        self.payload = payload
        self.scratch = scratch
        self.stored_key: str | None = None

    def upload_file(self, run: int) -> dict[str, float]:
        """boto3's managed upload: multipart, several parts in flight."""
        key = "raw-bench/upload_file"
        settle()
        seconds = timed(
            lambda: self.client.upload_file(
                str(self.payload.path), self.bucket, key, Config=RAW_TRANSFER_CONFIG
            )
        )
        self._check_stored(key)
        return {"boto3 upload_file": seconds}

    def put_object(self, run: int) -> dict[str, float]:
        """One PUT streaming the file, the shape of git-lfs's single presigned PUT.

        boto3 also reads the file to sign its sha256 (plain http) and to compute a CRC32:
        that is part of what a boto3 user pays, so it stays in.
        """
        key = "raw-bench/put_object"
        settle()
        with self.payload.path.open("rb") as body:
            seconds = timed(
                lambda: self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentLength=self.payload.size
                )
            )
        self._check_stored(key)
        return {"boto3 put_object": seconds}

    def _check_stored(self, key: str) -> None:
        size = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        if size != self.payload.size:
            raise BenchError(f"s3://{self.bucket}/{key} holds {size} bytes")
        self.stored_key = key

    def download_file(self, run: int) -> dict[str, float]:
        """boto3's managed download: ranged GETs in parallel into one file."""
        key, dest = self._source(), self.scratch / "raw-download_file.bin"
        settle()
        seconds = timed(
            lambda: self.client.download_file(
                self.bucket, key, str(dest), Config=RAW_TRANSFER_CONFIG
            )
        )
        self._finish(dest, run, "boto3 download_file")
        return {"boto3 download_file": seconds}

    def get_object(self, run: int) -> dict[str, float]:
        """One GET, its body streamed to a file in 4 MiB chunks."""
        key, dest = self._source(), self.scratch / "raw-get_object.bin"
        settle()
        seconds = timed(lambda: self._stream_to(key, dest))
        self._finish(dest, run, "boto3 get_object")
        return {"boto3 get_object": seconds}

    def _stream_to(self, key: str, dest: Path) -> None:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        with contextlib.closing(body), dest.open("wb") as sink:
            for block in body.iter_chunks(CHUNK):
                sink.write(block)

    def _source(self) -> str:
        if self.stored_key is None:
            raise BenchError("no raw upload succeeded, so there is nothing to download")
        return self.stored_key

    def _finish(self, dest: Path, run: int, what: str) -> None:
        try:
            if run == 0:
                verify_copy(dest, self.payload, what)
        finally:
            dest.unlink(missing_ok=True)

    def uploads(self) -> list[Op]:
        return [Op("raw", "upload", self.upload_file), Op("raw", "upload", self.put_object)]

    def downloads(self) -> list[Op]:
        return [Op("raw", "download", self.download_file), Op("raw", "download", self.get_object)]


class LocalReference:
    """``cp`` into and out of a store on the filesystem RepoHub's data directory lives on."""

    def __init__(self, payload: Payload, scratch: Path) -> None:
        self.payload = payload
        self.scratch = scratch
        self.stored = scratch / "raw-store" / "object.bin"
        self.stored.parent.mkdir(parents=True, exist_ok=True)

    def upload(self, run: int) -> dict[str, float]:
        """``cp`` alone, and ``cp`` plus fsync: RepoHub's local store fsyncs before renaming.

        ``--reflink=never`` so a copy-on-write filesystem cannot turn the copy into a no-op.
        """
        self.stored.unlink(missing_ok=True)
        settle()
        started = time.perf_counter()
        run_command(["cp", "--reflink=never", str(self.payload.path), str(self.stored)])
        copied = time.perf_counter()
        with self.stored.open("rb") as written:
            os.fsync(written.fileno())
        synced = time.perf_counter()
        return {"cp": copied - started, "cp + fsync": synced - started}

    def download(self, run: int) -> dict[str, float]:
        """``cp`` out of the store: read it and write a new file, as a download must."""
        dest = self.scratch / "raw-download.bin"
        source = self._source()
        settle()
        seconds = timed(lambda: run_command(["cp", "--reflink=never", str(source), str(dest)]))
        try:
            if run == 0:
                verify_copy(dest, self.payload, "cp")
        finally:
            dest.unlink(missing_ok=True)
        return {"cp": seconds}

    def read(self, run: int) -> dict[str, float]:
        """Read throughput alone (``cat file > /dev/null``): the ceiling for any download."""
        source = self._source()
        settle()
        return {"cat > /dev/null": timed(lambda: run_command(["cat", str(source)]))}

    def _source(self) -> Path:
        if not self.stored.is_file():
            raise BenchError("no raw upload succeeded, so there is nothing to read back")
        return self.stored

    def uploads(self) -> list[Op]:
        return [Op("raw", "upload", self.upload)]

    def downloads(self) -> list[Op]:
        return [Op("raw", "download", self.download), Op("raw", "download", self.read)]


# --------------------------------------------------------------------------- RepoHub side


class LfsGit(GitClient):
    """``git`` with git-lfs installed in the isolated HOME, as a user's machine would have it.

    ``lfs.concurrenttransfers`` and every other LFS setting stay at git-lfs's defaults.
    """

    def __init__(self, home: Path) -> None:
        super().__init__(home)
        self.run("lfs", "install", "--skip-repo")

    def without_smudge(self) -> LfsGit:
        """The same client with ``GIT_LFS_SKIP_SMUDGE=1``: clones leave pointers in place."""
        clone = copy.copy(self)
        clone.env = {**self.env, "GIT_LFS_SKIP_SMUDGE": "1"}
        return clone

    def traced(self, *args: str, cwd: Path | None = None) -> tuple[float, dict[str, float]]:
        """Time one git command run with ``GIT_TRACE=1``; also return where git-lfs spent it.

        The trace costs a few dozen lines on stderr; what it buys is the split of a slow
        push or pull into its HTTP requests and its final ``update-index``.
        """
        started_at = datetime.datetime.now()
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                ["git", *args],
                cwd=cwd,
                env={**self.env, "GIT_TRACE": "1"},
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"git {args[0]} timed out after {COMMAND_TIMEOUT:.0f} s") from exc
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            untraced = [line for line in proc.stderr.splitlines() if " trace" not in line]
            message = redact(" | ".join(untraced[-6:]))
            raise BenchError(f"git {' '.join(args[:3])} failed ({proc.returncode}): {message}")
        return seconds, trace_phases(proc.stderr, started_at, seconds)


_TRACE_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d(?:\.\d+)?) trace git-lfs: (.*)$")
_HTTP_STATUS = re.compile(r"HTTP: \d{3}")


def trace_phases(stderr: str, started_at: datetime.datetime, total: float) -> dict[str, float]:
    """Seconds in each upload PUT, verify POST, and from ``update-index`` to the end.

    git-lfs traces ``HTTP: PUT <url>`` when a request starts and ``HTTP: <status>`` when its
    answer arrives: for a PUT or a verify that brackets the whole request. The final
    ``git update-index --refresh`` of a pull re-runs the clean filter over the checked-out
    file, which is pure client work. Trace times are wall-clock times of day.
    """
    midnight = started_at.replace(hour=0, minute=0, second=0, microsecond=0)
    origin = (started_at - midnight).total_seconds()
    phases: dict[str, float] = {}
    pending: tuple[str, float] | None = None
    for line in stderr.splitlines():
        match = _TRACE_LINE.match(line)
        if match is None:
            continue
        hours, minutes, secs, message = match.groups()
        at = (int(hours) * 3600 + int(minutes) * 60 + float(secs) - origin) % 86400
        phase = _request_phase(message)
        if phase is not None:
            pending = (phase, at)
        elif pending is not None and _HTTP_STATUS.fullmatch(message):
            phases[pending[0]] = phases.get(pending[0], 0.0) + at - pending[1]
            pending = None
        elif "exec: git 'update-index'" in message:
            phases["update-index"] = max(0.0, total - at)
    return phases


def _request_phase(message: str) -> str | None:
    if message.startswith("HTTP: PUT "):
        return "PUT"
    if message.startswith("HTTP: POST "):
        path = message.split("?", 1)[0]
        if path.endswith("/verify") and "/locks/" not in path:
            return "verify"
    return None


@dataclass(frozen=True)
class Upload:
    """One timed push: the branch holding a file nobody has pushed yet, and that file."""

    branch: str
    payload: Payload


def make_variant(base: Payload, dest: Path, tag: str) -> Payload:
    """The base file with its first 32 bytes replaced: same size, new oid, still random.

    Every timed push needs an oid the hub has never seen: RepoHub stores each oid once, and
    a second upload of known bytes skips the copy into place, so it would look cheaper than
    a user's real first push of new weights.
    """
    run_command(["cp", "--reflink=never", str(base.path), str(dest)])
    with dest.open("r+b") as sink:
        sink.write(hashlib.sha256(tag.encode()).digest()[: base.size])
    return Payload(dest, base.size, sha256_file(dest))


def make_work_repo(git: LfsGit, path: Path, base: Payload, tags: list[str]) -> dict[str, Upload]:
    """The repo a user would make (LFS hooks, ``*.bin`` tracked), one orphan branch per tag.

    Orphan branches so that pushing one branch uploads exactly its own file.
    """
    path.mkdir(parents=True)
    git.run("init", "--quiet", cwd=path)
    git.run("lfs", "install", "--local", cwd=path)
    git.run("lfs", "track", "*.bin", cwd=path)
    uploads = {}
    for tag in tags:
        started = time.perf_counter()
        git.run("checkout", "--quiet", "--orphan", tag, cwd=path)
        variant = make_variant(base, path / FILE_NAME, tag)
        git.run("add", ".gitattributes", FILE_NAME, cwd=path)
        git.run("commit", "--quiet", "-m", f"Add weights ({tag})", cwd=path)
        pointer = git.run("show", f"HEAD:{FILE_NAME}", cwd=path)
        if f"oid sha256:{variant.oid}" not in pointer:
            raise BenchError(f"git-lfs did not commit {FILE_NAME} as a pointer: {pointer[:200]!r}")
        stored = path / ".git" / "lfs" / "objects" / variant.oid[:2] / variant.oid[2:4]
        uploads[tag] = Upload(tag, Payload(stored / variant.oid, variant.size, variant.oid))
        progress(f"work repo: branch {tag} ({time.perf_counter() - started:.1f} s)")
    return uploads


def lfs_batch(hub: RepoHubTarget, repo: str, operation: str, payload: Payload) -> dict[str, Any]:
    """One batch API call as git-lfs makes it (media type, Basic auth with the token)."""
    url = f"{hub.base_url}/{OWNER}/{repo}.git/info/lfs/objects/batch"
    body = {
        "operation": operation,
        "transfers": ["basic"],
        "ref": {"name": "refs/heads/main"},
        "objects": [{"oid": payload.oid, "size": payload.size}],
        "hash_algo": "sha256",
    }
    credentials = base64.b64encode(f"{OWNER}:{hub.owner_token}".encode()).decode()
    # A git-lfs User-Agent: RepoHub asks S3 to enforce the sha256 of a presigned PUT only for
    # git-lfs, and the curl rows must take the same server path as git-lfs does.
    request = urllib.request.Request(  # noqa: S310 - loopback http:// only
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Accept": LFS_MEDIA_TYPE,
            "Content-Type": LFS_MEDIA_TYPE,
            "Authorization": f"Basic {credentials}",
            "User-Agent": f"git-lfs/{GIT_LFS_VERSION} (repohub-bench)",
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise BenchError(f"LFS batch {operation} on {repo} -> {exc.code}: {detail}") from exc
    if not isinstance(answer, dict) or not answer.get("objects"):
        raise BenchError(f"LFS batch {operation} on {repo} answered {str(answer)[:300]}")
    return answer


def curl(action: dict[str, Any], *args: str) -> None:
    """curl one batch action (its href with its headers) as a plain HTTP client would.

    Errors name neither the href nor the headers: they carry signatures and credentials.
    """
    headers = [f"{name}: {value}" for name, value in (action.get("header") or {}).items()]
    command = ["curl", "--silent", "--show-error", "--fail", "--noproxy", "*"]
    command += [arg for header in headers for arg in ("-H", header)]
    proc = subprocess.run(
        [*command, *args, str(action["href"])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"curl {args[:2]} failed: {proc.stderr.decode(errors='replace')[-300:]}")


def curl_put(action: dict[str, Any], path: Path) -> None:
    """The upload as git-lfs sends it: one PUT, octet-stream, no ``Expect: 100-continue``."""
    curl(
        action,
        "-X",
        "PUT",
        "-T",
        str(path),
        "-H",
        "Content-Type: application/octet-stream",
        "-H",
        "Expect:",
    )


def curl_verify(action: dict[str, Any] | None, payload: Payload) -> None:
    """The verify POST, when the batch answer asked for one."""
    if action is None:
        return
    body = json.dumps({"oid": payload.oid, "size": payload.size})
    media = ("-H", f"Content-Type: {LFS_MEDIA_TYPE}", "-H", f"Accept: {LFS_MEDIA_TYPE}")
    curl(action, "-X", "POST", *media, "--data", body)


def action_href(answer: dict[str, Any], action: str) -> str | None:
    entry = answer["objects"][0]
    href = entry.get("actions", {}).get(action, {}).get("href")
    return href if isinstance(href, str) else None


@dataclass
class MemoryPeaks:
    """The server tree's memory while RepoHub rows ran, per direction."""

    figures: dict[str, Any] = field(default_factory=dict)

    @contextlib.contextmanager
    def sampled(self, pid: int, direction: Direction) -> Iterator[None]:
        with PeakMemory(pid) as peak:
            yield
        if peak.rss_mb > self.figures.get(f"{direction}_rss_mb", 0.0):
            self.figures[f"{direction}_rss_mb"] = peak.rss_mb
            self.figures[f"{direction}_tree"] = [p.describe() for p in peak.at_peak]
        anon = max(peak.anon_mb, self.figures.get(f"{direction}_anon_mb", 0.0))
        self.figures[f"{direction}_anon_mb"] = anon
        self.figures[f"{direction}_samples"] = (
            self.figures.get(f"{direction}_samples", 0) + peak.samples
        )


@dataclass(frozen=True)
class WorkRepo:
    """The user's repository and the file each timed push uploads."""

    git: LfsGit
    path: Path
    uploads: dict[str, Upload]
    base: Payload  # the cached file the branches' files derive from


class HubLfs:
    """The RepoHub rows: pushes into fresh repos, pulls and clones of the last one pushed."""

    def __init__(
        self,
        hub: RepoHubTarget,
        work: WorkRepo,
        scratch: Path,
        result: ConfigResult,
        s3_endpoint: str | None = None,
    ) -> None:
        self.hub = hub
        self.git = work.git
        self.work = work
        self.scratch = scratch
        self.result = result
        self.s3_endpoint = s3_endpoint
        self.memory = MemoryPeaks()
        self.memory.figures["fresh_rss_mb"], self.memory.figures["fresh_anon_mb"] = tree_memory_mb(
            hub.pid
        )
        self.source: tuple[str, Payload] | None = None  # a repo holding a commit and its file

    def _new_remote(self, upload: Upload, run: int) -> str:
        """A fresh repo under a fresh remote name; the server must want the file's bytes.

        A fresh remote name because git-lfs skips objects reachable from a remote's tracking
        refs: re-pointing one remote would make later pushes upload nothing.
        """
        repo = upload.branch
        url = self.hub.new_empty_repo(repo)
        remote = f"{self.result.storage}-{repo}"
        self.git.run("remote", "add", remote, url, cwd=self.work.path)
        answer = lfs_batch(self.hub, repo, "upload", upload.payload)
        href = action_href(answer, "upload")
        if href is None:
            raise BenchError(
                f"the batch API did not ask a new repo for new bytes, so a push would time "
                f"nothing: {json.dumps(answer)[:300]}"
            )
        if run == 0:
            self._note_href("upload", href)
        return remote

    def _note_href(self, action: str, href: str) -> None:
        """Say where the bytes went: through RepoHub, or straight to the S3 server."""
        host = urllib.parse.urlsplit(href).netloc.rsplit("@", 1)[-1]
        if self.hub.base_url.endswith(host):
            where = f"RepoHub itself ({host})"
        elif self.s3_endpoint is not None and self.s3_endpoint.endswith(host):
            where = f"the S3 server directly ({host})"
        else:
            where = f"{host}, neither RepoHub nor the S3 server"
        note = f"batch {action} href goes to {where}"
        if note not in self.result.notes:
            self.result.notes.append(note)

    def _timed(
        self, direction: Direction, *args: str, cwd: Path | None = None
    ) -> tuple[float, dict[str, float]]:
        """One traced git command, with the server's memory sampled while it runs."""
        settle()
        with self.memory.sampled(self.hub.pid, direction):
            return self.git.traced(*args, cwd=cwd)

    def _record(self, direction: Direction, label: str, phases: dict[str, float]) -> None:
        """Keep a row's phases only once its time counts (after any verification)."""
        per_row = self.result.phases.setdefault(row_key(direction, label), {})
        for phase, seconds in phases.items():
            per_row.setdefault(phase, []).append(seconds)

    def push_lfs(self, run: int) -> dict[str, float]:
        """Timed ``git lfs push --all``; then an untimed ``git push`` for the refs."""
        label, upload = "git lfs push --all", self.work.uploads[f"lfs-push-{run}"]
        remote = self._new_remote(upload, run)
        cwd = self.work.path
        seconds, phases = self._timed(
            "upload", "lfs", "push", "--all", remote, upload.branch, cwd=cwd
        )
        self.git.run("push", "--quiet", remote, f"{upload.branch}:refs/heads/main", cwd=cwd)
        self.source = (upload.branch, upload.payload)
        self._record("upload", label, phases)
        return {label: seconds}

    def push_git(self, run: int) -> dict[str, float]:
        """Timed ``git push``: git-lfs's pre-push hook uploads, then git sends the pack."""
        label, upload = "git push (pre-push hook)", self.work.uploads[f"git-push-{run}"]
        remote = self._new_remote(upload, run)
        refspec = f"{upload.branch}:refs/heads/main"
        seconds, phases = self._timed(
            "upload", "push", "--quiet", remote, refspec, cwd=self.work.path
        )
        self.source = self.source or (upload.branch, upload.payload)
        self._record("upload", label, phases)
        return {label: seconds}

    def _source(self) -> tuple[str, Payload]:
        if self.source is None:
            raise BenchError("no push succeeded, so there is nothing to download")
        return self.source

    def _clone_url(self) -> str:
        """The token in the URL, as for pushes: git-lfs takes its credentials from there."""
        token = urllib.parse.quote(self.hub.owner_token, safe="")
        host = self.hub.base_url.removeprefix("http://")
        return f"http://{OWNER}:{token}@{host}/{OWNER}/{self._source()[0]}"

    def pull(self, run: int) -> dict[str, float]:
        """Clone without smudging (untimed), then timed ``git lfs pull`` (fetch + checkout)."""
        label, dest = "git lfs pull", self.scratch / f"pull-{run}"
        repo, payload = self._source()
        try:
            self.git.without_smudge().run("clone", "--quiet", self._clone_url(), str(dest))
            if run == 0:
                answer = lfs_batch(self.hub, repo, "download", payload)
                self._note_href("download", action_href(answer, "download") or "missing")
            seconds, phases = self._timed("download", "lfs", "pull", cwd=dest)
            if run == 0:
                verify_copy(dest / FILE_NAME, payload, label)
        finally:
            shutil.rmtree(dest, ignore_errors=True)
        self._record("download", label, phases)
        return {label: seconds}

    def clone(self, run: int) -> dict[str, float]:
        """Timed plain ``git clone``: the smudge filter downloads during checkout."""
        label, dest = "git clone (smudge)", self.scratch / f"clone-{run}"
        url, payload = self._clone_url(), self._source()[1]
        try:
            seconds, _ = self._timed("download", "clone", "--quiet", url, str(dest))
            if run == 0:
                verify_copy(dest / FILE_NAME, payload, label)
        finally:
            shutil.rmtree(dest, ignore_errors=True)
        return {label: seconds}

    def fetch(self, run: int) -> dict[str, float]:
        """Timed ``git lfs fetch``: the download alone, so checkout's cost can be told apart."""
        label, dest = "git lfs fetch (no checkout)", self.scratch / f"fetch-{run}"
        payload = self._source()[1]
        oid = payload.oid
        try:
            self.git.without_smudge().run("clone", "--quiet", self._clone_url(), str(dest))
            seconds, _ = self._timed("download", "lfs", "fetch", cwd=dest)
            if run == 0:
                stored = dest / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
                verify_copy(stored, payload, label)
        finally:
            shutil.rmtree(dest, ignore_errors=True)
        return {label: seconds}

    def curl_upload(self, run: int) -> dict[str, float]:
        """The batch upload and verify actions done by curl: the server's side alone.

        Against ``git lfs push`` this tells the git-lfs client's share from RepoHub's (or,
        on S3, the S3 server's) share of the time.
        """
        label, repo = "curl PUT + verify (no git-lfs)", f"curl-put-{run}"
        variant = make_variant(self.work.base, self.scratch / f"{repo}.bin", repo)
        try:
            self.hub.new_empty_repo(repo)
            actions = lfs_batch(self.hub, repo, "upload", variant)["objects"][0].get("actions")
            if not actions or "upload" not in actions:
                raise BenchError("the batch API did not ask a new repo for new bytes")
            settle()
            with self.memory.sampled(self.hub.pid, "upload"):
                put = timed(lambda: curl_put(actions["upload"], variant.path))
                check = timed(lambda: curl_verify(actions.get("verify"), variant))
        finally:
            variant.path.unlink(missing_ok=True)
        self._record("upload", label, {"PUT": put, "verify": check})
        return {label: put + check}

    def curl_download(self, run: int) -> dict[str, float]:
        """The batch download action done by curl into a file: the serving side alone."""
        label, dest = "curl GET (no git-lfs)", self.scratch / f"curl-get-{run}.bin"
        repo, payload = self._source()
        actions = lfs_batch(self.hub, repo, "download", payload)["objects"][0].get("actions", {})
        if "download" not in actions:
            raise BenchError("the batch API gave no download action for a pushed object")
        try:
            settle()
            with self.memory.sampled(self.hub.pid, "download"):
                seconds = timed(lambda: curl(actions["download"], "-o", str(dest)))
            if run == 0:
                verify_copy(dest, payload, label)
        finally:
            dest.unlink(missing_ok=True)
        return {label: seconds}

    def uploads(self) -> list[Op]:
        return [
            Op("repohub", "upload", self.push_lfs),
            Op("repohub", "upload", self.push_git),
            Op("repohub", "upload", self.curl_upload),
        ]

    def downloads(self) -> list[Op]:
        return [
            Op("repohub", "download", self.pull),
            Op("repohub", "download", self.clone),
            Op("repohub", "download", self.fetch),
            Op("repohub", "download", self.curl_download),
        ]


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Op:
    """One timed action; it returns seconds per row (``cp`` feeds two rows at once)."""

    side: Literal["raw", "repohub"]
    direction: Direction
    action: Callable[[int], dict[str, float]]

    @property
    def name(self) -> str:
        return getattr(self.action, "__name__", "op")


@dataclass
class ConfigResult:
    """Per-run seconds by row, memory, errors and notes for one storage configuration."""

    storage: str
    times: dict[str, list[float]] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    phases: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # row -> phase


class Runner:
    """Runs ops interleaved run by run; a failing op loses its rows, not the whole run."""

    def __init__(self, result: ConfigResult, hub: RepoHubTarget | None) -> None:
        self.result = result
        self.hub = hub
        self._failed: set[str] = set()
        self._hub_dead = False

    def measure(self, ops: list[Op], runs: int) -> None:
        """Alternate which side goes first, so warm caches and drift favour neither."""
        for run in range(runs):
            for op in ops if run % 2 == 0 else ops[::-1]:
                self._attempt(op, run)

    def _attempt(self, op: Op, run: int) -> None:
        key = f"{op.side}/{op.direction}/{op.name}"
        if key in self._failed or (op.side == "repohub" and self._hub_dead):
            return
        try:
            figures = op.action(run)
        except ERRORS as exc:
            self._failed.add(key)
            message = redact(str(exc))
            note = self.hub.death_note() if self.hub and op.side == "repohub" else None
            if note is not None:
                self._hub_dead = True
                message += "\n    " + note.replace("\n", "\n    ")
            self.result.errors.append(f"{key}: {message}")
            progress(f"  ERROR [{self.result.storage}] {key}: {message}")
            return
        for label, seconds in figures.items():
            self.result.times.setdefault(row_key(op.direction, label), []).append(seconds)
            progress(
                f"  {'[' + self.result.storage + ']':<7} {op.direction:<8} {label:<28} "
                f"run {run + 1}: {seconds:7.2f} s"
            )


def start_hub(
    args: argparse.Namespace, base: Path, s3: S3Server | None, result: ConfigResult
) -> RepoHubTarget | None:
    """``repohub serve`` on this configuration's storage, SQLite in its data directory."""
    extra = {}
    if s3 is not None:
        extra = {
            "REPOHUB_STORAGE_URL": f"s3://{s3.bucket}/bench",
            "REPOHUB_S3_ENDPOINT_URL": s3.endpoint_url,
            "REPOHUB_S3_REGION": s3.region,
            "REPOHUB_S3_ACCESS_KEY_ID": s3.access_key,
            "REPOHUB_S3_SECRET_ACCESS_KEY": s3.secret_key,
        }
    cmd = shlex.split(args.repohub_cmd) if args.repohub_cmd else default_repohub_cmd()
    try:
        return RepoHubTarget(cmd, base / "repohub-data", base / "repohub-server.log", extra)
    except (BenchError, OSError) as exc:
        result.errors.append(f"startup: {redact(str(exc))}")
        progress(f"  ERROR [{result.storage}] startup: {redact(str(exc))}")
        return None


@dataclass
class Context:
    """What every configuration shares: arguments, the file, the run directory, git."""

    args: argparse.Namespace
    payload: Payload
    run_dir: Path
    _work: WorkRepo | None = None

    def work_repo(self) -> WorkRepo:
        """Made on first use only (``--only raw`` never needs git-lfs), then shared."""
        if self._work is None:
            git = LfsGit(self.run_dir / "home")
            tags = [f"{kind}-{run}" for run in range(self.args.runs) for kind in PUSH_KINDS]
            path = self.run_dir / "work"
            uploads = make_work_repo(git, path, self.payload, tags)
            self._work = WorkRepo(git, path, uploads, self.payload)
        return self._work


def run_config(storage: str, ctx: Context) -> ConfigResult:
    """Start what ``storage`` needs, then measure every upload row, then every download row."""
    result = ConfigResult(storage)
    base = ctx.run_dir / storage
    scratch = base / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        s3 = None
        if storage == "s3":
            try:
                s3 = stack.enter_context(running_seaweedfs(base / "seaweedfs"))
            except (RuntimeError, OSError) as exc:
                result.errors.append(f"SeaweedFS: {exc}")
                return result
        upload_ops: list[Op] = []
        download_ops: list[Op] = []
        if ctx.args.only in ("raw", "both"):
            raw = (
                S3Reference(s3, ctx.payload, scratch)
                if s3 is not None
                else LocalReference(ctx.payload, scratch)
            )
            upload_ops += raw.uploads()
            download_ops += raw.downloads()
            if s3 is None:
                note_filesystems(ctx.payload.path, scratch, result.notes)
        hub = None
        if ctx.args.only in ("repohub", "both"):
            hub_lfs = start_hub_lfs(ctx, base, s3, result)
            if hub_lfs is not None:
                hub = hub_lfs.hub
                stack.callback(hub.close)
                upload_ops += hub_lfs.uploads()
                download_ops += hub_lfs.downloads()
                result.memory = hub_lfs.memory.figures
        runner = Runner(result, hub)
        runner.measure(upload_ops, ctx.args.runs)
        runner.measure(download_ops, ctx.args.runs)
    return result


def start_hub_lfs(
    ctx: Context, base: Path, s3: S3Server | None, result: ConfigResult
) -> HubLfs | None:
    """A server for this configuration, then the work repo (made once for all of them).

    The server first: when it cannot start, the minute the work repo takes is not spent.
    """
    hub = start_hub(ctx.args, base, s3, result)
    if hub is None:
        return None
    try:
        work = ctx.work_repo()
    except ERRORS as exc:
        hub.close()
        result.errors.append(f"work repo: {redact(str(exc))}")
        return None
    endpoint = s3.endpoint_url if s3 is not None else None
    return HubLfs(hub, work, base / "scratch", result, endpoint)


def note_filesystems(source: Path, scratch: Path, notes: list[str]) -> None:
    """``cp`` is only the right reference when source and target share a filesystem."""
    if source.stat().st_dev != scratch.stat().st_dev:
        notes.append(f"{source} and {scratch} are on different filesystems")


# --------------------------------------------------------------------------- report


def summarize(result: ConfigResult, payload: Payload) -> dict[str, Any]:
    """Medians, MB/s, ratios over the faster raw path, and pass/fail against the targets."""
    medians = {key: statistics.median(times) for key, times in result.times.items()}
    best: dict[str, float] = {}
    for key, seconds in medians.items():
        spec = ROWS[key]
        if spec.role == "reference":
            best[spec.direction] = min(seconds, best.get(spec.direction, seconds))
    rows = []
    for key, spec in ROWS.items():
        if key not in medians:
            continue
        seconds = medians[key]
        bar = best.get(spec.direction)
        ratio = bar / seconds if spec.role == "repohub" and bar else None
        rows.append(
            {
                "row": spec.label,
                "direction": spec.direction,
                "role": spec.role,
                "target_row": spec.target,
                "times_s": result.times[key],
                "median_s": seconds,
                "mb_per_s": payload.megabytes / seconds,
                "ratio_vs_raw": ratio,
                "ok": None if ratio is None or not spec.target else ratio >= THROUGHPUT_TARGET,
                "phases_median_s": {
                    phase: statistics.median(values)
                    for phase, values in result.phases.get(key, {}).items()
                },
            }
        )
    peak = max(result.memory.get(f"{d}_rss_mb", 0.0) for d in ("upload", "download"))
    return {
        "rows": rows,
        "peak_rss_mb": peak or None,
        "rss_ok": None if not peak else peak < RSS_TARGET_MB,
        "memory": result.memory,
        "notes": result.notes,
        "errors": result.errors,
    }


def render(summaries: dict[str, dict[str, Any]], payload: Payload, runs: int) -> str:
    """The human-readable tables printed on stdout."""
    lines = [
        "",
        f"File: {payload.megabytes:.1f} MB random ({payload.path}); MB = 10^6 bytes; "
        f"median of {runs} run(s)",
        f"ratio = RepoHub MB/s / faster raw MB/s; target >= {THROUGHPUT_TARGET} for "
        + " and ".join(spec.label for spec in ROWS.values() if spec.target),
    ]
    for storage, summary in summaries.items():
        lines += ["", f"--storage {storage}"]
        lines += render_rows(summary["rows"])
        lines += render_memory(summary)
        lines += [f"  note: {note}" for note in summary["notes"]]
        lines += [f"  ERROR {error}" for error in summary["errors"]]
    return "\n".join(lines)


def render_rows(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for direction in ("upload", "download"):
        lines.append(f"  {direction:<9} {'':<30} {'seconds':>8} {'MB/s':>8} {'ratio':>7}")
        for row in (r for r in rows if r["direction"] == direction):
            side = {"reference": "raw", "info": "raw*", "repohub": "RepoHub"}[row["role"]]
            ratio = f"{row['ratio_vs_raw']:6.2f}x" if row["ratio_vs_raw"] is not None else ""
            verdict = {True: "ok", False: "MISSED", None: ""}[row["ok"]]
            lines.append(
                f"  {side:<9} {row['row']:<30} {row['median_s']:8.2f} {row['mb_per_s']:8.1f} "
                f"{ratio:>7} {verdict}".rstrip()
            )
            if row["phases_median_s"]:
                split = ", ".join(f"{k} {v:.2f} s" for k, v in row["phases_median_s"].items())
                lines.append(f"{'':<12}of which {split}")
    lines.append("  (raw* rows explain; they are not the bar)")
    return lines


def render_memory(summary: dict[str, Any]) -> list[str]:
    mem = summary["memory"]
    if not mem:
        return []
    cells = []
    for phase in ("fresh", "upload", "download"):
        if f"{phase}_rss_mb" in mem:
            cells.append(f"{phase} {mem[f'{phase}_rss_mb']:.0f} / {mem[f'{phase}_anon_mb']:.0f}")
    verdict = {True: "ok", False: "MISSED", None: ""}[summary["rss_ok"]]
    lines = [
        f"  RepoHub server tree, peak MB VmRSS / RssAnon (50 ms samples): {', '.join(cells)}; "
        f"target < {RSS_TARGET_MB:.0f} MB {verdict}".rstrip()
    ]
    for phase in ("upload", "download"):
        if mem.get(f"{phase}_tree"):
            tree = " + ".join(mem[f"{phase}_tree"])
            lines.append(f"    tree at the {phase} peak (VmRSS/RssAnon): {tree}")
    return lines


# --------------------------------------------------------------------------- main


def parse_size(text: str) -> int:
    """``1GiB``, ``256MiB`` (binary), ``100MB``, ``1G`` (decimal) or plain bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(i?)B?)?\s*", text, re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 1GiB or 256MiB)")
    number, unit, binary = match.groups()
    power = " KMGT".index(unit.upper()) if unit else 0
    size = int(float(number) * (1024 if binary else 1000) ** power)
    if not MIB <= size <= 64 * GIB:
        raise argparse.ArgumentTypeError("--size must be between 1 MiB and 64 GiB")
    return size


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", choices=("local", "s3", "both"), default="both")
    parser.add_argument("--only", choices=("raw", "repohub", "both"), default="both")
    parser.add_argument("--size", type=parse_size, default=GIB, help="file size (1GiB)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/repohub-bench/lfs"))
    parser.add_argument("--repohub-cmd", help='server command prefix, e.g. "repohub"')
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep this run's data")
    parser.add_argument("--check", action="store_true", help="exit 2 if a target is missed")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 20:
        parser.error("--runs must be between 1 and 20")
    return args


def run(args: argparse.Namespace) -> tuple[Payload, dict[str, dict[str, Any]]]:
    payload = ensure_payload(args.workdir, args.size)
    run_dir = args.workdir / "runs" / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True)
    progress(f"run directory: {run_dir}")
    ctx = Context(args, payload, run_dir)
    storages = ("local", "s3") if args.storage == "both" else (args.storage,)
    summaries = {}
    try:
        for storage in storages:
            summaries[storage] = summarize(run_config(storage, ctx), payload)
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    return payload, summaries


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    payload, summaries = run(args)
    print(render(summaries, payload, args.runs))
    if args.json:
        document = {
            "machine": machine_info(),
            "args": {
                "storage": args.storage,
                "only": args.only,
                "size": args.size,
                "runs": args.runs,
            },
            "targets": {"ratio_vs_raw": THROUGHPUT_TARGET, "rss_mb": RSS_TARGET_MB},
            "configs": summaries,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    if any(summary["errors"] for summary in summaries.values()):
        return 1
    missed = [row["ok"] is False for summary in summaries.values() for row in summary["rows"]]
    missed += [summary["rss_ok"] is False for summary in summaries.values()]
    return 2 if args.check and any(missed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
