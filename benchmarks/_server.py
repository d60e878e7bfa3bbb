"""What the benchmarks share: a ``repohub serve`` to measure, HTTP calls, process-tree memory.

Moved out of ``git_bench`` so that ``lfs_bench`` starts, drives and samples RepoHub exactly
the same way (same isolation from the caller's environment, same 50 ms RSS sampler), and the
two benchmarks' figures stay comparable.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT = 120.0
SAMPLE_INTERVAL = 0.05
USER_PASSWORD = "S3cret-pass"  # noqa: S105 - a throwaway account in a throwaway data dir
OWNER = "alice"


class BenchError(RuntimeError):
    """A measurement could not be taken (a command failed or a check did not hold)."""


def owner_with_repo(hub: Any, owner: str, password: str, email: str, repo: str) -> str:
    """A user, its write token (returned) and an empty model repo of theirs, made through the
    domain directly rather than over HTTP: setup, not part of what is measured."""
    from repohub.auth.accounts import create_user
    from repohub.auth.identity import Identity
    from repohub.auth.tokens import create_token
    from repohub.repos.service import create_repo

    with hub.sessions.begin() as session:
        user = create_user(session, owner, email=email, password=password)
        token = create_token(session, user, scope="write").plaintext
        identity = Identity(user.id, user.name, False, "write")
    create_repo(hub, identity, name=repo, empty=True)
    return token


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment minus GIT_*, REPOHUB_* and proxy settings, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GIT_", "REPOHUB_")) and not key.lower().endswith("_proxy")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def redact(text: str) -> str:
    """Hide credentials embedded in URLs before they reach a log or the terminal."""
    return " ".join(
        _redact_url(word) if word.startswith(("http://", "https://")) else word
        for word in text.split(" ")
    )


def _redact_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the group we started (server plus any workers it forked), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def log_tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def death_note(proc: subprocess.Popen[bytes], log: Path) -> str | None:
    """Explain a server that stopped under us, instead of a bare "connection refused"."""
    if proc.poll() is None:
        return None
    return f"server exited with status {proc.returncode}; log {log} ends:\n{log_tail(log, 8)}"


class RepoHubTarget:
    """``repohub serve`` started exactly as a user would, with a fresh data directory.

    ``extra_env`` adds ``REPOHUB_*`` settings (an S3 storage URL, say) for the server and for
    the ``repohub`` CLI calls alike, so both see the same deployment.
    """

    label = "repohub"

    def __init__(
        self, cmd: list[str], data_dir: Path, log: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._cmd = cmd
        self._log = log
        self._env = clean_env(REPOHUB_DATA_DIR=str(data_dir), **(extra_env or {}))
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        serve = [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port)]
        with log.open("ab") as log_file:
            self._proc = subprocess.Popen(
                serve,
                cwd=data_dir,
                env=self._env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self._proc.pid
        try:
            self._wait_healthy()
            self.owner_token = self.create_user(OWNER)
        except BaseException:  # the caller gets no object to close: stop the server here
            self.close()
            raise

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BenchError(
                    f"repohub serve exited ({self._proc.returncode}):\n{log_tail(self._log)}"
                )
            with contextlib.suppress(OSError, BenchError):
                if http_request("GET", f"{self.base_url}/api/health", timeout=2)[0] == 200:
                    return
            time.sleep(0.2)
        self.close()
        raise BenchError(f"repohub serve not healthy after {STARTUP_TIMEOUT:.0f} s")

    def cli(self, *args: str) -> str:
        """Run the ``repohub`` command against the same data directory as the server."""
        proc = subprocess.run(
            [*self._cmd, *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            raise BenchError(f"repohub {args[0]} {args[1]} failed: {proc.stderr.strip()[-500:]}")
        return proc.stdout

    def create_user(self, name: str) -> str:
        """Create a user and return a write token for it."""
        self.cli(
            "user", "create", name, "--email", f"{name}@example.com", "--password", USER_PASSWORD
        )
        token = self.cli("token", "create", name, "--scope", "write").strip()
        if not token or len(token.split()) != 1:
            raise BenchError(f"`repohub token create` printed {token!r}, not a token alone")
        return token

    def new_empty_repo(self, name: str) -> str:
        body = {"name": name, "type": "model", "private": False, "empty": True}
        http_request("POST", f"{self.base_url}/api/repos/create", body, token=self.owner_token)
        credentials = f"{OWNER}:{urllib.parse.quote(self.owner_token, safe='')}"
        return f"http://{credentials}@{self.base_url.removeprefix('http://')}/{OWNER}/{name}"

    def clone_url(self, name: str) -> str:
        return f"{self.base_url}/{OWNER}/{name}"

    def fork(self, name: str, token: str, forker: str) -> tuple[float, str]:
        """Time one fork API call; return the seconds and the new repo's ``owner/name``."""
        url = f"{self.base_url}/api/models/{OWNER}/{name}/fork"
        started = time.perf_counter()
        _, body = http_request("POST", url, {}, token=token)
        return time.perf_counter() - started, fork_id(body, f"{forker}/{name}")

    def close(self) -> None:
        stop_process_group(self._proc)

    def death_note(self) -> str | None:
        return death_note(self._proc, self._log)


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_request(
    method: str, url: str, body: object = None, *, token: str | None = None, timeout: float = 600
) -> tuple[int, Any]:
    """Minimal JSON-over-HTTP call; any 4xx/5xx becomes a BenchError carrying the body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http:// only
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise BenchError(f"{method} {url} -> {exc.code}: {detail}") from exc
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def fork_id(body: object, default: str) -> str:
    """Where the fork landed, from the Hub-style answer if it says, else ``forker/name``."""
    if isinstance(body, dict):
        for key in ("id", "repo_id", "repoId", "name"):
            value = body.get(key)
            if isinstance(value, str) and value.count("/") == 1:
                return value
        url = body.get("url")
        if isinstance(url, str):
            path = urllib.parse.urlsplit(url).path.strip("/")
            if path.count("/") == 1:
                return path
    return default


# --------------------------------------------------------------------------- memory


def _parent_map() -> dict[int, list[int]]:
    """Children of every process, from /proc/*/stat (this kernel has no /proc/*/children)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(entry.path, "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    return children


@dataclass(frozen=True)
class ProcMemory:
    """One process's resident memory, in MB."""

    pid: int
    name: str
    rss_mb: float
    anon_mb: float

    def describe(self) -> str:
        return f"{self.name}[{self.pid}] {self.rss_mb:.0f}/{self.anon_mb:.0f} MB"


def tree_processes(root: int) -> list[ProcMemory]:
    """VmRSS and RssAnon of ``root`` and all its descendants.

    Both, because they answer different questions: VmRSS counts file pages a process has
    mmapped (C git's pack-objects maps the whole 1 GB pack and shows ~1 GB of RSS that is
    really page cache), RssAnon counts the private heap a server actually allocated.
    """
    children = _parent_map()
    pending, found = [root], []
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        with contextlib.suppress(OSError, ValueError, KeyError):
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            fields = dict(line.split(":", 1) for line in status if ":" in line)
            found.append(
                ProcMemory(
                    pid=pid,
                    name=fields["Name"].strip(),
                    rss_mb=int(fields.get("VmRSS", "0 kB").split()[0]) / 1024,
                    anon_mb=int(fields.get("RssAnon", "0 kB").split()[0]) / 1024,
                )
            )
    return found


def tree_memory_mb(root: int) -> tuple[float, float]:
    """(VmRSS, RssAnon) summed over the tree; shared pages count once per process."""
    processes = tree_processes(root)
    return sum(p.rss_mb for p in processes), sum(p.anon_mb for p in processes)


@dataclass
class PeakMemory:
    """Samples a process tree's memory every 50 ms in a thread while the ``with`` body runs.

    Also keeps the largest process at the RSS peak, so a miss points at its culprit
    (the server itself, a worker it forked, a git child).
    """

    pid: int
    rss_mb: float = 0.0
    anon_mb: float = 0.0
    root_mb: float = 0.0  # the root process alone (the API server, without its children)
    top: str = ""
    at_peak: tuple[ProcMemory, ...] = ()  # every process of the tree at the RSS peak
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _sample(self) -> None:
        while True:
            processes = tree_processes(self.pid)
            rss = sum(p.rss_mb for p in processes)
            if processes and rss > self.rss_mb:
                self.rss_mb = rss
                self.top = max(processes, key=lambda p: p.rss_mb).describe()
                self.at_peak = tuple(processes)
            self.anon_mb = max(self.anon_mb, sum(p.anon_mb for p in processes))
            root = [p.rss_mb for p in processes if p.pid == self.pid]
            self.root_mb = max(self.root_mb, *root) if root else self.root_mb
            self.samples += 1
            if self._stop.wait(SAMPLE_INTERVAL):
                return


# --------------------------------------------------------------------------- output


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def default_repohub_cmd() -> list[str]:
    """The installed console script if there is one, else the module (same code)."""
    script = Path(sys.executable).with_name("repohub")
    return [str(script)] if script.exists() else [sys.executable, "-m", "repohub.cli"]


def machine_info() -> dict[str, Any]:
    git_version = subprocess.run(
        ["git", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "git": git_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
