"""Runs are processes of their own: a memory limit the kernel enforces, and a real kill."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from repohub.jobs.child import RunProcess
from tests.support.datasets import digits

MB = 1024 * 1024


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("digits")
    digits(root)
    return root


def _fields(dataset: Path, out: Path, epochs: int, memory: int | None) -> dict:
    spec = {
        "train": {
            "model": "smallcnn",
            "dataset": "a/d",
            "image_size": 16,
            "params": {"epochs": epochs},
        }
    }
    return {
        "kind": "train",
        "spec": spec,
        "dataset_dir": str(dataset),
        "output_dir": str(out),
        "memory_limit_bytes": memory,
    }


def _until_final(run: RunProcess, timeout: float = 300) -> list[dict]:
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not run.closed:
        seen += run.events(0.5)
        if any(e["type"] in ("done", "error") for e in seen):
            break
    return seen


def test_a_run_over_its_memory_limit_fails_with_a_message(dataset: Path, tmp_path: Path) -> None:
    run = RunProcess(_fields(dataset, tmp_path, 1, 300 * MB))
    try:
        events = _until_final(run)
    finally:
        run.close()
    errors = [e["message"] for e in events if e["type"] == "error"]
    assert errors and "memory limit of 300 MB" in errors[0], events[-3:]


def test_kill_ends_the_run_process(dataset: Path, tmp_path: Path) -> None:
    run = RunProcess(_fields(dataset, tmp_path, 10000, None))
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if any(e["type"] == "progress" for e in run.events(0.5)):
                break
        pid = run.process.pid
        assert pid is not None and psutil.pid_exists(pid)
        run.kill()
        assert not run.alive
        assert run.process.exitcode == -9
    finally:
        run.close()
    assert run.exitcode == -9
    assert run.ending().startswith("the run process was killed by SIGKILL")


def test_a_run_that_dies_at_start_leaves_its_exit_code_and_stderr(tmp_path: Path) -> None:
    """The run's first frame fails (as an import that fails would): nothing arrives on its
    pipe, so its exit code and the end of its stderr are all that explain it."""
    run = RunProcess({"kind": "train", "no_such_field": 1}, tmp_path)
    try:
        assert _until_final(run) == []
    finally:
        run.close()
    assert run.exitcode == 1
    ending = run.ending()
    assert ending.startswith("the run process exited with code 1, before reporting a result")
    assert "TypeError" in run.stderr_tail and "no_such_field" in run.stderr_tail
    assert len(run.stderr_tail.splitlines()) <= 20
    assert not list(tmp_path.glob("*.stderr")), "its stderr file is removed"
