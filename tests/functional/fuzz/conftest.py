"""Fuzzing fixtures: a user with a pushed public repo to aim generated requests at, and the
bounds every fuzz test runs under (seeded, a fixed number of examples per operation, no
shrinking) so `make test` stays inside CI's time. `REPOHUB_FUZZ_EXAMPLES` raises the count for
a longer run by hand."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.conftest import User
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server

EXAMPLES = int(os.environ.get("REPOHUB_FUZZ_EXAMPLES", "15"))
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # seeded: the same cases every run, so a failure reproduces
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its case as is
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,
)


@dataclass(frozen=True)
class Target:
    """What generated requests are pointed at: a real user, repo, branch and commit."""

    user: User
    repo: str
    head: str

    @property
    def owner(self) -> str:
        return self.repo.split("/")[0]

    @property
    def name(self) -> str:
        return self.repo.split("/")[1]


@pytest.fixture
def target(server: Server, make_user, make_repo, git: Git, tmp_path: Path) -> Target:  # type: ignore[no-untyped-def]
    user = make_user("fuzz")
    repo = make_repo(user)
    src = git.init_repo(tmp_path / "src", {"README.md": "# fuzz\n", "data/a.txt": "a"})
    git("push", remote(server, repo, user), "main", cwd=src)
    head = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    return Target(user, repo, head)


def assert_healthy(server: Server) -> None:
    """The server survived: its process runs and it answers."""
    assert server.process.poll() is None, "the server process died"
    assert httpx.get(f"{server.url}/api/health", timeout=10).status_code == 200
