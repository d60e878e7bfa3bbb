"""A storage outage during a push is reported as one, and the server stays up.

The server here has the production layout (PostgreSQL + S3) but its S3 endpoint is a closed
loopback port: every blob operation fails to connect, as in an S3 outage. The pusher must be
told the storage failed (not that its pack was malformed), no ref may move, and the server
must go on answering.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from repohub.db.migrate import upgrade
from repohub.repos.context import Hub
from tests.conftest import User, unique
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server, Stack, free_port, pg_schema, running_server


@pytest.fixture
def dead_s3_server(tmp_path: Path) -> Iterator[tuple[Server, Hub]]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with pg_schema() as url:
        env = {
            "REPOHUB_DATA_DIR": str(data_dir),
            "REPOHUB_SECRET_KEY": secrets.token_hex(32),
            "REPOHUB_DATABASE_URL": url,
            "REPOHUB_STORAGE_URL": "s3://nowhere/outage",
            "REPOHUB_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens
            "REPOHUB_S3_REGION": "us-east-1",
            "REPOHUB_S3_ACCESS_KEY_ID": "key",
            "REPOHUB_S3_SECRET_ACCESS_KEY": "secret",
            "REPOHUB_SERVE_WORKER": "false",
        }
        stack = Stack("production", data_dir, env)
        with running_server(stack) as server:
            settings = stack.settings()
            upgrade(settings.resolved_database_url)
            hub = Hub.build(settings)
            try:
                yield server, hub
            finally:
                hub.close()


def _user(hub: Hub) -> User:
    from repohub.auth.accounts import create_user
    from repohub.auth.tokens import create_token

    name = unique("pusher")
    with hub.sessions.begin() as session:
        account = create_user(session, name, email=f"{name}@example.com", password="S3cret-pass")
        write = create_token(session, account, scope="write").plaintext
        read = create_token(session, account, scope="read").plaintext
    return User(name, write, read)


def test_a_push_during_an_s3_outage_names_the_storage(
    dead_s3_server: tuple[Server, Hub], git: Git, tmp_path: Path
) -> None:
    server, hub = dead_s3_server
    alice = _user(hub)
    with httpx.Client(base_url=server.url, timeout=60) as api:
        name = unique("repo")
        created = api.post(
            "/api/repos/create", json={"name": name, "empty": True}, headers=alice.auth
        )
        assert created.status_code == 200, created.text
        repo = f"{alice.name}/{name}"
        src = git.init_repo(tmp_path / "src", {"weights.txt": "w" * 100})
        pushed = git("push", remote(server, repo, alice), "main", cwd=src, check=False)
        assert pushed.returncode != 0, pushed.stderr
        assert "storage unavailable: could not" in pushed.stderr, pushed.stderr
        assert "malformed pack" not in pushed.stderr
        assert "[remote rejected] main -> main (storage unavailable)" in pushed.stderr

        assert api.get("/api/health").status_code == 200, "the server stays up"
        refs = api.get(f"/api/models/{repo}/refs")
        assert refs.status_code == 200 and not refs.json()["branches"], "no ref moved"
    assert server.process.poll() is None
