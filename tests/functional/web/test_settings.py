"""Accounts and repo settings in the web: sign up, tokens, new repos, likes, forks, and what
a repo's admins may change."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.conftest import unique
from tests.functional.test_git_transfer import remote
from tests.functional.web.conftest import WebClient
from tests.support.gitcli import Git
from tests.support.stack import Server


def test_sign_up_then_tokens_are_shown_once_and_revocable(
    web: WebClient, api: httpx.Client
) -> None:
    name = unique("newbie")
    web.join(name)
    assert f'href="/{name}" class="me"' in web.get("/").text
    taken = web.post(
        "/join", {"username": name, "email": "x@example.com", "password": "whatever-long"}
    )
    assert taken.status_code == 409 and "already taken" in taken.text

    created = web.post("/settings/tokens", {"name": "laptop", "scope": "write"})
    token = re.search(r'<code id="new-token">(rh_[^<]+)</code>', created.text).group(1)  # type: ignore[union-attr]
    who = api.get("/api/whoami-v2", headers={"Authorization": f"Bearer {token}"})
    assert who.status_code == 200 and who.json()["name"] == name
    listing = web.get("/settings/tokens").text
    assert "laptop" in listing and token not in listing

    token_id = re.search(r'action="/settings/tokens/(\d+)/revoke"', listing).group(1)  # type: ignore[union-attr]
    assert web.post(f"/settings/tokens/{token_id}/revoke", {}).status_code == 303
    assert (
        api.get("/api/whoami-v2", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )


def test_profile_settings(web: WebClient, make_user) -> None:
    alice = make_user("alice")
    web.login(alice.name)
    saved = web.post("/settings/profile", {"fullname": "Alice Liddell", "email": "a@example.org"})
    assert saved.status_code == 200 and "Saved" in saved.text
    assert "Alice Liddell" in web.get(f"/{alice.name}").text
    bad = web.post("/settings/profile", {"fullname": "A", "email": "not-an-email"})
    assert bad.status_code == 400


def test_new_repo_from_the_web(web: WebClient, make_user) -> None:
    alice = make_user("alice")
    assert web.get("/new").headers["location"] == "/login?next=/new"
    web.login(alice.name)
    r = web.post("/new", {"owner": alice.name, "name": "my-model", "repo_type": "model"})
    assert r.status_code == 303 and r.headers["location"] == f"/{alice.name}/my-model"
    page = web.get(f"/{alice.name}/my-model").text
    assert "README.md" in page and "Model card" in page
    again = web.post("/new", {"owner": alice.name, "name": "my-model", "repo_type": "model"})
    assert again.status_code == 409
    bad = web.post("/new", {"owner": alice.name, "name": "../etc", "repo_type": "model"})
    assert bad.status_code == 400
    ds = web.post(
        "/new",
        {"owner": alice.name, "name": "data", "repo_type": "dataset", "visibility": "private"},
    )
    assert ds.headers["location"] == f"/datasets/{alice.name}/data"
    assert WebClient(str(web.http.base_url)).get(f"/datasets/{alice.name}/data").status_code == 404


def test_like_and_fork_into_an_organisation(
    web: WebClient, api: httpx.Client, make_user, make_repo
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    parent = make_repo(alice, empty=False)
    org = f"org{bob.name}"
    api.post("/api/organizations", json={"name": org}, headers=bob.auth)
    web.login(bob.name)

    page = web.get(f"/{parent}").text
    assert f'<option value="{org}">' in page  # the fork menu asks where to
    web.post(f"/{parent}/like", {})
    assert (
        "Liked" in web.get(f"/{parent}").text
        and '<span class="count">1</span>' in web.get(f"/{parent}").text
    )
    web.post(f"/{parent}/like", {})
    assert "Liked" not in web.get(f"/{parent}").text

    forked = web.post(f"/{parent}/fork", {"namespace": org, "new_name": "copy"})
    assert forked.status_code == 303 and forked.headers["location"] == f"/{org}/copy"
    fork_page = web.get(f"/{org}/copy").text
    assert f'forked from <a href="/{parent}">{parent}</a>' in fork_page
    assert 'Fork <span class="count">1</span>' in web.get(f"/{parent}").text
    twice = web.post(f"/{parent}/fork", {"namespace": org, "new_name": "copy"})
    assert twice.status_code == 409 and "already" in twice.text


def _settings(web: WebClient, repo: str, action: str, **data: str) -> httpx.Response:
    return web.post(f"/{repo}/settings/{action}", data)


def test_repo_settings(
    server: Server,
    web: WebClient,
    api: httpx.Client,
    make_user,
    make_repo,
    git: Git,
    tmp_path: Path,
) -> None:
    alice, carol = make_user("alice"), make_user("carol")
    repo = make_repo(alice, private=True)
    src = git.init_repo(tmp_path / "src", {"README.md": "# main card\n"})
    git("checkout", "-q", "-b", "next", cwd=src)
    git.commit(src, {"README.md": "# next card\n"}, "next")
    git("push", remote(server, repo, alice), "main", "next", cwd=src)
    web.login(alice.name)
    assert "Settings</a>" in web.get(f"/{repo}").text

    r = _settings(web, repo, "description", value="Reads <b>tea</b> leaves")
    assert r.status_code == 200 and "Description saved" in r.text
    assert "Reads &lt;b&gt;tea&lt;/b&gt; leaves" in web.get(f"/{repo}").text

    r = _settings(web, repo, "default-branch", value="next")
    assert "<h1>next card</h1>" in web.get(f"/{repo}").text
    assert _settings(web, repo, "default-branch", value="nope").status_code == 400

    anonymous = WebClient(server.url)
    assert anonymous.get(f"/{repo}").status_code == 404
    assert _settings(web, repo, "visibility", value="public").status_code == 200
    assert anonymous.get(f"/{repo}").status_code == 200
    _settings(web, repo, "visibility", value="private")
    assert anonymous.get(f"/{repo}").status_code == 404

    carols = WebClient(server.url)
    carols.login(carol.name)
    assert carols.get(f"/{repo}").status_code == 404
    _settings(web, repo, "collaborators", username=carol.name, role="write")
    assert carols.get(f"/{repo}").status_code == 200
    assert carols.get(f"/{repo}/settings").status_code == 403
    assert (
        _settings(web, repo, "collaborators", username="ghost-user", role="read").status_code == 404
    )
    _settings(web, repo, "collaborators", username=carol.name, remove="1")
    assert carols.get(f"/{repo}").status_code == 404

    org = f"org{alice.name}"
    api.post("/api/organizations", json={"name": org}, headers=alice.auth)
    moved = _settings(web, repo, "transfer", new_owner=org)
    new_name = f"{org}/{repo.split('/')[1]}"
    assert moved.status_code == 303 and moved.headers["location"] == f"/{new_name}"
    assert web.get(f"/{new_name}").status_code == 200
    old_name = web.get(f"/{repo}")  # as on the Hub, the old name keeps serving the moved repo
    assert old_name.status_code == 200 and new_name in old_name.text
    refused = _settings(web, new_name, "transfer", new_owner=carol.name)  # not alice's to fill
    assert refused.status_code == 404 and "no organisation named" in refused.text
    assert web.get(f"/{new_name}").status_code == 200

    wrong = _settings(web, new_name, "delete", confirm="not-the-name")
    assert wrong.status_code == 400 and web.get(f"/{new_name}").status_code == 200
    gone = _settings(web, new_name, "delete", confirm=new_name)
    assert gone.status_code == 303 and web.get(f"/{new_name}").status_code == 404
    anonymous.close()
    carols.close()


def test_visibility_stays_uniform_in_a_fork_network(
    web: WebClient, make_user, make_repo, api: httpx.Client
) -> None:
    """A network shares objects and resolves commit ids across its repos, so a private repo
    beside a public fork would leak through the fork: the change is refused."""
    alice, bob = make_user("alice"), make_user("bob")
    repo = make_repo(alice, empty=False)
    fork = api.post(f"/api/models/{repo}/fork", json={}, headers=bob.auth)
    assert fork.status_code == 200, fork.text
    web.login(alice.name)
    r = _settings(web, repo, "visibility", value="private")
    assert r.status_code == 400 and "fork network" in r.text
    assert WebClient(str(web.http.base_url)).get(f"/{repo}").status_code == 200


def test_download_counter_shows_recorded_downloads(
    web: WebClient, api: httpx.Client, hub, make_user, make_repo
) -> None:  # type: ignore[no-untyped-def]
    from repohub.repos.settings import record_download

    alice = make_user("alice")
    repo = make_repo(alice, empty=False)
    repo_id = int(api.get(f"/api/models/{repo}").json()["_id"])
    for _ in range(3):
        record_download(hub, repo_id)
    assert "↓ 3 downloads" in web.get(f"/{repo}").text
    assert api.get(f"/api/models/{repo}").json()["downloads"] == 3
