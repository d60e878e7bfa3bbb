"""Git LFS with the real `git lfs` client: transfers, deduplication, refusals, locks."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest

from repohub.repos.context import Hub
from tests.conftest import User
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server, Stack, running_server

LFS = "application/vnd.git-lfs+json"
MB = 1024 * 1024


@pytest.fixture
def lfs(git: Git) -> Git:
    git("lfs", "install", "--skip-repo")
    return git


def _random_file(path: Path, size: int) -> str:
    """Write `size` random bytes in 8 MiB pieces; return their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 * MB))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 * MB):
            digest.update(chunk)
    return digest.hexdigest()


def _lfs_repo(lfs: Git, path: Path, files: dict[str, int]) -> dict[str, str]:
    path.mkdir(parents=True)
    lfs("init", "-q", "-b", "main", str(path))
    lfs("lfs", "track", "*.bin", "*.safetensors", cwd=path)
    sums = {name: _random_file(path / name, size) for name, size in files.items()}
    (path / "config.json").write_text('{"layers": 2}')
    lfs("add", "-A", cwd=path)
    lfs("commit", "-q", "-m", "weights", cwd=path)
    return sums


def _batch(
    api: httpx.Client,
    repo: str,
    user: User | None,
    operation: str,
    objects: list[dict],
    ua: str = "git-lfs/3.3.0",
) -> httpx.Response:
    headers = {"Accept": LFS, "Content-Type": LFS, "User-Agent": ua}
    if user:
        headers["Authorization"] = f"Bearer {user.token}"
    body = {
        "operation": operation,
        "transfers": ["basic"],
        "objects": objects,
        "hash_algo": "sha256",
    }
    return api.post(
        f"/{repo}.git/info/lfs/objects/batch", content=json.dumps(body), headers=headers
    )


def _hub_lfs_bytes(hub: Hub) -> tuple[int, int]:
    from repohub.repos.lfs import hub_stored_bytes

    with hub.sessions() as s:
        return hub_stored_bytes(s)


