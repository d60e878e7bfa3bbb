"""Training harness overhead: the same model and data, a plain PyTorch loop against a job.

    python -m benchmarks.train_bench [--epochs 8] [--rounds 3] [--latency-pushes 5]

Both sides train RepoHub's `smallcnn` on scikit-learn's digits (PNG files in the ImageFolder
layout, decoded once to 32x32 tensors) with the same optimiser, schedule, batch size and
seed, without a validation split. Throughput is training images per second over the epochs'
wall time (batching, steps and, for the job, its live reporting), and per CPU-second of the
training process (which other load on a shared machine does not distort); the plain loop runs in a
fresh Python process, the job on the worker of a `repohub serve` (embedded default: SQLite,
local blobs, filesystem broker) after a `git push`. Rounds interleave the two and medians are
reported, with the ratio job / plain (target >= 0.9).

Push-to-running latency: from the moment `git push` starts to the job's `startedAt` (the
worker claimed it), for pushes of a commit whose spec matches the branch (target < 2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

IMAGE_SIZE = 32
BATCH = 64
BASE_LR = 0.05
PASSWORD = "S3cret-pass"  # noqa: S105 - a throwaway account in a throwaway data dir


def plain_loop(root: Path, epochs: int, seed: int) -> dict[str, float]:
    """A textbook loop: decode, normalise, SGD with momentum and a poly schedule."""
    import numpy as np
    import torch
    from PIL import Image
    from torch.nn import functional as F  # noqa: N812

    from repohub.train.nets import SmallCNN

    started = time.perf_counter()
    torch.manual_seed(seed)
    classes = sorted(d.name for d in (root / "train").iterdir())
    paths = [(p, i) for i, c in enumerate(classes) for p in sorted((root / "train" / c).iterdir())]
    arrays = [
        np.asarray(
            Image.open(p).convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
        )
        for p, _ in paths
    ]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor([label for _, label in paths])
    scaled = x.float() / 255
    mean, std = (
        scaled.mean(dim=(0, 2, 3)).view(1, 3, 1, 1),
        scaled.std(dim=(0, 2, 3)).view(1, 3, 1, 1),
    )
    model = SmallCNN(len(classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=BASE_LR, momentum=0.9, weight_decay=1e-4)
    steps = epochs * -(-len(x) // BATCH)
    generator = torch.Generator().manual_seed(seed)
    step, seen = 0, 0
    loop_started, cpu_started = time.perf_counter(), time.process_time()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), BATCH):
            index = order[start : start + BATCH]
            for group in optimizer.param_groups:
                group["lr"] = BASE_LR * (1 - step / steps) ** 0.9
            batch = (x[index].float() / 255 - mean) / std
            loss = F.cross_entropy(model(batch), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            seen += len(index)
    train_seconds = time.perf_counter() - loop_started
    cpu_seconds = time.process_time() - cpu_started
    return {
        "images_per_second": seen / train_seconds,
        "images_per_cpu_second": seen / cpu_seconds,
        "train_seconds": train_seconds,
        "wall_seconds": time.perf_counter() - started,
    }


def _spec(dataset: str, epochs: int, seed: int) -> str:
    return (
        "on: {push: {branches: [main]}}\n"
        "train:\n"
        f"  model: smallcnn\n  dataset: {dataset}\n  image_size: {IMAGE_SIZE}\n"
        f"  params: {{epochs: {epochs}, batch_size: {BATCH}, optimizer: sgd, base_lr: {BASE_LR},"
        f" momentum: 0.9, weight_decay: 0.0001, lr_policy: poly, power: 0.9, seed: {seed}}}\n"
        "  preprocess: {val_split: 0, normalize: true}\n"
    )


class Hub:
    """A `repohub serve` with its worker in a throwaway data directory."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("REPOHUB_", "GIT_"))},
            "REPOHUB_DATA_DIR": str(work / "data"),
            "NO_PROXY": "127.0.0.1,localhost",
        }
        self.git_env = {
            **self.env,
            "HOME": str(work),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
        }
        self.repohub = [sys.executable, "-m", "repohub.cli"]
        self.token = ""
        self.url = ""

    def cli(self, *args: str) -> str:
        return subprocess.run(
            [*self.repohub, *args], env=self.env, check=True, capture_output=True, text=True
        ).stdout.strip()

    @contextmanager
    def serving(self) -> Iterator[None]:
        self.cli("user", "create", "bench", "--email", "bench@example.com", "--password", PASSWORD)
        self.token = self.cli("token", "create", "bench", "--scope", "write")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        log = (self.work / "serve.log").open("wb")
        server = subprocess.Popen(
            [*self.repohub, "serve", "--port", str(port)], env=self.env, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    self.get("/api/health")
                    break
                except OSError:
                    time.sleep(0.2)
            yield
        finally:
            server.terminate()
            server.wait(timeout=60)
            log.close()

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - a loopback URL we built
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=60) as answer:  # noqa: S310
            return json.loads(answer.read())

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def remote(self, path: str) -> str:
        return f"http://bench:{self.token}@{self.url.removeprefix('http://')}/{path}"

    def git(self, *args: str, cwd: Path) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=self.git_env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def create(self, name: str, repo_type: str) -> str:
        self.request("POST", "/api/repos/create", {"name": name, "type": repo_type, "empty": True})
        return f"bench/{name}"

    def wait(
        self, job_id: int, states: tuple[str, ...], timeout: float = 1800, every: float = 1.0
    ) -> dict[str, Any]:
        """Poll gently: a busy poller would take CPU from the run being measured."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(f"/api/jobs/{job_id}")
            if job["state"] in states:
                return job
            time.sleep(every)
        raise RuntimeError(f"job {job_id} did not reach {states}")


def _utc(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def run_job(
    hub: Hub, model_dir: Path, model: str, dataset: str, epochs: int, seed: int
) -> dict[str, Any]:
    (model_dir / "repohub.yaml").write_text(_spec(dataset, epochs, seed))
    hub.git("add", "-A", cwd=model_dir)
    hub.git("commit", "-q", "-m", f"seed {seed}", cwd=model_dir)
    pushed_at = time.time()
    hub.git("push", "-q", hub.remote(model), "main", cwd=model_dir)
    commit = hub.git("rev-parse", "HEAD", cwd=model_dir)
    job_id = hub.get(f"/api/models/{model}/jobs?commit={commit}")[0]["id"]
    job = hub.wait(job_id, ("succeeded", "failed", "cancelled"))
    if job["state"] != "succeeded":
        raise RuntimeError(f"job {job_id} {job['state']}: {job['error']}")
    report = hub.get(f"/api/jobs/{job_id}/report")["report"]
    seen = report["images_per_second"] * report["train_seconds"]
    return {
        "images_per_second": report["images_per_second"],
        "images_per_cpu_second": seen / report["train_cpu_seconds"],
        "train_seconds": report["train_seconds"],
        "push_to_done_seconds": _utc(job["finishedAt"]) - pushed_at,
        "train_accuracy": report["metrics"]["train"]["accuracy"],
    }


def latency(hub: Hub, model_dir: Path, model: str, dataset: str, pushes: int) -> list[float]:
    """Seconds from `git push` starting to the worker claiming the job; each job is then
    cancelled so the next push finds the worker free, as an idle hub would."""
    found = []
    for n in range(pushes):
        (model_dir / "repohub.yaml").write_text(_spec(dataset, 1, 1000 + n))
        hub.git("add", "-A", cwd=model_dir)
        hub.git("commit", "-q", "-m", f"latency {n}", cwd=model_dir)
        started = time.time()
        hub.git("push", "-q", hub.remote(model), "main", cwd=model_dir)
        commit = hub.git("rev-parse", "HEAD", cwd=model_dir)
        job_id = hub.get(f"/api/models/{model}/jobs?commit={commit}")[0]["id"]
        job = hub.wait(job_id, ("running", "succeeded", "failed", "cancelled"), 60, every=0.1)
        found.append(_utc(job["startedAt"]) - started)
        if job["state"] == "running":
            hub.request("POST", f"/api/jobs/{job_id}/cancel")
        hub.wait(job_id, ("succeeded", "failed", "cancelled"), timeout=120)
        time.sleep(1)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-pushes", type=int, default=5)
    parser.add_argument("--plain", metavar="DATASET_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.plain:
        print(json.dumps(plain_loop(Path(args.plain), args.epochs, args.seed)))
        return
    work = Path(tempfile.mkdtemp(prefix="repohub-train-bench-"))
    try:
        figures = _measure(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _print(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def _measure(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from tests.support.datasets import digits

    data = work / "digits"
    digits(data)
    hub = Hub(work)
    plain: list[dict[str, float]] = []
    jobs: list[dict[str, Any]] = []
    with hub.serving():
        dataset = hub.create("digits", "dataset")
        shutil.copytree(data, work / "ds")
        hub.git("init", "-q", "-b", "main", cwd=work / "ds")
        hub.git("add", "-A", cwd=work / "ds")
        hub.git("commit", "-q", "-m", "digits", cwd=work / "ds")
        hub.git("push", "-q", hub.remote(f"datasets/{dataset}"), "main", cwd=work / "ds")
        model = hub.create("cnn", "model")
        model_dir = work / "model"
        model_dir.mkdir()
        hub.git("init", "-q", "-b", "main", cwd=model_dir)
        warm = run_job(hub, model_dir, model, dataset, 1, 999)  # starts the worker's forkserver
        for seed in range(args.rounds):
            plain.append(_plain(data, args.epochs, seed))
            jobs.append(run_job(hub, model_dir, model, dataset, args.epochs, seed))
        pushes = latency(hub, model_dir, model, dataset, args.latency_pushes)
    plain_ips = statistics.median(p["images_per_second"] for p in plain)
    job_ips = statistics.median(j["images_per_second"] for j in jobs)
    plain_cpu = statistics.median(p["images_per_cpu_second"] for p in plain)
    job_cpu = statistics.median(j["images_per_cpu_second"] for j in jobs)
    return {
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "epochs": args.epochs,
        "plain": plain,
        "jobs": jobs,
        "first_job": warm,
        "plain_images_per_second": plain_ips,
        "job_images_per_second": job_ips,
        "ratio": job_ips / plain_ips,
        "plain_images_per_cpu_second": plain_cpu,
        "job_images_per_cpu_second": job_cpu,
        "cpu_ratio": job_cpu / plain_cpu,
        "plain_wall_seconds": statistics.median(p["wall_seconds"] for p in plain),
        "job_push_to_done_seconds": statistics.median(j["push_to_done_seconds"] for j in jobs),
        "push_to_running_seconds": pushes,
        "push_to_running_median": statistics.median(pushes),
        "push_to_running_max": max(pushes),
    }


def _plain(data: Path, epochs: int, seed: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.train_bench",
            "--plain",
            str(data),
            "--epochs",
            str(epochs),
            "--seed",
            str(seed),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _print(f: dict[str, Any]) -> None:
    print(
        f"smallcnn on digits ({IMAGE_SIZE}x{IMAGE_SIZE}), {f['epochs']} epochs, batch {BATCH}; "
        f"{f['machine']['cpus']} CPUs, load {f['machine']['load_average'][0]:.2f}"
    )
    print(
        f"  plain PyTorch loop: {f['plain_images_per_second']:8.1f} images/s "
        f"(process wall {f['plain_wall_seconds']:.1f} s)"
    )
    print(
        f"  RepoHub job:        {f['job_images_per_second']:8.1f} images/s "
        f"(push to report {f['job_push_to_done_seconds']:.1f} s)"
    )
    print(f"  ratio job/plain:    {f['ratio']:8.3f}   (target >= 0.9)")
    print(
        f"  per CPU-second:     plain {f['plain_images_per_cpu_second']:.1f}, job "
        f"{f['job_images_per_cpu_second']:.1f} images; ratio {f['cpu_ratio']:.3f} "
        "(immune to other load on the machine)"
    )
    pushes = ", ".join(f"{s:.2f}" for s in f["push_to_running_seconds"])
    print(
        f"  push -> running:    median {f['push_to_running_median']:.2f} s, max "
        f"{f['push_to_running_max']:.2f} s ({pushes})   (target < 2 s)"
    )


if __name__ == "__main__":
    main()
