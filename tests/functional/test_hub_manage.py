"""Repo management through the real `huggingface_hub` 2.x client against a live server, on
both storage stacks: settings (visibility, gated), move with the old name kept working,
delete with `missing_ok`, likes, safetensors metadata of files pushed with git LFS, and
request ids and actionable errors.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import User, unique
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.hfclient import in_process_client
from tests.support.stack import Server

LFS = "application/vnd.git-lfs+json"
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def hf(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """`hf(token)` is a client of the live server with its own cache (`token=False`: anonymous)."""
    return in_process_client(monkeypatch, tmp_path / "hf", server.url)


@pytest.fixture
def lfs(git: Git) -> Git:
    git("lfs", "install", "--skip-repo")
    return git


def _org(api: httpx.Client, admin: User, members: dict[str, str] | None = None) -> str:
    org = unique("org")
    assert api.post("/api/organizations", json={"name": org}, headers=admin.auth).status_code == 200
    for username, role in (members or {}).items():
        r = api.post(
            f"/api/organizations/{org}/members",
            json={"username": username, "role": role},
            headers=admin.auth,
        )
        assert r.status_code == 200, r.text
    return org


# --- update_repo_settings ---------------------------------------------------------------------


def test_update_repo_settings_visibility_and_gated(
    hf, api: httpx.Client, make_user, make_repo
) -> None:
    from huggingface_hub.errors import RepositoryNotFoundError

    alice = make_user("alice")
    repo = make_repo(alice, empty=False)
    client = hf(alice.token)
    assert client.model_info(repo).gated is False

    client.update_repo_settings(repo, gated="manual")
    assert client.model_info(repo).gated == "manual"
    assert [m.gated for m in client.list_models(author=alice.name)] == ["manual"]
    client.update_repo_settings(repo, private=True, gated="auto")
    info = client.model_info(repo)
    assert info.private is True and info.gated == "auto"
    with pytest.raises(RepositoryNotFoundError):
        hf().model_info(repo)
    client.update_repo_settings(repo, visibility="public", gated=False)
    info = client.model_info(repo)
    assert info.private is False and info.gated is False
    assert hf().model_info(repo).id == repo, "gated is stored, not enforced: still public"

    older = api.put(f"/api/models/{repo}/settings", json={"private": True}, headers=alice.auth)
    assert older.status_code == 200, "0.x clients send `private` and parse a JSON object"
    assert older.json() == {"private": True, "visibility": "private", "gated": False}
    for body, status in (({}, 400), ({"visibility": "protected"}, 400), ({"gated": "x"}, 422)):
        r = api.put(f"/api/models/{repo}/settings", json=body, headers=alice.auth)
        assert r.status_code == status, (body, r.text)

    dataset = make_repo(alice, repo_type="dataset", empty=False)
    client.update_repo_settings(dataset, repo_type="dataset", gated="auto")
    assert client.dataset_info(dataset).gated == "auto"
    with pytest.raises(RepositoryNotFoundError):
        client.update_repo_settings(f"{alice.name}/nothing-here", gated="auto")


def test_only_admins_change_settings(hf, api: httpx.Client, make_user, make_repo) -> None:
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    org = _org(api, alice, {carol.name: "write"})
    repo = make_repo(alice, organization=org, empty=False)
    with pytest.raises(HfHubHTTPError) as stranger:
        hf(bob.token).update_repo_settings(repo, gated="manual")
    assert stranger.value.response.status_code == 403, "readable, so not hidden, but refused"
    with pytest.raises(HfHubHTTPError) as writer:
        hf(carol.token).update_repo_settings(repo, gated="manual")
    assert writer.value.response.status_code == 403, "write is not admin"
    assert "administer" in str(writer.value)

    with pytest.raises(HfHubHTTPError) as read_only:
        hf(alice.read_token).update_repo_settings(repo, gated="manual")
    assert read_only.value.response.status_code == 403
    message = str(read_only.value)
    assert "read scope" in message and "token with write scope" in message, message
    assert hf(alice.token).model_info(repo).gated is False

    hf(alice.token).update_repo_settings(repo, private=True)
    with pytest.raises(RepositoryNotFoundError):
        hf(bob.token).update_repo_settings(repo, private=False)


# --- move_repo --------------------------------------------------------------------------------


def test_move_repo_keeps_the_old_name_working(
    hf, api: httpx.Client, server: Server, git: Git, tmp_path: Path, make_user, make_repo
) -> None:
    from huggingface_hub import hf_hub_download

    alice = make_user("alice")
    org = _org(api, alice)
    old = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"README.md": "# moved\n", "w.txt": "v1"})
    git("push", "-q", remote(server, old, alice), "main", cwd=src)
    new = f"{org}/{unique('renamed')}"

    hf(alice.token).move_repo(old, new)
    client = hf(alice.token)
    assert client.model_info(new).id == new
    assert client.model_info(old).id == new, "the client follows the Hub's 307"
    r = api.get(f"/api/models/{old}/revision/main", params={"blobs": "true"})
    assert r.status_code == 307
    assert r.headers["location"] == f"/api/models/{new}/revision/main?blobs=true"
    assert [b.name for b in client.list_repo_refs(old).branches] == ["main"]
    assert api.get(f"/{old}").status_code == 200, "the web page is served at the old name"

    local = hf_hub_download(old, "w.txt", endpoint=server.url, cache_dir=tmp_path / "cache")
    assert Path(local).read_text() == "v1", "/resolve at the old name serves the new repo"

    clone = tmp_path / "clone"
    git("clone", "-q", remote(server, old, alice), str(clone))
    assert (clone / "w.txt").read_text() == "v1"
    pushed = git.commit(clone, {"w.txt": "v2"}, "pushed to the old name")
    git("push", "-q", "origin", "main", cwd=clone)
    assert client.model_info(new).sha == pushed
    git("fetch", "-q", remote(server, old), cwd=src)
    assert git("rev-parse", "FETCH_HEAD", cwd=src).stdout.strip() == pushed

    batch = api.post(
        f"/{old}.git/info/lfs/objects/batch",
        content=json.dumps({"operation": "download", "objects": []}),
        headers={"Accept": LFS, "Content-Type": LFS, **alice.auth},
    )
    assert batch.status_code == 200, batch.text

    # Moved again: both old names lead to the repo (redirects name the repo, not a name).
    newer = f"{alice.name}/{unique('back')}"
    client.move_repo(new, newer)
    assert client.model_info(old).id == newer and client.model_info(new).id == newer

    # A new repo at an old name takes it back: the redirect ends there, not elsewhere.
    client.create_repo(old)
    assert client.model_info(old).id == old and client.model_info(old).sha != pushed
    assert client.model_info(new).id == newer


def test_move_repo_rules(hf, api: httpx.Client, make_user, make_repo) -> None:
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    alice, bob = make_user("alice"), make_user("bob")
    writable = _org(api, bob, {alice.name: "write"})
    adminable = _org(api, bob, {alice.name: "admin"})
    repo, taken = make_repo(alice), make_repo(alice)
    name = repo.split("/")[1]
    client = hf(alice.token)

    def refused(to: str, status: int, text: str) -> None:
        with pytest.raises(HfHubHTTPError) as exc:
            client.move_repo(repo, to)
        assert exc.value.response.status_code == status, (to, str(exc.value))
        assert text in str(exc.value), str(exc.value)

    refused(f"{writable}/{name}", 403, f"Only admins of {writable}")
    refused(f"{bob.name}/{name}", 404, "no organisation named")
    refused(taken, 409, "already")
    refused(f"{alice.name}/bad..name", 400, "invalid repo name")
    with pytest.raises(HfHubHTTPError) as read_only:
        hf(alice.read_token).move_repo(repo, f"{alice.name}/x")
    assert read_only.value.response.status_code == 403 and "write scope" in str(read_only.value)
    with pytest.raises(HfHubHTTPError) as not_admin:
        hf(bob.token).move_repo(repo, f"{bob.name}/{name}")
    assert not_admin.value.response.status_code == 403

    moved = f"{adminable}/{name}"
    client.move_repo(repo, moved)
    assert client.model_info(moved).id == moved
    upper = f"{adminable}/{name.upper()}"
    client.move_repo(moved, upper)
    assert client.model_info(moved).id == upper, "a change of case is a rename, no redirect"

    secret = make_repo(alice, private=True)
    hidden = f"{alice.name}/{unique('hidden')}"
    client.move_repo(secret, hidden)
    r = api.get(f"/api/models/{secret}", headers=bob.auth)
    assert r.status_code == 404 and r.headers["X-Error-Code"] == "RepoNotFound"
    assert hidden.split("/")[1] not in r.text, "an old name never tells the new one"
    with pytest.raises(RepositoryNotFoundError):
        hf(bob.token).move_repo(secret, f"{bob.name}/stolen")


# --- delete_repo ------------------------------------------------------------------------------


def test_delete_missing_repo_is_repo_not_found(hf, api: httpx.Client, make_user, make_repo) -> None:
    from huggingface_hub.errors import RepositoryNotFoundError

    alice = make_user("alice")
    client = hf(alice.token)
    missing = f"{alice.name}/{unique('never')}"
    r = api.request("DELETE", "/api/repos/delete", json={"name": missing}, headers=alice.auth)
    assert r.status_code == 404 and r.headers["X-Error-Code"] == "RepoNotFound"
    with pytest.raises(RepositoryNotFoundError):
        client.delete_repo(missing)
    client.delete_repo(missing, missing_ok=True)

    # A delete names a repo exactly: an old name is missing, not the moved repo.
    repo = make_repo(alice)
    moved = f"{alice.name}/{unique('moved')}"
    client.move_repo(repo, moved)
    client.delete_repo(repo, missing_ok=True)
    assert client.model_info(moved).id == moved
    client.delete_repo(moved)
    with pytest.raises(RepositoryNotFoundError):
        client.model_info(repo)


# --- likes ------------------------------------------------------------------------------------


def test_likes(hf, api: httpx.Client, make_user, make_repo) -> None:
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    alice, bob = make_user("alice"), make_user("bob")
    model, dataset = make_repo(alice), make_repo(alice, repo_type="dataset")
    secret = make_repo(alice, private=True)
    # huggingface_hub 2.x has no `like()` ("not possible from a script"); the Hub's call is this.
    for path in (f"/api/models/{model}/like", f"/api/datasets/{dataset}/like"):
        for _ in range(2):  # idempotent
            r = api.post(path, headers=bob.auth)
            assert r.status_code == 200 and r.json() == {"liked": True, "likes": 1}, r.text
    assert api.post(f"/api/models/{secret}/like", headers=bob.auth).status_code == 404
    api.post(f"/api/models/{secret}/like", headers=alice.auth)
    assert api.post(f"/api/models/{model}/like").status_code == 403, "likes need a login"

    client = hf(bob.token)
    likes = client.list_liked_repos(bob.name)
    assert likes.user == bob.name and likes.models == [model] and likes.datasets == [dataset]
    assert likes.total == 2
    assert client.list_liked_repos().models == [model], "no user: the caller (whoami)"
    assert [u.username for u in client.list_repo_likers(model)] == [bob.name]
    assert [u.username for u in hf().list_repo_likers(dataset, repo_type="dataset")] == [bob.name]
    assert client.model_info(model).likes == 1

    assert hf(alice.token).list_liked_repos(alice.name).models == [secret]
    assert hf().list_liked_repos(alice.name).models == [], "private likes stay private"
    with pytest.raises(RepositoryNotFoundError):
        list(hf().list_repo_likers(secret))

    client.unlike(model)
    client.unlike(model)  # idempotent
    client.unlike(dataset, repo_type="dataset")
    assert client.list_liked_repos(bob.name).total == 0
    assert list(client.list_repo_likers(model)) == []
    assert client.model_info(model).likes == 0
    with pytest.raises(HfHubHTTPError) as nobody:
        client.list_liked_repos(unique("ghost"))
    assert nobody.value.response.status_code == 404


def test_likers_pages(hub, api: httpx.Client, make_user, make_repo) -> None:
    """More likers than a page: an absolute `Link: rel="next"`, as the client's paginate reads."""
    from repohub.api.repos import PAGE
    from repohub.db.models import Account
    from repohub.db.social import Like
    from repohub.repos.service import RepoKey, find_repo

    alice = make_user("alice")
    repo = make_repo(alice)
    prefix = unique("fan")
    with hub.sessions.begin() as session:
        found = find_repo(session, RepoKey("model", *repo.split("/")))
        assert found is not None
        fans = [
            Account(kind="user", name=f"{prefix}x{i}", name_lower=f"{prefix}x{i}")
            for i in range(PAGE + 3)
        ]
        session.add_all(fans)
        session.flush()
        session.add_all(Like(repo_id=found.id, user_id=fan.id) for fan in fans)
        expected = sorted(fan.name for fan in fans)
    first = api.get(f"/api/models/{repo}/likers")
    assert len(first.json()) == PAGE
    link = re.fullmatch(r'<(http[^>]+)>; rel="next"', first.headers["link"])
    assert link is not None
    second = httpx.get(link.group(1))
    assert len(second.json()) == 3 and "link" not in second.headers
    names = [u["user"] for u in first.json() + second.json()]
    assert sorted(names) == expected


