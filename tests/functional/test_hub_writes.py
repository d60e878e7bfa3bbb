"""Writes through the real `huggingface_hub` client (2.x, in-process, Xet off): uploads,
folders, commits with every operation, stale parents, and what a clone of the result shows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.hfclient import in_process_client
from tests.support.stack import Server

CARD = "---\nlicense: mit\ntags: [vision]\n---\n# Demo\n"

# huggingface_hub 2.x's LFS upload passes raw bytes as `data=` to httpx2, which warns
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture
def hf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: Server) -> Callable[..., Any]:
    """`hf(token)`: an HfApi on the live server with its own cache, no telemetry and no Xet."""
    return in_process_client(monkeypatch, tmp_path / "hf", server.url)


def _tree(api: Any, repo: str, revision: str = "main") -> dict[str, Any]:
    return {f.path: f for f in api.list_repo_tree(repo, recursive=True, revision=revision)}


def test_upload_file_folder_and_download_back(
    hf, make_user, server: Server, git: Git, tmp_path: Path
) -> None:
    from huggingface_hub import hf_hub_download, snapshot_download

    alice = make_user("alice")
    api = hf(alice.token)
    repo = api.create_repo("demo").repo_id
    weights = os.urandom(20 * 1024 * 1024)
    api.upload_file(path_or_fileobj=CARD.encode(), path_in_repo="README.md", repo_id=repo)
    api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="notes/hello.txt", repo_id=repo)
    info = api.upload_file(path_or_fileobj=weights, path_in_repo="model.bin", repo_id=repo)
    assert info.oid and len(info.oid) == 40

    folder = tmp_path / "folder"
    (folder / "sub" / "deep").mkdir(parents=True)
    (folder / "sub" / "deep" / "a.txt").write_text("a\n")
    (folder / "sub" / "b.json").write_text('{"b": 1}\n')
    (folder / "c.safetensors").write_bytes(os.urandom(300_000))
    api.upload_folder(folder_path=folder, repo_id=repo, delete_patterns=["notes/*"])

    tree = _tree(api, repo)
    assert {"README.md", "model.bin", "sub/deep/a.txt", "sub/b.json", "c.safetensors"} <= set(tree)
    assert "notes/hello.txt" not in tree
    assert tree["model.bin"].lfs.sha256 == hashlib.sha256(weights).hexdigest()
    assert tree["c.safetensors"].lfs is not None  # by `.gitattributes`, not by size

    got = Path(hf_hub_download(repo, "model.bin", endpoint=server.url, token=alice.token))
    assert got.read_bytes() == weights
    snap = Path(
        snapshot_download(
            repo,
            allow_patterns=["sub/*"],
            endpoint=server.url,
            token=alice.token,
            cache_dir=tmp_path / "snapshot-cache",  # apart from hf_hub_download's above
        )
    )
    assert (snap / "sub" / "deep" / "a.txt").read_text() == "a\n"
    assert not (snap / "model.bin").exists()

    clone = tmp_path / "clone"
    git("lfs", "install", "--skip-repo")  # smudge LFS files on checkout, as a user's git does
    git("clone", "-q", remote(server, repo, alice), str(clone))
    assert (clone / "model.bin").read_bytes() == weights
    assert (clone / "sub" / "b.json").read_text() == '{"b": 1}\n'
    git("lfs", "fsck", cwd=clone)


def test_create_commit_with_every_operation_in_one_commit(hf, make_user) -> None:
    from huggingface_hub import (
        CommitOperationAdd,
        CommitOperationCopy,
        CommitOperationDelete,
        hf_hub_download,
    )

    alice = make_user("alice")
    api = hf(alice.token)
    repo = api.create_repo("ops").repo_id
    big = os.urandom(2 * 1024 * 1024)
    api.create_commit(
        repo,
        [
            CommitOperationAdd("keep.txt", b"keep\n"),
            CommitOperationAdd("gone.txt", b"gone\n"),
            CommitOperationAdd("old/x.txt", b"x\n"),
            CommitOperationAdd("old/y.txt", b"y\n"),
            CommitOperationAdd("w.bin", big),
        ],
        commit_message="first",
    )
    before = api.model_info(repo).sha
    result = api.create_commit(
        repo,
        [
            CommitOperationDelete("gone.txt"),
            CommitOperationDelete("old/"),
            CommitOperationCopy("keep.txt", "copy/keep.txt"),
            CommitOperationCopy("w.bin", "copy/w.bin"),
            CommitOperationAdd("new.txt", b"new\n"),
        ],
        commit_message="second",
        commit_description="every kind of operation",
        parent_commit=before,
    )
    tree = _tree(api, repo)
    assert {"keep.txt", "copy/keep.txt", "copy/w.bin", "w.bin", "new.txt"} <= set(tree)
    assert not {"gone.txt", "old/x.txt", "old/y.txt"} & set(tree)
    assert tree["copy/w.bin"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    commits = api.list_repo_commits(repo)
    assert commits[0].commit_id == result.oid and commits[0].title == "second"
    assert commits[0].message.strip().endswith("every kind of operation")
    copied = hf_hub_download(repo, "copy/w.bin", revision=result.oid, token=alice.token)
    assert Path(copied).read_bytes() == big


def test_stale_parent_commit_is_412_and_nothing_moves(hf, make_user) -> None:
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    alice = make_user("alice")
    api = hf(alice.token)
    repo = api.create_repo("stale").repo_id
    first = api.model_info(repo).sha
    api.upload_file(path_or_fileobj=b"1", path_in_repo="a.txt", repo_id=repo)
    head = api.model_info(repo).sha
    with pytest.raises(HfHubHTTPError) as caught:
        api.create_commit(
            repo, [CommitOperationAdd("b.txt", b"2")], commit_message="late", parent_commit=first
        )
    assert caught.value.response.status_code == 412
    assert "updated since you opened this page" in str(caught.value)
    assert api.model_info(repo).sha == head


def test_concurrent_commits_one_parent_one_wins_without_parent_both_land(hf, make_user) -> None:
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    alice = make_user("alice")
    api = hf(alice.token)
    repo = api.create_repo("race").repo_id
    parent = api.model_info(repo).sha
    outcomes: list[str] = []

    def commit(name: str, with_parent: bool) -> None:
        try:
            hf(alice.token).create_commit(
                repo,
                [CommitOperationAdd(name, name.encode())],
                commit_message=name,
                parent_commit=parent if with_parent else None,
            )
            outcomes.append("ok")
        except HfHubHTTPError as exc:
            outcomes.append(str(exc.response.status_code))

    threads = [threading.Thread(target=commit, args=(f"p{i}.txt", True)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["412", "ok"]
    outcomes.clear()
    threads = [threading.Thread(target=commit, args=(f"n{i}.txt", False)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["ok", "ok"]
    assert {"n0.txt", "n1.txt"} <= set(_tree(api, repo))


def _ndjson(*lines: dict[str, Any]) -> bytes:
    return b"\n".join(json.dumps(line).encode() for line in lines)


def _header(**value: Any) -> dict[str, Any]:
    return {"key": "header", "value": {"summary": "s", **value}}


def _file(path: str, data: bytes = b"x") -> dict[str, Any]:
    value = {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}
    return {"key": "file", "value": value}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (_ndjson(_header(), _file("../x")), 422, "invalid path"),
        (_ndjson(_header(), _file("a\x00b")), 422, "NUL"),
        (_ndjson(_header(), _file("dir\\x.txt")), 422, "backslash"),
        (_ndjson(_header(), _file(".git/config")), 422, ".git"),
        (
            _ndjson(
                _header(),
                {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "e" * 64}},
            ),
            422,
            "never uploaded",
        ),
        (b'{"key": "header", "value": {"summary": "s"}}\n{"key": "file", "val', 422, "line 2"),
        (_ndjson(_file("a.txt")), 422, "header"),
        (_ndjson(_header()), 422, "at least one operation"),
        (_ndjson(_header(parentCommit="zz")), 422, "parentCommit"),
        (_ndjson(_header(), {"key": "deletedFile", "value": {"path": "nope.txt"}}), 404, "exist"),
        (
            _ndjson(_header(), {"key": "file", "value": {"path": "a", "content": "!!"}}),
            422,
            "base64",
        ),
        (_ndjson(_header(), {"key": "rename", "value": {}}), 422, "key"),
    ],
)
def test_bad_commits_are_4xx_and_move_nothing(
    api: httpx.Client, make_user, make_repo, body: bytes, status: int, words: str
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice, empty=False)
    before = api.get(f"/api/models/{repo}/refs").json()
    r = api.post(
        f"/api/models/{repo}/commit/main",
        content=body,
        headers={**alice.auth, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == status, r.text
    assert words in r.json()["error"], r.text
    assert api.get(f"/api/models/{repo}/refs").json() == before


def _streamed_line(total: int, piece: int = 4 * 1024 * 1024) -> Iterator[bytes]:
    yield (
        json.dumps(_header()).encode() + b'\n{"key": "file", "value": {"path": "big", "content": "'
    )
    for _ in range(total // piece):
        yield b"A" * piece
    yield b'"}}\n'


def test_a_300_mb_file_line_is_413(api: httpx.Client, make_user, make_repo, stack) -> None:
    """Over the commit cap (256 MiB by default), sized or streamed: refused, nothing moved."""
    alice = make_user("alice")
    repo = make_repo(alice, empty=False)
    assert stack.settings().max_commit_body_bytes < 300 * 1024 * 1024
    before = api.get(f"/api/models/{repo}/refs").json()
    r = api.post(
        f"/api/models/{repo}/commit/main",
        content=_streamed_line(300 * 1024 * 1024),
        headers={**alice.auth, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 413 and "limit" in r.json()["error"], r.text
    assert api.get(f"/api/models/{repo}/refs").json() == before


def test_validate_yaml_and_preupload(api: httpx.Client, make_user, make_repo) -> None:
    alice = make_user("alice")
    repo = make_repo(alice, empty=False)
    ok = api.post("/api/validate-yaml", json={"content": CARD, "repoType": "model"})
    assert ok.status_code == 200 and ok.json() == {"errors": [], "warnings": []}
    broken = api.post("/api/validate-yaml", json={"content": "---\na: [1,\n---\n"})
    assert broken.status_code == 400 and "line" in broken.json()["errors"][0]["message"]

    sample = base64.b64encode(b"\x00\x01binary").decode()
    files = [
        {"path": "README.md", "sample": "", "size": 10},
        {"path": "w.safetensors", "sample": "", "size": 10},
        {"path": "blob.dat", "sample": sample, "size": 10},
        {"path": "big.txt", "sample": "", "size": 5 * 1024 * 1024},
        {"path": "empty.bin", "sample": "", "size": 0},
        {"path": "logs/x.log", "sample": "", "size": 3},
    ]
    r = api.post(
        f"/api/models/{repo}/preupload/main",
        json={"files": files, "gitIgnore": "*.log\n"},
        headers=alice.auth,
    )
    assert r.status_code == 200, r.text
    modes = {f["path"]: (f["uploadMode"], f["shouldIgnore"]) for f in r.json()["files"]}
    assert modes == {
        "README.md": ("regular", False),
        "w.safetensors": ("lfs", False),
        "blob.dat": ("lfs", False),
        "big.txt": ("lfs", False),
        "empty.bin": ("regular", False),
        "logs/x.log": ("regular", True),
    }
    readme = next(f for f in r.json()["files"] if f["path"] == "README.md")
    assert len(readme["oid"]) == 40  # the initial commit's card: unchanged files are skipped


def test_branches_tags_and_history(hf, make_user, server: Server) -> None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, RevisionNotFoundError

    alice = make_user("alice")
    api = hf(alice.token)
    repo = api.create_repo("refs").repo_id
    api.upload_file(path_or_fileobj=b"v1\n", path_in_repo="v.txt", repo_id=repo)
    v1 = api.model_info(repo).sha
    api.create_branch(repo, branch="feat/x", revision=v1)
    api.create_branch(repo, branch="feat/x", exist_ok=True)
    with pytest.raises(HfHubHTTPError) as exists:
        api.create_branch(repo, branch="feat/x")
    assert exists.value.response.status_code == 409
    api.upload_file(path_or_fileobj=b"v2\n", path_in_repo="v.txt", repo_id=repo, revision="feat/x")
    api.create_tag(repo, tag="v1", revision=v1, tag_message="first release")
    api.create_tag(repo, tag="light", revision="feat/x")
    refs = api.list_repo_refs(repo)
    branches = {b.name: b.target_commit for b in refs.branches}
    tags = {t.name: t.target_commit for t in refs.tags}
    assert set(branches) == {"main", "feat/x"} and tags["v1"] == v1
    assert tags["light"] == branches["feat/x"] != v1

    def read(revision: str) -> bytes:
        path = hf_hub_download(repo, "v.txt", revision=revision, token=alice.token)
        return Path(path).read_bytes()

    assert read("feat/x") == b"v2\n"
    assert read("v1") == b"v1\n"
    assert read(v1) == b"v1\n"

    with pytest.raises(HfHubHTTPError) as default:
        api.delete_branch(repo, branch="main")
    assert default.value.response.status_code == 403
    api.delete_tag(repo, tag="light")
    api.delete_branch(repo, branch="feat/x")
    refs = api.list_repo_refs(repo)
    assert [b.name for b in refs.branches] == ["main"] and [t.name for t in refs.tags] == ["v1"]
    with pytest.raises(RevisionNotFoundError):
        api.delete_branch(repo, branch="feat/x")

    for i in range(55):  # past one page of history
        api.upload_file(path_or_fileobj=f"{i}\n".encode(), path_in_repo="n.txt", repo_id=repo)
    commits = api.list_repo_commits(repo)
    assert len(commits) == 55 + 2  # and the initial commit and v1
    assert commits[0].title == "Upload n.txt with huggingface_hub"
    assert commits[-1].title == "initial commit"
    assert commits[-1].authors == [alice.name]


def test_super_squash_history_keeps_the_tree_and_needs_admin(hf, make_user) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    alice, bob = make_user("alice"), make_user("bob")
    api = hf(alice.token)
    repo = api.create_repo("squash").repo_id
    for i in range(3):
        api.upload_file(path_or_fileobj=f"{i}\n".encode(), path_in_repo=f"f{i}.txt", repo_id=repo)
    before = _tree(api, repo)
    with pytest.raises(HfHubHTTPError) as refused:  # bob cannot even write here
        hf(bob.token).super_squash_history(repo)
    assert refused.value.response.status_code == 403
    api.super_squash_history(repo, commit_message="one commit")
    commits = api.list_repo_commits(repo)
    assert [c.title for c in commits] == ["one commit"]
    after = _tree(api, repo)
    assert {p: f.blob_id for p, f in after.items() if hasattr(f, "blob_id")} == {
        p: f.blob_id for p, f in before.items() if hasattr(f, "blob_id")
    }


def test_an_lfs_file_no_pattern_covers_is_tracked_for_git(
    hf, make_user, server: Server, git: Git, tmp_path: Path
) -> None:
    """A 2 MiB `.txt` goes to LFS by size; `.gitattributes` gains its line, as on the Hub,
    so a clone smudges it instead of showing the pointer."""
    alice = make_user("alice")
    api = hf(alice.token)
    repo = api.create_repo("track").repo_id
    data = os.urandom(2 * 1024 * 1024).hex().encode()[: 2 * 1024 * 1024]
    api.upload_file(path_or_fileobj=data, path_in_repo="logs/big run.txt", repo_id=repo)
    assert _tree(api, repo)["logs/big run.txt"].lfs is not None
    git("lfs", "install", "--skip-repo")
    clone = tmp_path / "clone"
    git("clone", "-q", remote(server, repo, alice), str(clone))
    assert (clone / "logs" / "big run.txt").read_bytes() == data
    assert "logs/big[[:space:]]run.txt filter=lfs" in (clone / ".gitattributes").read_text()


def test_model_card_push_and_hf_file_system(hf, make_user, server: Server) -> None:
    from huggingface_hub import HfFileSystem, ModelCard

    alice = make_user("alice")
    api = hf(alice.token)
    repo = api.create_repo("card").repo_id
    card = ModelCard(CARD + "\nSome words.\n")
    card.push_to_hub(repo, token=alice.token)
    loaded = ModelCard.load(repo, token=alice.token)
    assert loaded.data.license == "mit" and "Some words." in loaded.text

    fs = HfFileSystem(endpoint=server.url, token=alice.token)
    with fs.open(f"{repo}/data/new.csv", "w") as f:  # a write is a commit
        f.write("a,b\n1,2\n")
    assert fs.read_text(f"{repo}/data/new.csv") == "a,b\n1,2\n"
    assert f"{repo}/data/new.csv" in fs.glob(f"{repo}/**/*.csv")
    info = fs.info(f"{repo}/README.md")
    assert info["type"] == "file" and info["size"] == len(card.content.encode())
    listed = {entry["name"] for entry in fs.ls(repo)}
    assert {f"{repo}/README.md", f"{repo}/data"} <= listed
    fs.rm(f"{repo}/data/new.csv")
    assert "data/new.csv" not in _tree(api, repo)
