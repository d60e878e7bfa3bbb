"""The real `git` against a live server: push, clone, fetch, branches, tags, shallow clones."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests.conftest import User
from tests.support.gitcli import Git
from tests.support.stack import Server


def remote(server: Server, repo: str, user: User | None = None, token: str | None = None) -> str:
    host = server.url.removeprefix("http://")
    if user is None:
        return f"http://{host}/{repo}"
    return f"http://{user.name}:{token or user.token}@{host}/{repo}"


def test_push_then_clone_anonymously_and_authenticated(
    server, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"README.md": "# demo\n", "src/model.py": "x = 1\n"})
    head = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    git("push", remote(server, repo, alice), "main", cwd=src)

    anon = tmp_path / "anon"
    git("clone", "-q", remote(server, repo), str(anon))
    assert git("rev-parse", "HEAD", cwd=anon).stdout.strip() == head
    assert (anon / "src/model.py").read_text() == "x = 1\n"
    git.fsck(anon)

    authed = tmp_path / "authed"
    git("clone", "-q", remote(server, repo + ".git", alice), str(authed))
    assert git("rev-parse", "HEAD", cwd=authed).stdout.strip() == head
    git.fsck(authed)


def test_fetch_new_commits_incrementally(
    server, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {f"f{i}.txt": f"line {i}\n" * 50 for i in range(20)})
    git("push", remote(server, repo, alice), "main", cwd=src)
    clone = tmp_path / "clone"
    git("clone", "-q", remote(server, repo), str(clone))

    for round_ in range(3):
        git.commit(
            src,
            {f"f{round_}.txt": f"changed {round_}\n" * 60, "new.txt": str(round_)},
            f"c{round_}",
        )
    git("push", remote(server, repo, alice), "main", cwd=src)
    fetch = git("fetch", "origin", cwd=clone)
    assert fetch.returncode == 0
    assert (
        git("rev-parse", "origin/main", cwd=clone).stdout
        == git("rev-parse", "HEAD", cwd=src).stdout
    )
    git("merge", "-q", "--ff-only", "origin/main", cwd=clone)
    assert (clone / "new.txt").read_text() == "2"
    git.fsck(clone)


def test_branches_tags_and_deletion(
    server, api: httpx.Client, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    url = remote(server, repo, alice)
    src = git.init_repo(tmp_path / "src", {"a.txt": "a"})
    git("push", url, "main", cwd=src)
    git("checkout", "-q", "-b", "feature", cwd=src)
    feature = git.commit(src, {"b.txt": "b"}, "feature work")
    git("tag", "v1", cwd=src)
    git("tag", "-a", "v1-annotated", "-m", "release", cwd=src)
    git("push", url, "feature", "v1", "v1-annotated", cwd=src)

    refs = api.get(f"/api/models/{repo}/refs").json()
    assert {b["name"]: b["targetCommit"] for b in refs["branches"]}["feature"] == feature
    tags = {t["name"]: t["targetCommit"] for t in refs["tags"]}
    assert tags == {"v1": feature, "v1-annotated": feature}, "annotated tags are peeled"

    clone = tmp_path / "clone"
    git("clone", "-q", remote(server, repo), str(clone))
    assert set(git("tag", cwd=clone).stdout.split()) == {"v1", "v1-annotated"}
    assert "origin/feature" in git("branch", "-r", cwd=clone).stdout
    git.fsck(clone)

    git("push", url, ":feature", cwd=src)
    refs = api.get(f"/api/models/{repo}/refs").json()
    assert [b["name"] for b in refs["branches"]] == ["main"]

    refused = git("push", url, ":main", cwd=src, check=False)
    assert refused.returncode != 0
    assert "refusing to delete the default branch" in refused.stderr


def test_non_fast_forward_rules(
    server, api: httpx.Client, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    url = remote(server, repo, alice)
    src = git.init_repo(tmp_path / "src", {"a.txt": "1"})
    git.commit(src, {"a.txt": "2"}, "second")
    git("push", url, "main", cwd=src)
    pushed = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    git("reset", "-q", "--hard", "HEAD~1", cwd=src)
    rewritten = git.commit(src, {"a.txt": "other"}, "rewrite")

    plain = git("push", url, "main", cwd=src, check=False)
    assert plain.returncode != 0 and "non-fast-forward" in plain.stderr + plain.stdout

    forced = git("push", "--force", url, "main", cwd=src, check=False)
    assert forced.returncode != 0
    assert "protected default branch" in forced.stderr
    main = api.get(f"/api/models/{repo}/refs").json()["branches"][0]["targetCommit"]
    assert main == pushed

    git("push", url, "main:exp", cwd=src, check=False)  # exp starts at the rewrite
    git("push", url, f"{pushed}:refs/heads/exp2", cwd=src)
    forced_other = git("push", "--force", url, "main:exp2", cwd=src)
    assert forced_other.returncode == 0
    branches = {
        b["name"]: b["targetCommit"] for b in api.get(f"/api/models/{repo}/refs").json()["branches"]
    }
    assert branches["exp2"] == rewritten, "force-push is allowed on unprotected branches"


def test_shallow_clone(server, make_user, make_repo, git: Git, tmp_path: Path) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"a.txt": "0"})
    for i in range(1, 6):
        git.commit(src, {"a.txt": str(i), f"f{i}": str(i)}, f"c{i}")
    git("push", remote(server, repo, alice), "main", cwd=src)

    shallow = tmp_path / "shallow"
    git("clone", "-q", "--depth", "1", remote(server, repo), str(shallow))
    assert git("rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "1"
    assert (shallow / "a.txt").read_text() == "5"
    git.fsck(shallow)
    git("fetch", "-q", "--depth", "3", cwd=shallow)
    assert git("rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "3"
    git.fsck(shallow)


def test_repo_created_with_initial_commit_can_be_cloned_and_extended(
    server, api: httpx.Client, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice, empty=False)
    clone = tmp_path / "clone"
    git("clone", "-q", remote(server, repo, alice), str(clone))
    assert "filter=lfs" in (clone / ".gitattributes").read_text()
    assert (clone / "README.md").exists()
    git.commit(clone, {"config.json": "{}"}, "add config")
    git("push", "-q", "origin", "main", cwd=clone)
    info = api.get(f"/api/models/{repo}").json()
    assert info["sha"] == git("rev-parse", "HEAD", cwd=clone).stdout.strip()
    assert sorted(s["rfilename"] for s in info["siblings"]) == [
        ".gitattributes",
        "README.md",
        "config.json",
    ]


def test_protocol_v0_clients_are_served(
    server, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"a.txt": "0"})
    for i in range(1, 4):
        git.commit(src, {"a.txt": str(i)}, f"c{i}")
    git("-c", "protocol.version=0", "push", remote(server, repo, alice), "main", cwd=src)
    clone = tmp_path / "v0"
    git("-c", "protocol.version=0", "clone", "-q", remote(server, repo), str(clone))
    git.fsck(clone)
    shallow = tmp_path / "v0-shallow"
    git(
        "-c",
        "protocol.version=0",
        "clone",
        "-q",
        "--depth",
        "1",
        remote(server, repo),
        str(shallow),
    )
    assert git("rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "1"
    git.commit(src, {"a.txt": "4"}, "c4")
    git("push", "-q", remote(server, repo, alice), "main", cwd=src)
    git("-c", "protocol.version=0", "pull", "-q", "--ff-only", cwd=clone)
    assert (clone / "a.txt").read_text() == "4"


def test_protocol_v2_clone_keeps_the_pack(
    server, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    """A small clone over v2 keeps the server's pack instead of exploding it into loose objects."""
    alice = make_user("alice")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"w.bin": os.urandom(1 << 20)})
    git("push", remote(server, repo, alice), "main", cwd=src)
    clone = tmp_path / "clone"
    trace = git(
        "-c",
        "protocol.version=2",
        "clone",
        remote(server, repo),
        str(clone),
        env_extra={"GIT_TRACE_PACKET": "1"},
    )
    assert "git< version 2" in trace.stderr
    assert list((clone / ".git/objects/pack").glob("*.pack"))
    git.fsck(clone)


