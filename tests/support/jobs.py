"""A RepoHub with job workers for tests, and helpers to drive and wait for jobs.

`repohub serve` runs its worker beside it in both configurations: with the embedded
filesystem broker on SQLite + local blobs, and with Redis (a key prefix of its own per test
session) on PostgreSQL + S3. Heartbeats are frequent and a lost worker is noticed after a few
seconds, so the killed-worker test does not wait for production's minute.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.gitcli import Git
from tests.support.stack import Server, Stack, running_server

REDIS_URL = "redis://127.0.0.1:6379/0"
FINAL = ("succeeded", "failed", "cancelled")
WAIT = 240.0  # generous: a loaded 2-core machine trains far slower than an idle one


def worker_env(stack: Stack, prefix: str) -> dict[str, str]:
    env = {
        "REPOHUB_JOB_HEARTBEAT_INTERVAL": "0.5",
        "REPOHUB_JOB_HEARTBEAT_TIMEOUT": "6",
        "REPOHUB_SCHEDULER_INTERVAL": "0.2",
        "REPOHUB_JOBS_PER_USER": "4",
    }
    if stack.name == "production":
        env |= {"REPOHUB_BROKER_URL": REDIS_URL, "REPOHUB_BROKER_KEY_PREFIX": prefix}
    return env


@contextmanager
def jobs_server(stack: Stack) -> Iterator[Server]:
    """`repohub serve` with its worker; Redis keys of the session are removed afterwards."""
    prefix = f"repohub-test-{secrets.token_hex(4)}:"
    try:
        with running_server(stack, extra_env=worker_env(stack, prefix)) as server:
            yield server
    finally:
        if stack.name == "production":
            _drop_redis_keys(prefix)


def _drop_redis_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def wait_for(
    api: httpx.Client,
    job_id: int,
    states: tuple[str, ...] = FINAL,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = WAIT,
    until: Any = None,
) -> dict[str, Any]:
    """The job once it is in one of `states` (and `until(job)` holds, if given)."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = api.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job.get("state") in states and (until is None or until(job)):
            return job
        if job.get("state") in FINAL and job.get("state") not in states:
            break  # it will not get there any more
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} is not {states}: {job}")


def push_tree(git: Git, source: Path, work: Path, url: str, *, lfs: tuple[str, ...] = ()) -> str:
    """Copy `source` into a fresh repository, commit it, push `main`; return the commit."""
    shutil.copytree(source, work)
    git("init", "-q", "-b", "main", str(work))
    if lfs:
        git("lfs", "track", *lfs, cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", f"{source.name}", cwd=work)
    git("push", "-q", url, "main", cwd=work, timeout=600)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def spec_yaml(dataset: str, *, branches: str = "[main]", **train: Any) -> str:
    """A classification spec on `dataset` with small, fast settings unless overridden."""
    params = {"epochs": 2, "batch_size": 64, "base_lr": 0.05, "lr_policy": "poly", "power": 0.9}
    params |= train.pop("params", {})
    fields = {"model": "smallcnn", "dataset": dataset, "image_size": 16, **train}
    lines = [f"on: {{push: {{branches: {branches}}}}}", "train:"]
    lines += [f"  {k}: {v}" for k, v in fields.items()]
    lines.append("  params: {" + ", ".join(f"{k}: {v}" for k, v in params.items()) + "}")
    lines.append(f"eval: {{dataset: {dataset}, metrics: [accuracy, f1, confusion_matrix]}}")
    return "\n".join(lines) + "\n"
