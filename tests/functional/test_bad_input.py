"""Bad input gets a clear 4xx (or an in-band git refusal), never a 500, never a partial write."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import zlib
from pathlib import Path

import httpx
import pytest
from dulwich.object_format import SHA1
from dulwich.objects import Blob, Commit
from dulwich.pack import pack_object_header

from tests.functional.test_git_races import _branch, _pkt
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server, Stack, running_server

RECEIVE = {"Content-Type": "application/x-git-receive-pack-request"}


def _receive(api: httpx.Client, repo: str, token: str, body: bytes) -> httpx.Response:
    return api.post(
        f"/{repo}/git-receive-pack",
        content=body,
        headers={**RECEIVE, "Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def pushed(server: Server, make_user, make_repo, git: Git, tmp_path: Path):  # type: ignore[no-untyped-def]
    alice = make_user("alice")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"a.txt": "a"})
    git("push", remote(server, repo, alice), "main", cwd=src)
    return alice, repo, src


def test_malformed_pack_is_refused_in_band(api: httpx.Client, git: Git, pushed) -> None:
    alice, repo, src = pushed
    old = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    new = git.commit(src, {"b.txt": "b"}, "b")
    commands = _pkt(f"{old} {new} refs/heads/main\0report-status\n".encode()) + b"0000"
    r = _receive(api, repo, alice.token, commands + b"PACK\x00\x00\x00\x02\x00\x00\x00\x01garbage!")
    assert r.status_code == 200, "git reports unpack errors inside the protocol"
    assert b"unpack malformed pack" in r.content or b"unpack " in r.content
    assert b"ng refs/heads/main" in r.content
    assert _branch(api, repo) == old


def test_wrong_checksum_pack_is_refused(api: httpx.Client, git: Git, pushed) -> None:
    alice, repo, src = pushed
    old = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    new = git.commit(src, {"c.txt": "c" * 1000}, "c")
    pack = bytearray(
        subprocess.run(
            ["git", "pack-objects", "--stdout", "--revs", "-q"],
            cwd=src,
            env=git.env,
            input=f"{new}\n^{old}\n".encode(),
            capture_output=True,
            check=True,
        ).stdout
    )
    pack[-1] ^= 0xFF
    commands = _pkt(f"{old} {new} refs/heads/main\0report-status\n".encode()) + b"0000"
    r = _receive(api, repo, alice.token, commands + bytes(pack))
    assert r.status_code == 200
    assert b"ng refs/heads/main" in r.content
    assert _branch(api, repo) == old


def test_bad_ref_names_are_refused(api: httpx.Client, git: Git, pushed) -> None:
    alice, repo, src = pushed
    head = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    zero = "0" * 40
    for bad in ("refs/heads/bad..name", "refs/heads/x.lock", "HEAD", "refs/heads/a b"):
        commands = _pkt(f"{zero} {head} {bad}\0report-status\n".encode()) + b"0000"
        r = _receive(api, repo, alice.token, commands)
        assert r.status_code in (200, 400), r.text
        assert b"ok " + bad.encode() not in r.content
    names = [b["name"] for b in api.get(f"/api/models/{repo}/refs").json()["branches"]]
    assert names == ["main"]


def test_garbage_command_lines_are_a_client_error(api: httpx.Client, pushed) -> None:
    alice, repo, _src = pushed
    r = _receive(api, repo, alice.token, _pkt(b"not a command\n") + b"0000")
    assert r.status_code < 500
    assert b"protocol error: invalid ref update line" in r.content


@pytest.mark.parametrize(
    "path",
    [
        "/alice/%2e%2e/info/refs?service=git-upload-pack",
        "/alice/../info/refs?service=git-upload-pack",
        "/%2e%2e/repo/info/refs?service=git-upload-pack",
        "/alice/a%2Fb/info/refs?service=git-upload-pack",
        "/alice/.git/info/refs?service=git-upload-pack",
        "/alice/x/info/refs?service=git-bogus",
        "/api/models/alice/%2e%2e",
        "/api/models/..%2F..%2Fetc/passwd",
    ],
)
def test_path_tricks_answer_4xx(api: httpx.Client, path: str) -> None:
    r = api.get(path)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text)


def test_bad_names_on_create(api: httpx.Client, make_user) -> None:
    alice = make_user("alice")
    for bad in ("..", "a/b", "-x", "x.git", "", "a" * 97, "bad name", "../etc"):
        r = api.post("/api/repos/create", json={"name": bad, "empty": True}, headers=alice.auth)
        assert r.status_code in (400, 404, 422), (bad, r.status_code)
        assert r.json()["error"], "the answer says what is wrong"
    r = api.post("/api/repos/create", json={"name": "ok", "type": "space"}, headers=alice.auth)
    assert r.status_code == 422


def test_unknown_revision(api: httpx.Client, pushed) -> None:
    _alice, repo, _src = pushed
    r = api.get(f"/api/models/{repo}/revision/nope")
    assert r.status_code == 404
    assert r.headers["X-Error-Code"] == "RevisionNotFound"
    r = api.get(f"/api/models/{repo}/revision/{'0' * 40}")
    assert r.status_code == 404 and r.headers["X-Error-Code"] == "RevisionNotFound"


def test_oversized_json_body(api: httpx.Client, make_user) -> None:
    alice = make_user("alice")
    r = api.post(
        "/api/repos/create",
        content=b"{" + b" " * (17 * 1024 * 1024) + b"}",
        headers={**alice.auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert "exceeds" in r.json()["error"]


def test_oversized_push(stack: Stack, hub, make_user, git: Git, tmp_path: Path) -> None:
    """A server with a 1 MB push limit refuses a bigger pack and stores none of it."""
    alice = make_user("alice")
    limit = {"REPOHUB_MAX_PACK_BYTES": str(1024 * 1024)}
    with (
        running_server(stack, extra_env=limit) as small,
        httpx.Client(base_url=small.url) as client,
    ):
        r = client.post(
            "/api/repos/create", json={"name": "big", "empty": True}, headers=alice.auth
        )
        assert r.status_code == 200
        src = git.init_repo(tmp_path / "src", {"big.bin": os.urandom(2 * 1024 * 1024)})
        result = git(
            "push", remote(small, f"{alice.name}/big", alice), "main", cwd=src, check=False
        )
        assert result.returncode != 0
        assert "size limit" in result.stderr
        assert client.get(f"/api/models/{alice.name}/big/refs").json()["branches"] == []


def _raw_pack(objects: list[tuple[int, bytes]]) -> bytes:
    out = b"PACK" + struct.pack(">II", 2, len(objects))
    for type_num, data in objects:
        header = pack_object_header(type_num, None, len(data), object_format=SHA1)
        out += bytes(header) + zlib.compress(data)
    return out + hashlib.sha1(out, usedforsecurity=False).digest()


@pytest.mark.parametrize("entry_name", [b"..", b".git", b"a/b"])
def test_tree_with_path_tricks_is_refused(api: httpx.Client, pushed, entry_name: bytes) -> None:
    """A tree naming `..` or `.git` would let a checkout write outside its directory."""
    alice, repo, _src = pushed
    old = _branch(api, repo)
    blob = Blob.from_string(b"payload")
    tree_raw = b"100644 " + entry_name + b"\0" + blob.sha().digest()
    tree_id = hashlib.sha1(
        b"tree %d\0" % len(tree_raw) + tree_raw, usedforsecurity=False
    ).hexdigest()
    commit = Commit()
    commit.tree = tree_id.encode()
    commit.parents = [old.encode()]
    commit.author = commit.committer = b"M <m@example.com>"
    commit.author_time = commit.commit_time = 0
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"trick\n"
    pack = _raw_pack([(3, blob.as_raw_string()), (2, tree_raw), (1, commit.as_raw_string())])
    cmd = f"{old} {commit.id.decode()} refs/heads/main\0report-status\n".encode()
    r = _receive(api, repo, alice.token, _pkt(cmd) + b"0000" + pack)
    assert r.status_code == 200
    assert b"unpack invalid object in pack" in r.content
    assert _branch(api, repo) == old
