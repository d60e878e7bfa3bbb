"""A worker installed without torch takes no jobs; its jobs wait, saying why, for one that can.

The worker beside `serve` here finds, first on its PYTHONPATH, a `torch` package whose import
raises ImportError: exactly what an install without the `train` extra looks like to it. The
deployment is one of its own, so no capable worker of the session can take its jobs.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from repohub.db.migrate import upgrade
from repohub.repos.context import Hub
from tests.functional.jobs.conftest import _create_repo, _create_user, url
from tests.support.gitcli import Git
from tests.support.jobs import _drop_redis_keys, push_tree, spec_yaml, wait_for, worker_env
from tests.support.stack import Server, Stack, make_stack, repohub_command, running_server

NO_TRAIN = "this worker cannot run training jobs: torch is not installed"


@pytest.fixture
def own_stack(jobs_stack: Stack, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    s3 = request.getfixturevalue("seaweed") if jobs_stack.name == "production" else None
    with make_stack(jobs_stack.name, tmp_path / "stack", s3) as stack:
        stack.env |= worker_env(stack, f"repohub-test-{secrets.token_hex(4)}:")
        try:
            yield stack
        finally:
            if "REPOHUB_BROKER_KEY_PREFIX" in stack.env:
                _drop_redis_keys(stack.env["REPOHUB_BROKER_KEY_PREFIX"])


@pytest.fixture
def no_torch(tmp_path: Path) -> str:
    root = tmp_path / "no-torch"
    (root / "torch").mkdir(parents=True)
    (root / "torch" / "__init__.py").write_text(
        "raise ImportError(\"No module named 'torch' (this test hides it)\")\n"
    )
    return str(root)


@pytest.fixture
def torchless_server(own_stack: Stack, no_torch: str) -> Iterator[Server]:
    path = os.pathsep.join(p for p in (no_torch, os.environ.get("PYTHONPATH")) if p)
    with running_server(own_stack, extra_env={"PYTHONPATH": path}) as server:
        yield server


@pytest.fixture
def own_hub(own_stack: Stack, torchless_server: Server) -> Iterator[Hub]:
    settings = own_stack.settings()
    upgrade(settings.resolved_database_url)
    hub = Hub.build(settings)
    yield hub
    hub.close()


def _capable_worker(stack: Stack, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **stack.env}
    with log.open("wb") as out:
        return subprocess.Popen(
            [*repohub_command(), "worker", "--name", f"capable-{secrets.token_hex(3)}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_a_worker_without_torch_takes_no_jobs_and_they_wait_for_one_with_it(
    own_stack: Stack,
    torchless_server: Server,
    own_hub: Hub,
    tiny_dir: Path,
    git: Git,
    tmp_path: Path,
) -> None:
    server = torchless_server
    with httpx.Client(base_url=server.url, timeout=60) as api:
        alice = _create_user(own_hub, "alice")
        data = _create_repo(api, alice, "dataset")
        push_tree(git, tiny_dir, tmp_path / "tiny", url(server, alice, f"datasets/{data}"))
        model = _create_repo(api, alice)
        src = git.init_repo(
            tmp_path / "model", {"repohub.yaml": spec_yaml(data, params={"epochs": 1})}
        )
        git("push", url(server, alice, model), "main", cwd=src)
        train = next(j for j in api.get(f"/api/models/{model}/jobs").json() if j["kind"] == "train")

        waiting = wait_for(api, train["id"], ("queued",), until=lambda j: j["waitingReason"])
        assert waiting["waitingReason"].startswith("no worker can run training jobs: ")
        assert "torch is not installed" in waiting["waitingReason"]
        assert waiting["attempts"] == 0 and waiting["workerPid"] is None, "no worker took it"
        page = api.get(f"/jobs/{train['id']}").text
        assert "no worker can run training jobs" in page
        assert server.log.read_text().count(NO_TRAIN) == 1, "one clear line, once"

        worker = _capable_worker(own_stack, tmp_path / "capable.log")
        try:
            done = wait_for(api, train["id"])
            assert done["state"] == "succeeded", done
            assert done["waitingReason"] is None
            assert done["workerPid"] == worker.pid, "the capable worker ran it"
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        assert server.log.read_text().count(NO_TRAIN) == 1, "the torchless worker kept running"
