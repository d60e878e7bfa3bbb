"""The Hub-shaped repo API, driven over HTTP and by the real `huggingface_hub` client."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from repohub.api.repos import PAGE
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_create_conflict_delete(api: httpx.Client, server: Server, make_user) -> None:
    alice = make_user("alice")
    body = {"name": "demo", "type": "model", "visibility": "private"}
    r = api.post("/api/repos/create", json=body, headers=alice.auth)
    assert r.status_code == 200
    assert r.json()["url"] == f"{server.url}/{alice.name}/demo"
    again = api.post("/api/repos/create", json={**body, "name": "DEMO"}, headers=alice.auth)
    assert again.status_code == 409
    assert again.json()["url"].endswith(f"/{alice.name}/demo"), "names are case-insensitive"

    info = api.get(f"/api/models/{alice.name}/demo", headers=alice.auth).json()
    assert info["private"] is True and re.fullmatch("[0-9a-f]{40}", info["sha"])
    assert DATE.match(info["createdAt"]) and DATE.match(info["lastModified"])
    assert {s["rfilename"] for s in info["siblings"]} == {".gitattributes", "README.md"}

    dataset = api.post(
        "/api/repos/create", json={"name": "demo", "type": "dataset"}, headers=alice.auth
    )
    assert dataset.status_code == 200, "models and datasets have separate namespaces"
    assert dataset.json()["url"] == f"{server.url}/datasets/{alice.name}/demo"

    gone = api.request(
        "DELETE",
        "/api/repos/delete",
        json={"name": "demo", "organization": alice.name},
        headers=alice.auth,
    )
    assert gone.status_code == 200
    r = api.get(f"/api/models/{alice.name}/demo", headers=alice.auth)
    assert r.status_code == 404 and r.headers["X-Error-Code"] == "RepoNotFound"
    assert api.get(f"/api/datasets/{alice.name}/demo").status_code == 200


def test_create_needs_write_credentials(api: httpx.Client, make_user) -> None:
    alice = make_user("alice")
    assert api.post("/api/repos/create", json={"name": "x"}).status_code == 403
    read_only = {"Authorization": f"Bearer {alice.read_token}"}
    assert api.post("/api/repos/create", json={"name": "x"}, headers=read_only).status_code == 403
    bad = {"Authorization": "Bearer rh_not-a-token"}
    r = api.post("/api/repos/create", json={"name": "x"}, headers=bad)
    assert r.status_code == 401 and "Invalid credentials" in r.json()["error"]


def test_listing_search_sort_and_pages(api: httpx.Client, make_user, make_repo) -> None:
    alice = make_user("lister")
    names = [make_repo(alice) for _ in range(3)]
    listed = api.get("/api/models", params={"author": alice.name}).json()
    assert [m["id"] for m in listed] == names
    newest = api.get("/api/models", params={"author": alice.name, "sort": "createdAt"}).json()
    assert [m["id"] for m in newest] == names[::-1]
    found = api.get("/api/models", params={"search": names[1].split("/")[1]}).json()
    assert [m["id"] for m in found] == [names[1]]
    first = api.get("/api/models", params={"author": alice.name, "limit": 2})
    assert len(first.json()) == 2 and "Link" not in first.headers
    assert api.get("/api/models", params={"sort": "bogus"}).status_code == 400


def test_pagination_follows_absolute_link(api: httpx.Client, hub, hf, make_user) -> None:
    from repohub.auth.identity import Identity
    from repohub.repos.service import create_repo

    alice = make_user("pager")
    with hub.sessions() as s:
        from repohub.auth.accounts import get_account

        me = get_account(s, alice.name)
        identity = Identity(me.id, me.name, False, "write")
    total = PAGE + 5
    for i in range(total):
        create_repo(hub, identity, name=f"m{i:03d}", empty=True)
    first = api.get("/api/models", params={"author": alice.name})
    assert len(first.json()) == PAGE
    link = first.headers["Link"]
    assert link.startswith(f"<{api.base_url}".rstrip("/")) and link.endswith('rel="next"')
    second = api.get(link[1 : link.index(">")])
    assert len(second.json()) == 5 and "Link" not in second.headers
    listed = [m.id for m in hf().list_models(author=alice.name)]
    assert listed == [f"{alice.name}/m{i:03d}" for i in range(total)]


def test_refs_shape(api: httpx.Client, make_user, make_repo) -> None:
    alice = make_user("alice")
    repo = make_repo(alice, empty=False)
    refs = api.get(f"/api/models/{repo}/refs").json()
    assert set(refs) == {"branches", "tags", "converts"}
    assert refs["branches"][0]["name"] == "main" and refs["branches"][0]["ref"] == "refs/heads/main"
    assert "pullRequests" in api.get(f"/api/models/{repo}/refs", params={"include_prs": 1}).json()


def test_fork_costs_no_copy_and_is_independent(
    server: Server, api: httpx.Client, hub, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"w.txt": "weights v1"})
    git("push", remote(server, repo, alice), "main", cwd=src)
    before = sum(1 for _ in hub.blobs.list("git/"))

    r = api.post(f"/api/models/{repo}/fork", json={}, headers=bob.auth)
    assert r.status_code == 200, r.text
    fork = f"{bob.name}/{repo.split('/')[1]}"
    assert r.json()["url"].endswith(fork)
    assert sum(1 for _ in hub.blobs.list("git/")) == before, "a fork stores no objects"
    assert api.get(f"/api/models/{fork}").json()["forkedFrom"] == repo
    assert [f["id"] for f in api.get(f"/api/models/{repo}/forks").json()] == [fork]
    assert api.post(f"/api/models/{repo}/fork", json={}, headers=bob.auth).status_code == 409

    named = api.post(f"/api/models/{repo}/fork", json={"name": "renamed"}, headers=bob.auth)
    assert named.status_code == 200 and named.json()["name"] == f"{bob.name}/renamed"

    clone = tmp_path / "fork"
    git("clone", "-q", remote(server, fork, bob), str(clone))
    git.commit(clone, {"w.txt": "weights v2"}, "bob's change")
    git("push", "-q", "origin", "main", cwd=clone)
    parent_main = api.get(f"/api/models/{repo}").json()["sha"]
    assert parent_main == git("rev-parse", "HEAD", cwd=src).stdout.strip(), (
        "the parent is untouched"
    )
    assert (
        api.get(f"/api/models/{fork}").json()["sha"]
        == git("rev-parse", "HEAD", cwd=clone).stdout.strip()
    )


def test_fork_of_private_repo_is_private(api: httpx.Client, make_user, make_repo) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    repo = make_repo(alice, private=True, empty=False)
    assert api.post(f"/api/models/{repo}/fork", json={}, headers=bob.auth).status_code == 404
    org = f"org{alice.name}"
    api.post("/api/organizations", json={"name": org}, headers=alice.auth)
    api.post(
        f"/api/organizations/{org}/members",
        json={"username": bob.name, "role": "read"},
        headers=alice.auth,
    )
    org_repo = make_repo(alice, private=True, empty=False, organization=org)
    r = api.post(f"/api/models/{org_repo}/fork", json={}, headers=bob.auth)
    assert r.status_code == 200
    fork = r.json()["name"]
    assert api.get(f"/api/models/{fork}", headers=bob.auth).json()["private"] is True
    assert api.get(f"/api/models/{fork}").status_code == 404


def test_tokens_api(api: httpx.Client, make_user) -> None:
    alice = make_user("alice")
    created = api.post("/api/tokens", json={"name": "laptop", "scope": "read"}, headers=alice.auth)
    assert created.status_code == 201
    token = created.json()["token"]
    who = api.get("/api/whoami-v2", headers={"Authorization": f"Bearer {token}"}).json()
    assert who["name"] == alice.name and who["auth"]["accessToken"]["role"] == "read"
    listed = api.get("/api/tokens", headers=alice.auth).json()
    assert "token" not in listed[0], "a token is shown once"
    laptop = next(t for t in listed if t["name"] == "laptop")
    read_headers = {"Authorization": f"Bearer {token}"}
    assert api.post("/api/tokens", json={"scope": "write"}, headers=read_headers).status_code == 403
    assert api.delete(f"/api/tokens/{laptop['id']}", headers=alice.auth).json()["revoked"] is True
    assert api.get("/api/whoami-v2", headers=read_headers).status_code == 401


def test_openapi_docs(api: httpx.Client) -> None:
    assert api.get("/docs").status_code == 200
    assert "/api/repos/create" in api.get("/openapi.json").json()["paths"]


@pytest.fixture
def hf(server: Server, tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from huggingface_hub import HfApi

    return lambda token=None: HfApi(endpoint=server.url, token=token)


def test_huggingface_hub_client(hf, make_user) -> None:
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    alice = make_user("alice")
    client = hf(alice.token)
    assert client.whoami()["name"] == alice.name
    url = client.create_repo(f"{alice.name}/hubby")
    assert str(url).endswith(f"/{alice.name}/hubby")
    client.create_repo(f"{alice.name}/hubby", exist_ok=True)
    info = client.model_info(f"{alice.name}/hubby")
    assert info.id == f"{alice.name}/hubby" and len(info.sha) == 40
    assert [m.id for m in client.list_models(author=alice.name)] == [f"{alice.name}/hubby"]
    refs = client.list_repo_refs(f"{alice.name}/hubby")
    assert [b.name for b in refs.branches] == ["main"]
    private = client.create_repo(f"{alice.name}/secret", private=True, repo_type="dataset")
    assert "datasets/" in str(private)
    with pytest.raises(RepositoryNotFoundError):
        hf().dataset_info(f"{alice.name}/secret")
    with pytest.raises(RevisionNotFoundError):
        client.model_info(f"{alice.name}/hubby", revision="nope")
    client.delete_repo(f"{alice.name}/hubby")
    client.delete_repo(f"{alice.name}/hubby", missing_ok=True)
    with pytest.raises(RepositoryNotFoundError):
        client.model_info(f"{alice.name}/hubby")


def test_short_sha_revisions(
    server: Server, api: httpx.Client, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"a.txt": "1"})
    first = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    git.commit(src, {"a.txt": "2"}, "second")
    git("push", remote(server, repo, alice), "main", cwd=src)
    info = api.get(f"/api/models/{repo}/revision/{first[:8]}").json()
    assert info["sha"] == first, "an old commit, not a ref tip, by its short id"
    assert api.get(f"/api/models/{repo}/revision/{first[:6]}").status_code == 404