def test_push_and_clone_weights(
    server: Server, api: httpx.Client, hub: Hub, make_user, make_repo, lfs: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    sums = _lfs_repo(
        lfs,
        tmp_path / "src",
        {"big.bin": 200 * MB + 123, "small.safetensors": 3 * MB, "tiny.bin": 10},
    )
    push = lfs("push", remote(server, repo, alice), "main", cwd=tmp_path / "src", timeout=900)
    assert push.returncode == 0

    clone = tmp_path / "clone"
    lfs("clone", "-q", remote(server, repo), str(clone), timeout=900)
    for name, digest in sums.items():
        assert _sha256(clone / name) == digest, name
    assert lfs("lfs", "fsck", cwd=clone).returncode == 0
    lfs.fsck(clone)
    assert _hub_lfs_bytes(hub)[1] >= 203 * MB

    usage = api.get(f"/api/models/{repo}/storage").json()
    assert usage["lfs"]["referencedObjects"] == 3
    assert usage["lfs"]["referencedBytes"] == 200 * MB + 123 + 3 * MB + 10


def test_forks_and_other_repos_store_nothing_twice(
    server: Server, api: httpx.Client, hub: Hub, make_user, make_repo, lfs: Git, tmp_path: Path
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    repo = make_repo(alice)
    src = tmp_path / "src"
    sums = _lfs_repo(lfs, src, {"w.bin": 5 * MB})
    lfs("push", remote(server, repo, alice), "main", cwd=src)
    oid = sums["w.bin"]
    before = _hub_lfs_bytes(hub)

    fork = api.post(f"/api/models/{repo}/fork", json={}, headers=bob.auth).json()["name"]
    answer = _batch(api, fork, bob, "upload", [{"oid": oid, "size": 5 * MB}]).json()
    assert "actions" not in answer["objects"][0], "a fork already has its network's objects"
    lfs.commit(src, {"note.txt": "fork change"}, "fork change")
    lfs("push", remote(server, fork, bob), "main", cwd=src)
    assert _hub_lfs_bytes(hub) == before

    other = make_repo(bob)
    answer = _batch(api, other, bob, "upload", [{"oid": oid, "size": 5 * MB}]).json()
    assert "upload" in answer["objects"][0]["actions"], "an unrelated repo must prove possession"
    download = _batch(api, other, bob, "download", [{"oid": oid, "size": 5 * MB}]).json()
    assert download["objects"][0]["error"]["code"] == 404
    lfs("push", remote(server, other, bob), "main", cwd=src)
    assert _hub_lfs_bytes(hub) == before, "the bytes were uploaded again but stored once"
    clone = tmp_path / "other-clone"
    lfs("clone", "-q", remote(server, other, bob), str(clone))
    assert _sha256(clone / "w.bin") == oid


def test_private_objects_stay_private(
    server: Server, api: httpx.Client, make_user, make_repo, lfs: Git, tmp_path: Path
) -> None:
    alice, mallory = make_user("alice"), make_user("mallory")
    secret = make_repo(alice, private=True)
    sums = _lfs_repo(lfs, tmp_path / "src", {"secret.bin": 2 * MB})
    lfs("push", remote(server, secret, alice), "main", cwd=tmp_path / "src")
    oid = sums["secret.bin"]

    public = make_repo(mallory)
    answer = _batch(api, public, mallory, "download", [{"oid": oid, "size": 2 * MB}]).json()
    assert answer["objects"][0]["error"] == {"code": 404, "message": "Object does not exist"}
    direct = _batch(api, secret, mallory, "download", [{"oid": oid, "size": 2 * MB}])
    assert direct.status_code == 404
    anonymous = _batch(api, secret, None, "download", [{"oid": oid, "size": 2 * MB}])
    assert anonymous.status_code == 401 and "LFS-Authenticate" in anonymous.headers
    read_only = _batch(
        api,
        secret,
        User(alice.name, alice.read_token, alice.read_token),
        "upload",
        [{"oid": oid, "size": 1}],
    )
    assert read_only.status_code == 403


def test_batch_refuses_bad_objects(api: httpx.Client, make_user, make_repo) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    objects = [
        {"oid": "nothex", "size": 1},
        {"oid": "a" * 64, "size": -1},
        {"oid": "b" * 64, "size": 10},
    ]
    answer = _batch(api, repo, alice, "download", objects)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(LFS)
    errors = [o["error"]["code"] for o in answer.json()["objects"]]
    assert errors == [422, 422, 404]
    destroy = _batch(api, repo, alice, "destroy", objects)
    assert destroy.status_code == 422 and "operation" in destroy.json()["message"]
    too_many = [{"oid": "c" * 64, "size": 1}] * 1001
    assert _batch(api, repo, alice, "download", too_many).status_code == 413
    sha1 = api.post(
        f"/{repo}.git/info/lfs/objects/batch",
        json={"operation": "download", "objects": [], "hash_algo": "sha1"},
        headers=alice.auth,
    )
    assert sha1.status_code == 409


def _upload_action(api: httpx.Client, repo: str, user: User, data: bytes, ua: str) -> dict:
    oid = hashlib.sha256(data).hexdigest()
    answer = _batch(api, repo, user, "upload", [{"oid": oid, "size": len(data)}], ua=ua).json()
    return {"oid": oid, **answer["objects"][0]["actions"]}


@pytest.mark.parametrize("client", ["git-lfs/3.3.0", "unknown/None; hf_hub/2.4.0"])
def test_corrupt_and_wrong_size_uploads_store_nothing(
    api: httpx.Client, hub: Hub, make_user, make_repo, client: str
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    data = os.urandom(MB + 5)
    before = _hub_lfs_bytes(hub)
    for body in (bytearray(data), data + b"x", data[:-1]):
        if isinstance(body, bytearray):
            body[100] ^= 0xFF
        actions = _upload_action(api, repo, alice, data, client)
        upload = actions["upload"]
        put = httpx.put(upload["href"], content=bytes(body), headers=upload.get("header", {}))
        if put.is_success:
            verify = httpx.post(
                actions["verify"]["href"],
                json={"oid": actions["oid"], "size": len(data)},
                headers=alice.auth,
            )
            assert verify.status_code in (404, 422), verify.text
            assert verify.json()["message"]
        else:
            assert put.status_code in (400, 403, 422), put.text
        download = _batch(
            api, repo, alice, "download", [{"oid": actions["oid"], "size": len(data)}]
        ).json()
        assert download["objects"][0]["error"]["code"] == 404
    assert _hub_lfs_bytes(hub) == before
    assert not list(hub.blobs.list("lfs-incoming/")), "no half-uploaded object is left behind"

    actions = _upload_action(api, repo, alice, data, client)
    put = httpx.put(
        actions["upload"]["href"], content=data, headers=actions["upload"].get("header", {})
    )
    assert put.is_success
    assert httpx.post(
        actions["verify"]["href"], json={"oid": actions["oid"], "size": len(data)}
    ).is_success
    download = _batch(
        api, repo, alice, "download", [{"oid": actions["oid"], "size": len(data)}]
    ).json()
    got = httpx.get(download["objects"][0]["actions"]["download"]["href"], follow_redirects=True)
    assert got.content == data


def test_verify_without_upload_grants_nothing(
    api: httpx.Client, hub: Hub, make_user, make_repo
) -> None:
    """Knowing a hash is no key: verify must not succeed for bytes the caller never sent."""
    alice, mallory = make_user("alice"), make_user("mallory")
    data = os.urandom(4096)
    owner_repo = make_repo(alice, private=True)
    actions = _upload_action(api, owner_repo, alice, data, "git-lfs/3.3.0")
    httpx.put(
        actions["upload"]["href"], content=data, headers=actions["upload"].get("header", {})
    ).raise_for_status()
    httpx.post(
        actions["verify"]["href"], json={"oid": actions["oid"], "size": len(data)}
    ).raise_for_status()

    theirs = make_repo(mallory)
    sneaky = _upload_action(api, theirs, mallory, data, "git-lfs/3.3.0")
    r = httpx.post(sneaky["verify"]["href"], json={"oid": sneaky["oid"], "size": len(data)})
    assert r.status_code == 404
    download = _batch(
        api, theirs, mallory, "download", [{"oid": sneaky["oid"], "size": len(data)}]
    ).json()
    assert download["objects"][0]["error"]["code"] == 404


def test_forged_and_expired_urls(stack: Stack, make_user, git: Git) -> None:
    alice = make_user("alice")
    data = os.urandom(2048)
    oid = hashlib.sha256(data).hexdigest()
    with (
        running_server(stack, extra_env={"REPOHUB_LFS_URL_TTL": "2"}) as short,
        httpx.Client(base_url=short.url) as client,
    ):
        client.post(
            "/api/repos/create", json={"name": "ttl", "empty": True}, headers=alice.auth
        ).raise_for_status()
        repo = f"{alice.name}/ttl"
        actions = _batch(client, repo, alice, "upload", [{"oid": oid, "size": len(data)}]).json()[
            "objects"
        ][0]["actions"]
        href = actions["upload"]["href"]
        tampered = (
            href.replace("sig=", "sig=0")
            if "sig=" in href
            else href.replace("Signature=", "Signature=0")
        )
        assert (
            httpx.put(
                tampered, content=data, headers=actions["upload"].get("header", {})
            ).status_code
            == 403
        )
        import time

        time.sleep(3.5)
        late = httpx.put(href, content=data, headers=actions["upload"].get("header", {}))
        assert late.status_code == 403, late.text
        verify = httpx.post(actions["verify"]["href"], json={"oid": oid, "size": len(data)})
        assert verify.status_code == 403 and "expired" in verify.json()["message"]


def test_locks_with_git_lfs(server: Server, make_user, make_repo, lfs: Git, tmp_path: Path) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    repo = make_repo(alice)
    src = tmp_path / "src"
    _lfs_repo(lfs, src, {"w.bin": 1000})
    url = remote(server, repo, alice)
    lfs("push", url, "main", cwd=src)
    lfs("remote", "add", "origin", url, cwd=src)
    locked = lfs("lfs", "lock", "w.bin", cwd=src)
    assert "Locked w.bin" in locked.stdout
    listing = lfs("lfs", "locks", cwd=src).stdout
    assert "w.bin" in listing and alice.name in listing
    again = lfs("lfs", "lock", "w.bin", cwd=src, check=False)
    assert again.returncode != 0
    push = lfs("push", "origin", "main", cwd=src)
    assert "does not support the Git LFS locking API" not in push.stderr
    lock_id = json.loads(lfs("lfs", "locks", "--json", cwd=src).stdout)[0]["id"]
    foreign = httpx.post(
        f"{server.url}/{repo}.git/info/lfs/locks/{lock_id}/unlock",
        json={"force": True},
        headers={**bob.auth, "Content-Type": LFS},
    )
    assert foreign.status_code == 403, "only writers, and for others' locks admins, unlock"
    lfs("lfs", "unlock", "w.bin", cwd=src)
    assert "w.bin" not in lfs("lfs", "locks", cwd=src).stdout


def test_objects_above_the_single_put_limit_stream_through_repohub(
    stack: Stack, make_user, lfs: Git, tmp_path: Path
) -> None:
    """S3 takes at most 5 GB in one PUT; above the limit (lowered here) RepoHub streams the
    bytes itself, in a multipart upload on S3, verified on the way."""
    alice = make_user("alice")
    with (
        running_server(stack, extra_env={"REPOHUB_LFS_SINGLE_PUT_LIMIT": str(MB)}) as small,
        httpx.Client(base_url=small.url) as client,
    ):
        client.post(
            "/api/repos/create", json={"name": "huge", "empty": True}, headers=alice.auth
        ).raise_for_status()
        repo = f"{alice.name}/huge"
        sums = _lfs_repo(lfs, tmp_path / "src", {"big.bin": 40 * MB + 1})
        answer = _batch(
            client, repo, alice, "upload", [{"oid": sums["big.bin"], "size": 40 * MB + 1}]
        ).json()
        assert "/lfs-transfer/" in answer["objects"][0]["actions"]["upload"]["href"]
        lfs("push", remote(small, repo, alice), "main", cwd=tmp_path / "src")
        clone = tmp_path / "clone"
        lfs("clone", "-q", remote(small, repo), str(clone))
        assert _sha256(clone / "big.bin") == sums["big.bin"]


def test_dataset_repos_speak_lfs_too(
    server: Server, api: httpx.Client, make_user, make_repo, lfs: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice, repo_type="dataset")
    sums = _lfs_repo(lfs, tmp_path / "src", {"train.bin": 2 * MB})
    lfs("push", remote(server, f"datasets/{repo}", alice), "main", cwd=tmp_path / "src")
    clone = tmp_path / "clone"
    lfs("clone", "-q", remote(server, f"datasets/{repo}"), str(clone))
    assert _sha256(clone / "train.bin") == sums["train.bin"]
    resolved = api.get(f"/datasets/{repo}/resolve/main/train.bin", follow_redirects=True)
    assert hashlib.sha256(resolved.content).hexdigest() == sums["train.bin"]


def test_verify_race_cannot_claim_anothers_upload(api: httpx.Client, make_user, make_repo) -> None:
    """Mallory asks to upload a not-yet-stored oid, Alice uploads it, Mallory verifies: refused.

    On S3 both get a URL for the final key; the signed upload tag says whose PUT landed.
    """
    alice, mallory = make_user("alice"), make_user("mallory")
    data = os.urandom(64 * 1024)
    theirs = make_repo(mallory)
    early = _upload_action(api, theirs, mallory, data, "git-lfs/3.3.0")
    secret = make_repo(alice, private=True)
    actions = _upload_action(api, secret, alice, data, "git-lfs/3.3.0")
    httpx.put(
        actions["upload"]["href"], content=data, headers=actions["upload"].get("header", {})
    ).raise_for_status()
    httpx.post(
        actions["verify"]["href"], json={"oid": actions["oid"], "size": len(data)}
    ).raise_for_status()

    late = httpx.post(early["verify"]["href"], json={"oid": early["oid"], "size": len(data)})
    assert late.status_code == 404, late.text
    download = _batch(
        api, theirs, mallory, "download", [{"oid": early["oid"], "size": len(data)}]
    ).json()
    assert download["objects"][0]["error"]["code"] == 404
