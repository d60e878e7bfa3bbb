"""git names are bytes: a Latin-1 file name, commit message and author, through the real `git`.

A commit made on a Latin-1 machine holds `caf\\xe9.txt` (the byte 0xE9, not UTF-8). It must
push (the shipped hooks read git's output as bytes), clone back byte for byte, and show in
the API and on the pages escaped by one rule (`repohub.repos.paths`): `caf\\xe9.txt`, the
very text that fetches the file again. Ref names are text in RepoHub, so a non-UTF-8 one is
refused with a reason.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import User
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server

MB = 1024**2
CAFE = b"caf\xe9.txt"  # Latin-1 "café.txt"
DIR = b"d\xfcr"  # Latin-1 "dür"
MESSAGE = b"caf\xe9: Latin-1 message\n\nbody d\xfcr\n"
AUTHOR = b"Jos\xe9 Latin"
SHOWN_CAFE = "caf\\xe9.txt"  # the display rule's text: what pages, JSON and URLs use
SHOWN_DIR = "d\\xfcr"
SHOWN_TITLE = "caf\\xe9: Latin-1 message"
SHOWN_AUTHOR = "Jos\\xe9 Latin"


def raw_git(git: Git, *args: str | bytes, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """`git` with bytes output (a Latin-1 name is no UTF-8) and paths never quoted away."""
    return subprocess.run(
        ["git", "-c", "core.quotepath=false", *args],
        cwd=cwd,
        env=git.env,
        capture_output=True,
        timeout=300,
        check=False,
    )


def write(root: Path, name: bytes, data: bytes) -> None:
    """A file whose name is the exact bytes `name` (`os.fsdecode` keeps them as surrogates)."""
    target = root / os.fsdecode(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def commit_latin1(git: Git, src: Path, files: dict[bytes, bytes]) -> str:
    """Commit `files` with a Latin-1 message and author name and no encoding header.

    `git commit` would re-encode such a message to UTF-8 (it assumes Latin-1), so the commit
    object is written as the bytes an older git or another tool makes: `hash-object`.
    """
    for name, data in files.items():
        write(src, name, data)
    assert raw_git(git, "add", "-A", cwd=src).returncode == 0
    tree = raw_git(git, "write-tree", cwd=src).stdout.strip()
    parent = raw_git(git, "rev-parse", "HEAD", cwd=src).stdout.strip()
    who = b" <jose@example.com> 1700000000 +0000\n"
    body = b"tree %s\nparent %s\nauthor %s%scommitter %s%s\n%s" % (
        tree,
        parent,
        AUTHOR,
        who,
        AUTHOR,
        who,
        MESSAGE,
    )
    made = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        cwd=src,
        env=git.env,
        input=body,
        capture_output=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    sha = made.stdout.decode().strip()
    git("update-ref", "refs/heads/main", sha, cwd=src)
    return sha


@dataclass(frozen=True)
class Pushed:
    repo: str
    url: str
    src: Path
    base: str
    head: str
    pushed: subprocess.CompletedProcess[bytes]


def push_latin1(git: Git, tmp_path: Path, server: Server, repo: str, owner: User) -> Pushed:
    """`main` at a Latin-1 commit, `before` at its parent (for compares)."""
    url = remote(server, repo, owner)
    src = git.init_repo(tmp_path / "src", {"README.md": "# paths\n"})
    base = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    head = commit_latin1(
        git,
        src,
        {CAFE: b"a Latin-1 name\n", DIR + b"/w.txt": b"inside\n", "ok-é.txt".encode(): b"utf8\n"},
    )
    pushed = raw_git(git, "push", url, "main", f"{base}:refs/heads/before", cwd=src)
    return Pushed(repo, url, src, base, head, pushed)


@pytest.fixture
def latin1(server, make_user, make_repo, git: Git, tmp_path: Path) -> Pushed:
    alice = make_user("alice")
    return push_latin1(git, tmp_path, server, make_repo(alice), alice)


def test_push_of_a_latin1_name_and_message_succeeds_and_clones_byte_for_byte(
    latin1: Pushed, git: Git, tmp_path: Path
) -> None:
    assert latin1.pushed.returncode == 0, latin1.pushed.stderr
    assert b"Traceback" not in latin1.pushed.stderr

    clone = tmp_path / "clone"
    git("clone", "-q", latin1.url, str(clone))

    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == latin1.head
    tree = raw_git(git, "ls-tree", "-r", "-z", "HEAD", cwd=clone).stdout
    assert tree == raw_git(git, "ls-tree", "-r", "-z", "HEAD", cwd=latin1.src).stdout
    assert b"\t" + CAFE + b"\0" in tree
    commit = raw_git(git, "cat-file", "commit", "HEAD", cwd=clone).stdout
    assert MESSAGE in commit and AUTHOR in commit
    assert CAFE in {os.fsencode(p.name) for p in clone.iterdir()}
    assert (clone / os.fsdecode(CAFE)).read_bytes() == b"a Latin-1 name\n"
    assert (clone / os.fsdecode(DIR + b"/w.txt")).read_bytes() == b"inside\n"
    git.fsck(clone)


def test_api_lists_and_serves_the_name_escaped(latin1: Pushed, api: httpx.Client) -> None:
    repo = latin1.repo
    root = api.get(f"/api/models/{repo}/tree/main", params={"expand": "true"})
    assert root.status_code == 200, root.text
    listed = {item["path"]: item for item in root.json()}
    assert set(listed) == {"README.md", SHOWN_CAFE, SHOWN_DIR, "ok-é.txt"}
    assert listed[SHOWN_DIR]["type"] == "directory"
    assert listed[SHOWN_CAFE]["size"] == len(b"a Latin-1 name\n")
    assert listed[SHOWN_CAFE]["lastCommit"]["title"] == SHOWN_TITLE

    inside = api.get(f"/api/models/{repo}/tree/main/{quote(SHOWN_DIR, safe='')}")
    assert inside.status_code == 200, inside.text
    assert [item["path"] for item in inside.json()] == [f"{SHOWN_DIR}/w.txt"]
    recursive = api.get(f"/api/models/{repo}/tree/main", params={"recursive": "1"})
    assert f"{SHOWN_DIR}/w.txt" in {item["path"] for item in recursive.json()}

    asked = [SHOWN_CAFE, f"{SHOWN_DIR}/w.txt"]
    info = api.post(f"/api/models/{repo}/paths-info/main", json={"paths": asked, "expand": True})
    assert info.status_code == 200, info.text
    assert [item["path"] for item in info.json()] == [SHOWN_CAFE, f"{SHOWN_DIR}/w.txt"]
    # JSON may carry a lone surrogate (`\udce9`, Python's surrogateescape of 0xE9): it is not
    # text, so the parsing layer refuses it, naming the field (sent as ASCII JSON, which
    # httpx's encoder would refuse).
    surrogate = api.post(
        f"/api/models/{repo}/paths-info/main",
        content=json.dumps({"paths": [*asked, "caf\udce9.txt"]}),
        headers={"content-type": "application/json"},
    )
    assert surrogate.status_code == 422 and "paths" in surrogate.json()["error"], surrogate.text
    form = api.post(f"/api/models/{repo}/paths-info/main", data={"paths": [SHOWN_DIR]})
    assert [(i["path"], i["type"]) for i in form.json()] == [(SHOWN_DIR, "directory")]

    revision = api.get(f"/api/models/{repo}/revision/main", params={"blobs": "true"})
    assert revision.status_code == 200, revision.text
    siblings = {s["rfilename"] for s in revision.json()["siblings"]}
    assert {SHOWN_CAFE, f"{SHOWN_DIR}/w.txt"} <= siblings

    resolved = api.get(f"/{repo}/resolve/main/{quote(SHOWN_CAFE)}")
    assert resolved.status_code == 200, resolved.text
    assert resolved.content == b"a Latin-1 name\n"
    assert "filename*=UTF-8''caf%5Cxe9.txt" in resolved.headers["content-disposition"]
    raw = api.get(f"/{repo}/raw/main/{quote(SHOWN_DIR)}/w.txt")
    assert raw.status_code == 200 and raw.content == b"inside\n"
    assert api.head(f"/{repo}/resolve/main/{quote(SHOWN_CAFE)}").status_code == 200
    missing = api.get(f"/{repo}/resolve/main/caf%5Cxe8.txt")
    assert missing.status_code == 404 and missing.headers["x-repo-commit"] == latin1.head

    compared = api.get(f"/api/models/{repo}/compare/before...main")
    assert compared.status_code == 200, compared.text
    changed = {f["path"] for f in compared.json()["files"]["changed"]}
    assert {SHOWN_CAFE, f"{SHOWN_DIR}/w.txt", "ok-é.txt"} <= changed


def test_pages_show_the_name_message_and_author_escaped(latin1: Pushed, api: httpx.Client) -> None:
    repo = latin1.repo
    pages = {
        "tree": f"/{repo}",
        "dir": f"/{repo}/tree/main/{quote(SHOWN_DIR)}",
        "blob": f"/{repo}/blob/main/{quote(SHOWN_CAFE)}",
        "commit": f"/{repo}/commit/{latin1.head}",
        "commits": f"/{repo}/commits/main",
        "compare": f"/{repo}/compare/before...main",
    }
    html = {}
    for kind, path in pages.items():
        page = api.get(path)
        assert page.status_code == 200, f"{kind}: {page.status_code} {page.text[:500]}"
        html[kind] = page.text

    assert f">{SHOWN_CAFE}<" in html["tree"]
    assert f'href="/{repo}/blob/main/caf%5Cxe9.txt"' in html["tree"]
    assert f'href="/{repo}/tree/main/d%5Cxfcr"' in html["tree"]
    assert "w.txt" in html["dir"]
    assert SHOWN_CAFE in html["blob"] and "a Latin-1 name" in html["blob"]
    for kind in ("commit", "compare"):
        assert SHOWN_CAFE in html[kind] and f"{SHOWN_DIR}/w.txt" in html[kind], kind
    assert SHOWN_TITLE in html["commit"] and "body d\\xfcr" in html["commit"]
    assert SHOWN_TITLE in html["commits"] and SHOWN_AUTHOR in html["commits"]
    # Every byte shows, none is replaced by U+FFFD, the compare page's commit list included.
    assert SHOWN_TITLE in html["compare"]
    assert "\ufffd" not in "".join(html.values())


def test_large_latin1_file_is_refused_with_its_name_escaped(latin1: Pushed, git: Git) -> None:
    name = b"gro\xdf.bin"
    write(latin1.src, name, os.urandom(11 * MB))
    git("add", "-A", cwd=latin1.src)
    git("commit", "-q", "-m", "add weights", cwd=latin1.src)

    refused = raw_git(git, "push", latin1.url, "main", cwd=latin1.src)

    stderr = refused.stderr.decode("utf-8")  # escaped: no byte of the name is raw
    assert refused.returncode != 0
    assert "Traceback" not in stderr
    assert "pre-receive hook declined" in stderr
    assert "remote:   gro\\xdf.bin (11.0 MB)" in stderr
    assert 'git lfs track "*.bin"' in stderr
    remote_main = git("ls-remote", latin1.url, "refs/heads/main").stdout.split()[0]
    assert remote_main == latin1.head


def test_a_ref_name_that_is_not_utf8_is_refused_with_a_reason(
    latin1: Pushed, git: Git, api: httpx.Client
) -> None:
    refused = raw_git(git, "push", latin1.url, b"main:refs/heads/caf\xe9", cwd=latin1.src)

    assert refused.returncode != 0
    assert b"ref names must be UTF-8" in refused.stderr
    assert b"Traceback" not in refused.stderr
    refs = api.get(f"/api/models/{latin1.repo}/refs").json()
    assert {b["name"] for b in refs["branches"]} == {"main", "before"}