# --- get_safetensors_metadata -----------------------------------------------------------------


def _safetensors(tensors: dict[str, tuple[str, list[int]]], metadata: dict[str, str]) -> bytes:
    """A valid safetensors file: u64 header length, JSON header, zeroed tensor bytes."""
    width = {"F32": 4, "F16": 2, "I64": 8}
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = width[dtype]
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


def test_safetensors_metadata_of_files_pushed_with_git_lfs(
    hf, server: Server, lfs: Git, tmp_path: Path, make_user, make_repo
) -> None:
    from huggingface_hub.errors import NotASafetensorsRepoError

    alice = make_user("alice")
    single, sharded = make_repo(alice), make_repo(alice)
    weights = {"embed.weight": ("F32", [1000, 64]), "head.bias": ("F16", [7])}
    many = {f"layers.{i}.weight": ("F16", [4, 4]) for i in range(2000)}  # header > 100 kB

    def push(repo: str, files: dict[str, bytes], folder: str) -> None:
        path = tmp_path / folder
        path.mkdir()
        lfs("init", "-q", "-b", "main", str(path))
        lfs("lfs", "track", "*.safetensors", cwd=path)
        for name, data in files.items():
            (path / name).write_bytes(data)
        lfs("add", "-A", cwd=path)
        lfs("commit", "-q", "-m", "weights", cwd=path)
        lfs("push", "-q", remote(server, repo, alice), "main", cwd=path)
        listed = lfs("lfs", "ls-files", cwd=path).stdout
        assert all(name in listed for name in files if name.endswith(".safetensors"))

    push(single, {"model.safetensors": _safetensors(weights, {"format": "pt"})}, "single")
    index = {
        "metadata": {"total_size": 1},
        "weight_map": {
            **{name: "model-00001-of-00002.safetensors" for name in weights},
            **{name: "model-00002-of-00002.safetensors" for name in many},
        },
    }
    push(
        sharded,
        {
            "model-00001-of-00002.safetensors": _safetensors(weights, {"format": "pt"}),
            "model-00002-of-00002.safetensors": _safetensors(many, {}),
            "model.safetensors.index.json": json.dumps(index).encode(),
        },
        "sharded",
    )

    client = hf(alice.token)
    meta = client.get_safetensors_metadata(single)
    assert not meta.sharded and set(meta.weight_map) == set(weights)
    tensors = meta.files_metadata["model.safetensors"].tensors
    assert tensors["embed.weight"].shape == [1000, 64] and tensors["head.bias"].dtype == "F16"
    assert meta.parameter_count == {"F32": 64000, "F16": 7}

    meta = client.get_safetensors_metadata(sharded)
    assert meta.sharded and meta.metadata == {"total_size": 1}
    second = meta.files_metadata["model-00002-of-00002.safetensors"]
    assert len(second.tensors) == 2000, "a header over 100 kB takes the second ranged GET"
    assert meta.parameter_count == {"F32": 64000, "F16": 7 + 2000 * 16}

    with pytest.raises(NotASafetensorsRepoError):
        client.get_safetensors_metadata(make_repo(alice, empty=False))


