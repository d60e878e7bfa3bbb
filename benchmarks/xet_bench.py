"""Xet through RepoHub against boto3 on the same S3 server, and what dedup saves, in one run.

    python -m benchmarks.xet_bench                          # 1 GiB x 3 rounds, 500 MB model
    python -m benchmarks.xet_bench --size-mib 128 --rounds 1 --model-mib 64 --json out.json
    python -m benchmarks.xet_bench --check                  # exit 1 when a target is missed

Transfers. One ``repohub serve`` stores into a SeaweedFS S3 server the run starts; the Hub
client's default install (``huggingface_hub`` with ``hf_xet``, each call in a process of its
own with a fresh HF_XET_CACHE) uploads a file with ``upload_file`` and downloads it with
``hf_hub_download`` into a fresh cache, against boto3's ``upload_file`` / ``download_file``
of the same file to the same S3 server (16 MiB parts, 4 in flight, RepoHub's own shape).
Every round writes new random bytes, so no upload can dedup against an earlier one; the side
that goes first alternates by round, dirty pages are flushed before each timed call, and each
download is checked by sha256 (untimed). Targets: Xet over boto3 throughput at least 0.8 both
ways; the server's process tree under 300 MB RSS throughout.

Dedup. A safetensors model (``--model-mib``, tensors of 5 MiB) goes to one repo; a copy with
5% of its tensors re-drawn goes to another repo by another user, with an empty Xet cache, so
only RepoHub's global dedup can find the shared chunks. The client talks to RepoHub through a
counting proxy, so "sent" is every byte on its connections; "stored" is the growth of the
hub's xorb bytes (``/api/storage``). Targets: both under 10% of the copy's size.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # also runnable as ``python benchmarks/xet_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import psutil
from safetensors.numpy import save_file

from benchmarks._server import (
    OWNER,
    BenchError,
    PeakMemory,
    RepoHubTarget,
    clean_env,
    default_repohub_cmd,
    http_request,
    machine_info,
    progress,
    tree_processes,
)
from benchmarks.lfs_bench import CHUNK, MIB, RAW_TRANSFER_CONFIG, settle, sha256_file
from tests.support.seaweed import S3Server, running_seaweedfs

THROUGHPUT_TARGET = 0.8
RSS_TARGET_MB = 300.0
DEDUP_TARGET = 0.10
CHANGED_SHARE = 0.05
TENSOR_MIB = 5
CLIENT = Path(__file__).with_name("_xet_client.py")
ADMIN = "xetadmin"


# --------------------------------------------------------------------------- the client


@dataclass
class Client:
    """Runs ``_xet_client.py`` as one user of one endpoint, each call with fresh caches."""

    endpoint: str
    token: str
    scratch: Path
    calls: int = 0

    def run(self, args: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        home = self.scratch / f"hf-{self.calls}"
        env = clean_env(
            HF_ENDPOINT=self.endpoint,
            HF_TOKEN=self.token,
            HF_HOME=str(home),
            HF_XET_CACHE=str(home / "xet"),
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_XET_TELEMETRY_ENABLED="false",
        )
        env.pop("HF_HUB_DISABLE_XET", None)
        proc = subprocess.run(
            [sys.executable, str(CLIENT), json.dumps(args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        shutil.rmtree(home, ignore_errors=True)
        if proc.returncode != 0:
            raise BenchError(f"the Hub client failed ({args['op']}):\n{proc.stderr[-3000:]}")
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as sink:
        remaining = size
        while remaining:
            block = os.urandom(min(CHUNK, remaining))
            digest.update(block)
            sink.write(block)
            remaining -= len(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- transfers


@dataclass
class Transfers:
    times: dict[str, list[float]] = field(default_factory=dict)
    peak_rss_mb: float = 0.0  # the API process, which serves every Xet call
    peak_tree_mb: float = 0.0  # with the embedded job worker and anything else it started
    peak_top: str = ""

    cpu: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def add(self, label: str, seconds: float, cpu: CpuSplit) -> None:
        self.times.setdefault(label, []).append(seconds)
        self.cpu.setdefault(label, []).append(cpu.used)
        split = ", ".join(f"{k} {v:.1f}" for k, v in cpu.used.items())
        progress(f"  {label:<28} {seconds:7.2f} s   (CPU s: {split})")

    def median(self, label: str) -> float:
        return statistics.median(self.times[label])


class CpuSplit:
    """CPU seconds a timed call cost each party: the client (this process for boto3, the
    Hub client's process), RepoHub's process tree and SeaweedFS. On two cores their sum
    bounds how fast a transfer can be, whoever waits on whom."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        server = weed = 0.0
        tree = {p.pid for p in tree_processes(self.server_pid)}
        for proc in psutil.process_iter(["pid", "name", "cpu_times"]):
            times = proc.info["cpu_times"]
            if times is None:
                continue
            if proc.info["pid"] in tree:
                server += times.user + times.system
            elif proc.info["name"] == "weed":
                weed += times.user + times.system
        client = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
        return {"client": client, "RepoHub": server, "SeaweedFS": weed}

    def __enter__(self) -> CpuSplit:
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._now()
        self.used = {k: end[k] - self._start[k] for k in end}


def measure_transfers(
    args: argparse.Namespace, hub: RepoHubTarget, s3: S3Server, client: Client, work: Path
) -> Transfers:
    size = args.size_mib * MIB
    s3_client = s3.client()
    out = Transfers()
    source = work / "payload.bin"
    for round_ in range(args.rounds):
        progress(f"round {round_ + 1}/{args.rounds}: new {args.size_mib} MiB of random bytes")
        oid = random_file(source, size)
        repo, key = f"{OWNER}/xet-bench-{round_}", f"raw-bench/{round_}"

        def xet_up(repo: str = repo) -> None:
            settle()
            with PeakMemory(hub.pid) as peak, CpuSplit(hub.pid) as cpu:
                result = client.run(
                    {"op": "upload", "repo": repo, "file": str(source), "path": "weights.bin"}
                )
            out.add("xet upload_file", result["seconds"], cpu)
            _keep_peak(out, peak)

        def raw_up(key: str = key) -> None:
            settle()
            with CpuSplit(hub.pid) as cpu:
                started = time.perf_counter()
                s3_client.upload_file(str(source), s3.bucket, key, Config=RAW_TRANSFER_CONFIG)
                seconds = time.perf_counter() - started
            out.add("boto3 upload_file", seconds, cpu)

        def xet_down(repo: str = repo, oid: str = oid) -> None:
            dest = work / "xet-download"
            # Cold: the server's local copies of recent uploads go, so its bytes come from S3.
            shutil.rmtree(work / "data" / "cache" / "xet-recent", ignore_errors=True)
            settle()
            with PeakMemory(hub.pid) as peak, CpuSplit(hub.pid) as cpu:
                result = client.run(
                    {"op": "download", "repo": repo, "path": "weights.bin", "dest": str(dest)}
                )
            out.add("xet hf_hub_download", result["seconds"], cpu)
            _keep_peak(out, peak)
            if sha256_file(Path(result["local"])) != oid:
                raise BenchError("the Xet download does not have the uploaded bytes")
            shutil.rmtree(dest)

        def raw_down(key: str = key, oid: str = oid) -> None:
            dest = work / "raw-download.bin"
            settle()
            with CpuSplit(hub.pid) as cpu:
                started = time.perf_counter()
                s3_client.download_file(s3.bucket, key, str(dest), Config=RAW_TRANSFER_CONFIG)
                seconds = time.perf_counter() - started
            out.add("boto3 download_file", seconds, cpu)
            if sha256_file(dest) != oid:
                raise BenchError("the boto3 download does not have the uploaded bytes")
            dest.unlink()

        ups, downs = [xet_up, raw_up], [xet_down, raw_down]
        if round_ % 2:
            ups.reverse()
            downs.reverse()
        for step in (*ups, *downs):
            step()
    source.unlink(missing_ok=True)
    return out


def _keep_peak(out: Transfers, peak: PeakMemory) -> None:
    out.peak_rss_mb = max(out.peak_rss_mb, peak.root_mb)
    if peak.rss_mb > out.peak_tree_mb:
        out.peak_tree_mb, out.peak_top = peak.rss_mb, peak.top


# --------------------------------------------------------------------------- dedup


class CountingProxy:
    """A loopback TCP relay that counts the bytes clients send through it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sent = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, counted: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 20):
                if counted:
                    with self._lock:
                        self.sent += len(data)
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._listener.close()


def write_model(folder: Path, total_mib: int, seed: int, changed: set[int]) -> Path:
    """A safetensors file of float32 tensors, 5 MiB each; tensors in `changed` are drawn
    from another seed (a fine-tune that touched them)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = max(1, total_mib // TENSOR_MIB)
    shape = (TENSOR_MIB * MIB // 4 // 1024, 1024)
    tensors = {}
    for i in range(count):
        rng = np.random.default_rng((seed, i, i in changed))
        tensors[f"layers.{i:03d}.weight"] = rng.standard_normal(shape, dtype=np.float32)
    path = folder / "model.safetensors"
    save_file(tensors, str(path))
    return path


@dataclass
class Dedup:
    case: str
    size: int
    changed_tensors: int
    tensors: int
    sent_bytes: int  # everything the client sent RepoHub for the copy, headers included
    stored_growth: int  # how much the hub's xorb bytes grew
    base_stored: int  # what the base model's upload stored

    @property
    def sent_share(self) -> float:
        return self.sent_bytes / self.size

    @property
    def stored_share(self) -> float:
        return self.stored_growth / self.size


# (label, which tensors a fine-tune re-draws): every 20th (5%), and the same with the first
# tensor among them, which changes the file's first chunk, the one chunk of a file that the
# client always asks the dedup index about.
DEDUP_CASES = (
    ("5% of tensors, spread", 10),
    ("5% of tensors, the first among them", 0),
)


def hub_xet_stored(hub: RepoHubTarget, token: str) -> int:
    return int(
        http_request("GET", f"{hub.base_url}/api/storage", token=token)[1]["xet"]["storedBytes"]
    )


def measure_dedup(
    args: argparse.Namespace, hub: RepoHubTarget, admin_token: str, work: Path
) -> list[Dedup]:
    count = max(1, args.model_mib // TENSOR_MIB)
    stride = max(1, round(1 / CHANGED_SHARE))
    progress(f"dedup: a {args.model_mib} MiB model of {count} tensors, then fine-tuned copies")
    base = write_model(work / "base", args.model_mib, 1, set())
    before = hub_xet_stored(hub, admin_token)
    Client(hub.base_url, hub.owner_token, work).run(
        {"op": "upload", "repo": f"{OWNER}/base", "file": str(base), "path": "model.safetensors"}
    )
    base_stored = hub_xet_stored(hub, admin_token) - before
    results = []
    for number, (label, first) in enumerate(DEDUP_CASES):
        changed = set(range(first, count, stride))
        tuned = write_model(work / f"tuned-{number}", args.model_mib, 1, changed)
        token = hub.create_user(f"tuner{number}")
        repo = f"tuner{number}/tuned"
        stored = hub_xet_stored(hub, admin_token)
        proxy = CountingProxy(int(hub.base_url.rsplit(":", 1)[1]))
        try:  # another user, an empty Xet cache: only RepoHub's global dedup can help
            Client(f"http://127.0.0.1:{proxy.port}", token, work).run(
                {"op": "upload", "repo": repo, "file": str(tuned), "path": "model.safetensors"}
            )
        finally:
            proxy.close()
        grew = hub_xet_stored(hub, admin_token) - stored
        size = tuned.stat().st_size
        result = Dedup(label, size, len(changed), count, proxy.sent, grew, base_stored)
        progress(
            f"  {label}: sent {result.sent_bytes / 1e6:.1f} MB ({result.sent_share:.1%}), "
            f"stored grew {grew / 1e6:.1f} MB ({result.stored_share:.1%})"
        )
        check = Client(hub.base_url, token, work).run(
            {"op": "download", "repo": repo, "path": "model.safetensors", "dest": str(work / "c")}
        )
        if sha256_file(Path(check["local"])) != sha256_file(tuned):
            raise BenchError("a deduplicated copy does not download back as uploaded")
        shutil.rmtree(work / "c", ignore_errors=True)
        tuned.unlink()
        results.append(result)
    return results


# --------------------------------------------------------------------------- the run


def start_hub(s3: S3Server, work: Path) -> RepoHubTarget:
    env = {
        "REPOHUB_STORAGE_URL": f"s3://{s3.bucket}/bench",
        "REPOHUB_S3_ENDPOINT_URL": s3.endpoint_url,
        "REPOHUB_S3_REGION": s3.region,
        "REPOHUB_S3_ACCESS_KEY_ID": s3.access_key,
        "REPOHUB_S3_SECRET_ACCESS_KEY": s3.secret_key,
    }
    return RepoHubTarget(default_repohub_cmd(), work / "data", work / "server.log", env)


def admin_token(hub: RepoHubTarget) -> str:
    hub.cli(
        "user",
        "create",
        ADMIN,
        "--email",
        f"{ADMIN}@example.com",
        "--password",
        "S3cret-pass",
        "--admin",
    )
    return hub.cli("token", "create", ADMIN, "--scope", "read").strip()


def report(
    args: argparse.Namespace, transfers: Transfers | None, dedup: list[Dedup]
) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine_info(), "args": vars(args), "targets": {}}
    ok = True
    if transfers is not None:
        size_mb = args.size_mib * MIB / 1e6
        rows = {label: size_mb / transfers.median(label) for label in transfers.times}
        up = rows["xet upload_file"] / rows["boto3 upload_file"]
        down = rows["xet hf_hub_download"] / rows["boto3 download_file"]
        out["transfers"] = {
            "MB/s (median)": rows,
            "seconds": transfers.times,
            "CPU seconds": transfers.cpu,
            "upload ratio": up,
            "download ratio": down,
            "server peak RSS MB": transfers.peak_rss_mb,
            "process tree peak RSS MB": transfers.peak_tree_mb,
            "largest process at the tree's peak": transfers.peak_top,
        }
        checks = {
            f"upload >= {THROUGHPUT_TARGET}x boto3": up >= THROUGHPUT_TARGET,
            f"download >= {THROUGHPUT_TARGET}x boto3": down >= THROUGHPUT_TARGET,
            f"server RSS < {RSS_TARGET_MB:.0f} MB": transfers.peak_rss_mb < RSS_TARGET_MB,
        }
        out["targets"].update(checks)
        ok = ok and all(checks.values())
        progress(f"\n{args.size_mib} MiB, median of {args.rounds}:")
        for label, rate in rows.items():
            progress(f"  {label:<24} {rate:8.1f} MB/s")
        progress(
            f"  upload ratio {up:.2f}x, download ratio {down:.2f}x; peak RSS: server "
            f"{transfers.peak_rss_mb:.0f} MB, with its job worker {transfers.peak_tree_mb:.0f} MB"
        )
    if dedup:
        out["dedup"] = [
            {**d.__dict__, "sent share": d.sent_share, "stored growth share": d.stored_share}
            for d in dedup
        ]
        target = dedup[0]  # the spread case carries the target; the other is reported
        checks = {
            f"copy sends < {DEDUP_TARGET:.0%} of its bytes": target.sent_share < DEDUP_TARGET,
            f"stored bytes grow < {DEDUP_TARGET:.0%}": target.stored_share < DEDUP_TARGET,
        }
        out["targets"].update(checks)
        ok = ok and all(checks.values())
    out["ok"] = ok
    for name, held in out["targets"].items():
        progress(f"  {'ok  ' if held else 'MISS'} {name}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model-mib", type=int, default=500)
    parser.add_argument("--only", choices=("transfers", "dedup", "both"), default="both")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--keep", type=Path, help="work here and keep it (server log, data)")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            work = args.keep
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="xet-bench-")))
        s3 = stack.enter_context(running_seaweedfs(work / "seaweedfs"))
        hub = start_hub(s3, work)
        stack.callback(hub.close)
        token = admin_token(hub)
        client = Client(hub.base_url, hub.owner_token, work)
        transfers, dedup = None, []
        if args.only in ("transfers", "both"):
            transfers = measure_transfers(args, hub, s3, client, work)
        if args.only in ("dedup", "both"):
            dedup = measure_dedup(args, hub, token, work)
        out = report(args, transfers, dedup)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0 if out["ok"] or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
