"""A RepoHub with workers per storage configuration, users, repos and pushed datasets.

Jobs tests get a deployment of their own (database, storage prefix, broker) so the workers
they watch are the only ones that can take their jobs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from repohub.db.migrate import upgrade
from repohub.repos.context import Hub
from tests.conftest import STACKS, User, unique
from tests.support import datasets
from tests.support.gitcli import Git
from tests.support.jobs import jobs_server, push_tree
from tests.support.stack import Server, Stack, make_stack


@pytest.fixture(scope="session", params=STACKS)
def jobs_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    s3 = request.getfixturevalue("seaweed") if request.param == "production" else None
    with make_stack(request.param, tmp_path_factory.mktemp("jobs"), s3) as built:
        yield built


@pytest.fixture(scope="session")
def hub_server(jobs_stack: Stack) -> Iterator[Server]:
    with jobs_server(jobs_stack) as server:
        yield server


@pytest.fixture(scope="session")
def jobs_hub(jobs_stack: Stack, hub_server: Server) -> Iterator[Hub]:
    settings = jobs_stack.settings()
    upgrade(settings.resolved_database_url)
    built = Hub.build(settings)
    yield built
    built.close()


@pytest.fixture
def api(hub_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub_server.url, timeout=60) as client:
        yield client


def _create_user(hub: Hub, prefix: str) -> User:
    from repohub.auth.accounts import create_user
    from repohub.auth.tokens import create_token

    name = unique(prefix)
    with hub.sessions.begin() as session:
        account = create_user(session, name, email=f"{name}@example.com", password="S3cret-pass")
        write = create_token(session, account, scope="write").plaintext
        read = create_token(session, account, scope="read").plaintext
    return User(name, write, read)


@pytest.fixture
def new_user(jobs_hub: Hub) -> Callable[[str], User]:
    return lambda prefix="user": _create_user(jobs_hub, prefix)


def _create_repo(
    client: httpx.Client, owner: User, repo_type: str = "model", *, private: bool = False
) -> str:
    name = unique("repo")
    body = {"name": name, "type": repo_type, "private": private, "empty": True}
    r = client.post("/api/repos/create", json=body, headers=owner.auth)
    assert r.status_code == 200, r.text
    return f"{owner.name}/{name}"


@pytest.fixture
def new_repo(api: httpx.Client) -> Callable[..., str]:
    return lambda owner, repo_type="model", private=False: _create_repo(
        api, owner, repo_type, private=private
    )


def url(server: Server, user: User | None, path: str) -> str:
    host = server.url.removeprefix("http://")
    return f"http://{user.name}:{user.token}@{host}/{path}" if user else f"http://{host}/{path}"


@pytest.fixture
def git(tmp_path: Path) -> Git:
    home = tmp_path / "home"
    home.mkdir()
    built = Git(home)
    built("lfs", "install", "--skip-repo")
    return built


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("digits") / "digits"
    datasets.digits(root)
    return root


@pytest.fixture(scope="session")
def tiny_dir(digits_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three digits, a few dozen images: for jobs whose outcome is not accuracy."""
    root = tmp_path_factory.mktemp("tiny") / "tiny"
    for split, count in (("train", 30), ("test", 10)):
        for digit in ("0", "1", "2"):
            target = root / split / digit
            target.mkdir(parents=True)
            for image in sorted((digits_dir / split / digit).iterdir())[:count]:
                shutil.copy(image, target / image.name)
    return root


@dataclass(frozen=True)
class Datasets:
    owner: User
    digits: str  # `owner/name` of the full digits dataset
    tiny: str


@pytest.fixture(scope="session")
def public_datasets(
    jobs_hub: Hub,
    hub_server: Server,
    digits_dir: Path,
    tiny_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Datasets:
    """Public dataset repos shared by the session's tests, pushed once per configuration."""
    work = tmp_path_factory.mktemp("datasets")
    (work / "home").mkdir()
    git = Git(work / "home")
    owner = _create_user(jobs_hub, "data")
    names = {}
    with httpx.Client(base_url=hub_server.url, timeout=60) as client:
        for source in (digits_dir, tiny_dir):
            repo = _create_repo(client, owner, "dataset")
            push_tree(git, source, work / source.name, url(hub_server, owner, f"datasets/{repo}"))
            names[source.name] = repo
    return Datasets(owner, names["digits"], names["tiny"])