# --- request ids and errors -------------------------------------------------------------------


def test_request_ids(hf, api: httpx.Client, server: Server, make_user) -> None:
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    alice = make_user("alice")
    mine = f"rh-{unique('req')}.1_x"
    r = api.get(f"/api/models/{alice.name}/none", headers={"X-Request-Id": mine})
    assert r.status_code == 404 and r.headers["X-Request-Id"] == mine
    for bad in ("has space", "x" * 201, "semi;colon", ""):
        got = api.get("/api/health", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert HEX32.fullmatch(got), (bad, got)
    assert (
        api.get("/api/health").headers["X-Request-Id"]
        != api.get("/api/health").headers["X-Request-Id"]
    )
    assert "X-Request-Id" in api.get("/api/models/a%00b").headers, "a middleware's own answer"
    assert "X-Request-Id" in api.get("/no/such/route/at/all/here").headers

    with pytest.raises(RepositoryNotFoundError) as missing:
        hf(alice.token).model_info(f"{alice.name}/{unique('none')}")
    request_id = missing.value.response.headers["X-Request-Id"]
    assert f"(Request ID: {request_id})" in str(missing.value), "the client prints it"
    with pytest.raises(HfHubHTTPError) as read_only:
        hf(alice.read_token).create_repo(f"{alice.name}/{unique('ro')}")
    assert read_only.value.response.status_code == 403
    assert "This token can only read: create a token with write scope" in str(read_only.value)

    log = server.log.read_text()
    assert re.search(rf"request_id={re.escape(mine)} GET /api/models/{alice.name}/none 404 ", log)
    assert f"request_id={request_id} GET " in log