def test_v2_refuses_wants_outside_the_repo(
    server, api, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    """Forks share an object store; a fetch may still only ask for what this repo's refs name."""
    alice, bob = make_user("alice"), make_user("bob")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"a.txt": "a"})
    git("push", remote(server, repo, alice), "main", cwd=src)
    fork = api.post(f"/api/models/{repo}/fork", json={}, headers=bob.auth).json()["name"]
    bobs = git.commit(src, {"b.txt": "only in the fork"}, "bob")
    git("push", remote(server, fork, bob), "main", cwd=src)

    body = (
        b"".join(_pkt(line) for line in (b"command=fetch\n", b"object-format=sha1\n"))
        + b"0001"
        + _pkt(f"want {bobs}\n".encode())
        + _pkt(b"done\n")
        + b"0000"
    )
    r = httpx.post(
        f"{server.url}/{repo}/git-upload-pack",
        content=body,
        headers={
            "Content-Type": "application/x-git-upload-pack-request",
            "Git-Protocol": "version=2",
        },
    )
    assert r.status_code == 200
    assert b"not our ref" in r.content and b"PACK" not in r.content

    v0 = _pkt(f"want {bobs} side-band-64k ofs-delta\n".encode()) + b"0000" + _pkt(b"done\n")
    r = httpx.post(
        f"{server.url}/{repo}/git-upload-pack",
        content=v0,
        headers={"Content-Type": "application/x-git-upload-pack-request"},
    )
    assert r.status_code == 200
    assert b"PACK" not in r.content


def _pkt(line: bytes) -> bytes:
    return f"{len(line) + 4:04x}".encode() + line
