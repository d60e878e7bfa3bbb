"""A RepoHub deployment for tests: settings for one storage configuration and a live server.

`embedded` is SQLite + local blobs (the default install); `production` is PostgreSQL + S3
(the session's SeaweedFS). Each stack gets its own database (a fresh PostgreSQL schema)
and its own storage prefix, so runs never see each other's state.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.support.seaweed import S3Server

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    name: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def settings(self):  # type: ignore[no-untyped-def]
        from repohub.config import Settings

        return Settings(**{k[len("REPOHUB_") :].lower(): v for k, v in self.env.items()})


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema in the `test` database, dropped afterwards; its URL pins search_path."""
    schema = f"rh_{secrets.token_hex(6)}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@contextmanager
def make_stack(name: str, workdir: Path, s3: S3Server | None) -> Iterator[Stack]:
    data_dir = workdir / name
    data_dir.mkdir(parents=True)
    env = {"REPOHUB_DATA_DIR": str(data_dir), "REPOHUB_SECRET_KEY": secrets.token_hex(32)}
    if name == "embedded":
        yield Stack(name, data_dir, env)
        return
    assert s3 is not None
    with pg_schema() as url:
        env |= {
            "REPOHUB_DATABASE_URL": url,
            "REPOHUB_STORAGE_URL": f"s3://{s3.bucket}/run-{secrets.token_hex(4)}",
            "REPOHUB_S3_ENDPOINT_URL": s3.endpoint_url,
            "REPOHUB_S3_REGION": s3.region,
            "REPOHUB_S3_ACCESS_KEY_ID": s3.access_key,
            "REPOHUB_S3_SECRET_ACCESS_KEY": s3.secret_key,
        }
        yield Stack(name, data_dir, env)


def repohub_command() -> list[str]:
    """The installed console script, as a user runs it."""
    script = Path(sys.executable).with_name("repohub")
    return [str(script)] if script.exists() else [sys.executable, "-m", "repohub.cli"]


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def running_server(stack: Stack, *, extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    port = free_port()
    log = stack.data_dir / f"server-{port}.log"
    env = {**os.environ, **stack.env, **(extra_env or {})}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*repohub_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield Server(url, port, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"repohub serve exited:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"repohub serve did not become healthy:\n{log.read_text()[-4000:]}")
