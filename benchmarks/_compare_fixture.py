"""The compare benchmark's fixture: a model with two commits that differ in 1,000 files and
in a `.safetensors` file of 500 tensors (an LFS object on each side), with train and eval
reports stored for both commits. Importable, so the page benchmark reuses it:

    fixture = build_fixture(settings, base_url, workdir)
    fixture.api_path   # /api/models/{owner}/{name}/compare/{base}...{head}
    fixture.page_path  # /{owner}/{name}/compare/{base}...{head}

The repo is pushed with the real `git` and `git lfs` to a running server; the reports are
rows written through the hub, shaped by `repohub.eval.report.build_report` as a job's are.
"""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save

from benchmarks._server import owner_with_repo

OWNER = "cmpbench"
PASSWORD = "B3nch-pass"  # noqa: S105 - a throwaway account in a throwaway database
CLASSES = [str(d) for d in range(10)]
SAMPLES = 450


@dataclass(frozen=True)
class Fixture:
    repo: str
    base: str
    head: str
    token: str

    @property
    def api_path(self) -> str:
        return f"/api/models/{self.repo}/compare/{self.base}...{self.head}"

    @property
    def page_path(self) -> str:
        return f"/{self.repo}/compare/{self.base}...{self.head}"


def _tensors(count: int, head: bool) -> bytes:
    """`count` small tensors; head reshapes every 10th, retypes every 25th, swaps a few."""
    found: dict[str, np.ndarray] = {}
    for i in range(count):
        name = f"layers.{i:03d}.weight"
        rows = 8 + (4 if head and i % 10 == 0 else 0)
        dtype = np.float16 if head and i % 25 == 0 else np.float32
        if head and i % 50 == 0:
            name = f"layers.{i:03d}.adapter"
        found[name] = np.zeros((rows, 4), dtype=dtype)
    return save(found)


def _write_tree(root: Path, head: bool, files: int, tensors: int) -> None:
    for i in range(files):
        path = root / f"src/part{i % 20:02d}/file_{i:04d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"line {n} of file {i}" for n in range(30)]
        if head:
            lines[i % 30] = f"changed line {i % 30} of file {i}"
        path.write_text("\n".join(lines) + "\n")
    epochs = 10 if head else 1
    (root / "repohub.yaml").write_text(
        f"train:\n  model: smallcnn\n  dataset: {OWNER}/digits\n  params: {{epochs: {epochs}}}\n"
    )
    (root / "README.md").write_text(
        f"---\nlicense: mit\ntags: [{'long' if head else 'short'}]\n---\n# Compare bench\n"
    )
    (root / "model.safetensors").write_bytes(_tensors(tensors, head))


def _git(workdir: Path, cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(workdir),
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def _head_sha(cwd: Path) -> str:
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=cwd, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def _raw(kind: str, accuracy: float, seed: int) -> dict[str, Any]:
    """A run's raw result: a confusion matrix, curves and per-sample predictions."""
    rng = random.Random(seed)
    truth = [i % 10 for i in range(SAMPLES)]
    predicted = [t if rng.random() < accuracy else (t + 1) % 10 for t in truth]
    confusion = [[0] * 10 for _ in range(10)]
    for t, p in zip(truth, predicted, strict=True):
        confusion[t][p] += 1
    split = {"loss": 1.0 - accuracy, "confusion": confusion, "samples": SAMPLES}
    steps = [{"step": s, "epoch": s // 10, "loss": 2.0 / (s + 1)} for s in range(200)]
    epochs = [{"epoch": e, "loss": 1.0 / (e + 1), "val_accuracy": accuracy} for e in range(10)]
    return {
        "kind": kind,
        "task": "image-classification",
        "model": "smallcnn",
        "classes": CLASSES,
        "splits": {"train": split, "val": split, "test": split}
        if kind == "train"
        else {"test": split},
        "curves": {"step": steps, "epoch": epochs},
        "predictions": {
            "split": "test",
            "paths": [f"test/{t}/{i:04d}.png" for i, t in enumerate(truth)],
            "true": truth,
            "predicted": predicted,
            "confidence": [round(rng.random(), 4) for _ in truth],
            "count": SAMPLES,
            "truncated": False,
        },
    }


def _store_reports(hub: Any, repo_name: str, commits: dict[str, float]) -> None:
    from repohub.db.jobs import Job, Report
    from repohub.eval.report import build_report, headline
    from repohub.repos.service import RepoKey, find_repo

    context = {"dataset": {"repo": f"{OWNER}/digits", "commit": "d" * 40}}
    with hub.sessions.begin() as session:
        repo = find_repo(session, RepoKey("model", OWNER, repo_name))
        assert repo is not None
        for n, (commit, accuracy) in enumerate(commits.items()):
            for kind in ("train", "eval"):
                job = Job(
                    kind=kind,
                    repo_id=repo.id,
                    network_id=repo.network_id,
                    commit_sha=commit,
                    spec_hash=f"{n}" * 64,
                    spec={},
                    trigger="manual",
                    state="succeeded",
                    queue="cpu",
                    priority=0,
                    max_attempts=0,
                    progress={},
                    error="",
                )
                session.add(job)
                session.flush()
                data = build_report(_raw(kind, accuracy, n), context)
                session.add(
                    Report(
                        job_id=job.id,
                        repo_id=repo.id,
                        network_id=repo.network_id,
                        commit_sha=commit,
                        spec_hash=job.spec_hash,
                        kind=kind,
                        headline=headline(data),
                        data=data,
                    )
                )


def build_fixture(
    settings: Any, base_url: str, workdir: Path, *, files: int = 1000, tensors: int = 500
) -> Fixture:
    """Create the user and repo, push both commits, store both commits' reports."""
    from repohub.repos.context import Hub

    hub = Hub.build(settings)
    try:
        token = owner_with_repo(hub, OWNER, PASSWORD, "cmp@example.com", "compare")
        src = workdir / "compare-src"
        src.mkdir()
        _git(workdir, src, "init", "-q", "-b", "main")
        _git(workdir, src, "lfs", "install", "--local")
        _git(workdir, src, "lfs", "track", "*.safetensors")
        _write_tree(src, False, files, tensors)
        _git(workdir, src, "add", "-A")
        _git(workdir, src, "commit", "-q", "-m", "base")
        base = _head_sha(src)
        _write_tree(src, True, files, tensors)
        _git(workdir, src, "add", "-A")
        _git(workdir, src, "commit", "-q", "-m", "head: 1,000 files and the weights changed")
        head = _head_sha(src)
        host = base_url.removeprefix("http://")
        _git(workdir, src, "push", "-q", f"http://{OWNER}:{token}@{host}/{OWNER}/compare", "main")
        _store_reports(hub, "compare", {base: 0.9, head: 0.95})
    finally:
        hub.close()
    return Fixture(f"{OWNER}/compare", base, head, token)
