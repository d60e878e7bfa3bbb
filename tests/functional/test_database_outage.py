"""A database outage answers 503 naming the database, and the server serves again after.

The server reaches PostgreSQL through a TCP proxy the test cuts (open connections drop,
new ones are refused) and restores on the same port, so only this server sees the outage.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from repohub.db.migrate import upgrade
from repohub.repos.context import Hub
from tests.conftest import unique
from tests.support.stack import Server, Stack, pg_schema, running_server
from tests.support.tcpproxy import TcpProxy

HTML = {"Accept": "text/html"}


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Server, TcpProxy, str]]:
    """A server on a fresh schema behind the proxy, and one public repo it holds."""
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    try:
        with pg_schema() as direct:
            upgrade(direct)
            repo = _public_repo(direct, data_dir)
            env = {
                "REPOHUB_DATA_DIR": str(data_dir),
                "REPOHUB_SECRET_KEY": secrets.token_hex(32),
                "REPOHUB_DATABASE_URL": direct.replace(":5432/", f":{proxy.port}/"),
                "REPOHUB_SERVE_WORKER": "false",
            }
            with running_server(Stack("production", data_dir, env)) as server:
                yield server, proxy, repo
    finally:
        proxy.stop()


def _public_repo(database_url: str, data_dir: Path) -> str:
    from repohub.auth.accounts import create_user
    from repohub.auth.identity import Identity
    from repohub.config import Settings
    from repohub.repos.service import create_repo

    hub = Hub.build(Settings(data_dir=data_dir, database_url=database_url))
    try:
        name = unique("owner")
        with hub.sessions.begin() as session:
            account = create_user(session, name, email=f"{name}@example.com", password="S3cret-pw")
            owner = Identity(account.id, name, False, "write")
        create_repo(hub, owner, name="weights", empty=True)
        return f"{name}/weights"
    finally:
        hub.close()


def test_a_database_outage_is_a_503_naming_the_database_and_the_server_recovers(
    proxied: tuple[Server, TcpProxy, str],
) -> None:
    server, proxy, repo = proxied
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert client.get(f"/api/models/{repo}").status_code == 200
        proxy.stop()
        for path in (f"/api/models/{repo}", "/api/health"):
            answer = client.get(path)
            assert answer.status_code == 503, (path, answer.status_code, answer.text)
            assert "database" in answer.json()["error"]
            assert "database" in answer.headers["X-Error-Message"]
        page = client.get(f"/{repo}", headers=HTML)
        assert page.status_code == 503, page.text[:500]
        assert "text/html" in page.headers["content-type"] and "database" in page.text
        assert server.process.poll() is None, "the server keeps running"

        proxy.start()
        assert _eventually_ok(client, f"/api/models/{repo}").json()["id"] == repo
        assert _eventually_ok(client, f"/{repo}", HTML).status_code == 200


def _eventually_ok(
    client: httpx.Client, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """The first request after the outage may still find a dropped pooled connection."""
    deadline = time.monotonic() + 60
    while True:
        answer = client.get(path, headers=headers)
        if answer.status_code == 200 or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text[:500]
            return answer
        assert answer.status_code == 503, answer.text[:500]
        time.sleep(0.2)
