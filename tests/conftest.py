"""Session services and factories shared by every test.

Storage-dependent tests take the `stack` fixture, which runs them twice: on the embedded
default (SQLite + local blobs) and on production services (PostgreSQL + SeaweedFS S3).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from repohub.db.migrate import upgrade
from repohub.repos.context import Hub
from tests.support.browser import running_chromium
from tests.support.gitcli import Git
from tests.support.seaweed import S3Server, running_seaweedfs
from tests.support.stack import Server, Stack, make_stack, running_server

STACKS = ["embedded", "production"]
_names = itertools.count()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_seaweedfs(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@pytest.fixture(scope="session", params=STACKS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    s3 = request.getfixturevalue("seaweed") if request.param == "production" else None
    with make_stack(request.param, tmp_path_factory.mktemp("stack"), s3) as built:
        yield built


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with running_chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def server(stack: Stack) -> Iterator[Server]:
    with running_server(stack) as running:
        yield running


@pytest.fixture(scope="session")
def hub(stack: Stack, server: Server) -> Iterator[Hub]:
    """The same database and storage as the live server, for factories and direct checks."""
    settings = stack.settings()
    upgrade(settings.resolved_database_url)
    built = Hub.build(settings)
    yield built
    built.close()


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}{secrets.token_hex(2)}"


@dataclass(frozen=True)
class User:
    name: str
    token: str
    read_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_user(hub: Hub) -> Callable[..., User]:
    from repohub.auth.accounts import create_user
    from repohub.auth.tokens import create_token

    def make(prefix: str = "user", *, admin: bool = False) -> User:
        name = unique(prefix)
        with hub.sessions.begin() as session:
            account = create_user(
                session, name, email=f"{name}@example.com", password="S3cret-pass", is_admin=admin
            )
            write = create_token(session, account, scope="write").plaintext
            read = create_token(session, account, scope="read").plaintext
        return User(name, write, read)

    return make


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture
def git(tmp_path: Path) -> Git:
    home = tmp_path / "home"
    home.mkdir()
    return Git(home)


@pytest.fixture
def make_repo(api: httpx.Client) -> Callable[..., str]:
    """Create a repo through the API; returns its `owner/name`."""

    def make(
        owner: User,
        *,
        private: bool = False,
        empty: bool = True,
        repo_type: str = "model",
        organization: str | None = None,
    ) -> str:
        name = unique("repo")
        body = {"name": name, "type": repo_type, "private": private, "empty": empty}
        if organization:
            body["organization"] = organization
        r = api.post("/api/repos/create", json=body, headers=owner.auth)
        assert r.status_code == 200, r.text
        return f"{organization or owner.name}/{name}"

    return make
