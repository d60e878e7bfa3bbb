"""Private means invisible: every entry point answers a private repo like a missing one."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from repohub.auth.accounts import get_account
from repohub.auth.tokens import list_tokens, revoke_token
from tests.conftest import User
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server


@pytest.fixture
def private_repo(server: Server, make_user, make_repo, git: Git, tmp_path: Path):  # type: ignore[no-untyped-def]
    owner = make_user("owner")
    repo = make_repo(owner, private=True)
    src = git.init_repo(tmp_path / "src", {"secret.txt": "weights"})
    git("push", remote(server, repo, owner), "main", cwd=src)
    return owner, repo


def _revoked(hub, user: User) -> str:  # type: ignore[no-untyped-def]
    with hub.sessions.begin() as s:
        account = get_account(s, user.name)
        token = next(t for t in list_tokens(s, account) if t.scope == "write")
        revoke_token(s, account, token.id)
    return user.token


def _callers(make_user, hub) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    other = make_user("other")
    revoked_user = make_user("revoked")
    return {
        "anonymous": {},
        "other user": {"Authorization": f"Bearer {other.token}"},
        "other user's read token": {"Authorization": f"Bearer {other.read_token}"},
        "revoked token": {"Authorization": f"Bearer {_revoked(hub, revoked_user)}"},
    }


def test_api_entry_points_hide_private_repo(
    api: httpx.Client, hub, make_user, private_repo
) -> None:
    owner, repo = private_repo
    missing = f"{owner.name}/does-not-exist"
    for who, headers in _callers(make_user, hub).items():
        for target in (repo, missing):
            for path in ("", "/refs", "/forks", "/revision/main"):
                r = api.get(f"/api/models/{target}{path}", headers=headers)
                if who == "revoked token":
                    assert r.status_code == 401, (who, path, r.status_code)
                    continue
                assert r.status_code == 404, (who, target, path, r.status_code)
                assert r.headers["X-Error-Code"] == "RepoNotFound"
            r = api.post(f"/api/models/{target}/fork", json={}, headers=headers)
            assert r.status_code in (401, 404), (who, r.status_code)
        if who == "revoked token":
            continue
        listing = api.get("/api/models", params={"author": owner.name}, headers=headers).json()
        assert listing == []
        search = api.get("/api/models", params={"search": repo.split("/")[1]}, headers=headers)
        assert search.json() == []
        name = repo.split("/")[1]
        body = {"name": name, "organization": owner.name}
        r = api.request("DELETE", "/api/repos/delete", json=body, headers=headers)
        assert r.status_code in (401, 403, 404) and r.status_code != 403


def test_owner_sees_private_repo(api: httpx.Client, private_repo) -> None:
    owner, repo = private_repo
    assert api.get(f"/api/models/{repo}", headers=owner.auth).json()["private"] is True
    read_only = {"Authorization": f"Bearer {owner.read_token}"}
    assert api.get(f"/api/models/{repo}", headers=read_only).status_code == 200
    listing = api.get("/api/models", params={"author": owner.name}, headers=owner.auth).json()
    assert [m["id"] for m in listing] == [repo]


def test_git_hides_private_repo(
    server: Server, hub, make_user, private_repo, git: Git, tmp_path: Path
) -> None:
    owner, repo = private_repo
    other = make_user("other")
    host = server.url.removeprefix("http://")
    missing = f"{owner.name}/nope"

    anon_private = git("clone", remote(server, repo), str(tmp_path / "a"), check=False)
    anon_missing = git("clone", remote(server, missing), str(tmp_path / "b"), check=False)
    assert anon_private.returncode != 0 and anon_missing.returncode != 0
    with httpx.Client() as client:
        for target in (repo, missing):
            r = client.get(f"{server.url}/{target}/info/refs?service=git-upload-pack")
            assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
        for token in (other.token, other.read_token):
            for target in (repo, missing):
                r = client.get(
                    f"{server.url}/{target}/info/refs?service=git-upload-pack",
                    auth=(other.name, token),
                )
                assert r.status_code == 404, (target, r.status_code)
        revoked = _revoked(hub, make_user("revoked"))
        r = client.get(
            f"{server.url}/{repo}/info/refs?service=git-upload-pack", auth=("x", revoked)
        )
        assert r.status_code == 401

    for token in (other.token, other.read_token):
        result = git(
            "clone",
            f"http://{other.name}:{token}@{host}/{repo}",
            str(tmp_path / token[-6:]),
            check=False,
        )
        assert result.returncode != 0 and "not found" in result.stderr.lower()

    clone = tmp_path / "mine"
    git("clone", "-q", remote(server, repo, owner), str(clone))
    assert (clone / "secret.txt").read_text() == "weights"


def test_read_token_cannot_push(server: Server, private_repo, git: Git, tmp_path: Path) -> None:
    owner, repo = private_repo
    clone = tmp_path / "clone"
    git("clone", "-q", remote(server, repo, owner, owner.read_token), str(clone))
    git.commit(clone, {"new.txt": "x"}, "try")
    result = git("push", "origin", "main", cwd=clone, check=False)
    assert result.returncode != 0
    assert "read scope" in result.stderr


def test_org_roles(
    server: Server, api: httpx.Client, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    admin, reader, writer = make_user("admin"), make_user("reader"), make_user("writer")
    org = f"org{admin.name}"
    assert api.post("/api/organizations", json={"name": org}, headers=admin.auth).status_code == 200
    for user, role in ((reader, "read"), (writer, "write")):
        r = api.post(
            f"/api/organizations/{org}/members",
            json={"username": user.name, "role": role},
            headers=admin.auth,
        )
        assert r.status_code == 200, r.text
    r = api.post(
        f"/api/organizations/{org}/members",
        json={"username": reader.name, "role": "admin"},
        headers=reader.auth,
    )
    assert r.status_code == 403
    repo = make_repo(admin, private=True, organization=org)
    src = git.init_repo(tmp_path / "src", {"a": "a"})

    refused = git("push", remote(server, repo, reader), "main", cwd=src, check=False)
    assert refused.returncode != 0
    git("push", remote(server, repo, writer), "main", cwd=src)
    clone = tmp_path / "reader-clone"
    git("clone", "-q", remote(server, repo, reader), str(clone))
    assert (clone / "a").read_text() == "a"
    whoami = api.get("/api/whoami-v2", headers=reader.auth).json()
    assert [o["name"] for o in whoami["orgs"]] == [org]


def test_site_admin_sees_every_repo(api: httpx.Client, make_user, private_repo) -> None:
    _owner, repo = private_repo
    root = make_user("root", admin=True)
    assert api.get(f"/api/models/{repo}", headers=root.auth).status_code == 200
