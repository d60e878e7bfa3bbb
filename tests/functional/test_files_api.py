"""`/resolve`, `/raw`, the tree API and paths-info over HTTP, on content pushed with real git.

LFS objects are written through the domain (stored bytes + a grant for the repo's network), then
their pointers are committed with git, exactly as a `git lfs push` would leave things.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete

from repohub.db.models import LfsGrant
from repohub.repos.context import Hub
from repohub.repos.lfs import record_upload
from repohub.repos.service import RepoKey, find_repo
from tests.conftest import User
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server, Stack

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SHA1 = re.compile(r"^[0-9a-f]{40}$")


def blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def pointer(data: bytes) -> str:
    oid = hashlib.sha256(data).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"


def upload_lfs(hub: Hub, repo: str, data: bytes, repo_type: str = "model") -> str:
    """What the LFS upload API will do: store verified bytes, grant them to the network."""
    oid = hashlib.sha256(data).hexdigest()
    hub.lfs.receive(oid, len(data), io.BytesIO(data))
    owner, name = repo.split("/")
    with hub.sessions.begin() as session:
        found = find_repo(session, RepoKey(repo_type, owner, name))
        assert found is not None
        record_upload(session, found.network_id, oid, len(data))
    return oid


@dataclass
class Published:
    """A repo with regular files, nested dirs, a name with a space, an LFS file and a
    `feat/x` branch; `files` is the content at `main`."""

    owner: User
    repo: str
    first: str
    main: str
    feat: str
    files: dict[str, bytes]
    lfs_data: bytes
    lfs_oid: str

    @property
    def pointer(self) -> bytes:
        return self.files["weights.bin"]


def publish(
    hub: Hub,
    server: Server,
    git: Git,
    workdir: Path,
    owner: User,
    repo: str,
    repo_type: str = "model",
) -> Published:
    lfs_data = os.urandom(3 * 1024 * 1024 + 17)
    oid = upload_lfs(hub, repo, lfs_data, repo_type)
    files = {
        "README.md": b"# demo\n",
        "config.json": b'{"hidden": 8}\n',
        "big.bin": os.urandom(2 * 1024 * 1024 + 5),
        "dir/with space.txt": b"spaced out\n",
        "dir/sub/nested.txt": b"deep\n",
        "weights.bin": pointer(lfs_data).encode(),
    }
    src = git.init_repo(workdir / "src", dict(files), "first commit")
    first = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    files["config.json"] = b'{"hidden": 16}\n'
    main = git.commit(src, {"config.json": files["config.json"]}, "Bigger model\n\nmore units")
    git("checkout", "-q", "-b", "feat/x", cwd=src)
    feat = git.commit(src, {"feat.txt": "feature\n"}, "feature work")
    prefix = "datasets/" if repo_type == "dataset" else ""
    git("push", "-q", remote(server, prefix + repo, owner), "main", "feat/x", cwd=src)
    return Published(owner, repo, first, main, feat, files, lfs_data, oid)


@pytest.fixture
def published(
    hub: Hub, server: Server, git: Git, tmp_path: Path, make_user, make_repo
) -> Published:
    owner = make_user("files")
    return publish(hub, server, git, tmp_path, owner, make_repo(owner))


def _backend_redirects(stack: Stack) -> bool:
    return stack.name == "production"


# --- /resolve: regular files ------------------------------------------------------------------


def test_regular_file_head_and_get(api: httpx.Client, published: Published) -> None:
    for path in ("README.md", "big.bin", "dir/with space.txt", "dir/sub/nested.txt"):
        data = published.files[path]
        url = f"/{published.repo}/resolve/main/{path.replace(' ', '%20')}"
        head = api.head(url)
        assert head.status_code == 200, (path, head.headers)
        assert head.content == b""
        assert head.headers["X-Repo-Commit"] == published.main
        assert head.headers["ETag"] == f'"{blob_sha1(data)}"'
        assert head.headers["Content-Length"] == str(len(data))
        assert head.headers["Accept-Ranges"] == "bytes"
        assert path.rsplit("/", 1)[-1] in head.headers["Content-Disposition"].replace("%20", " ")
        assert "X-Linked-Etag" not in head.headers and "X-Linked-Size" not in head.headers
        got = api.get(url)
        assert got.status_code == 200 and got.content == data
        assert got.headers["ETag"] == head.headers["ETag"]
        assert got.headers["Content-Length"] == str(len(data))


def test_regular_file_ranges(api: httpx.Client, published: Published) -> None:
    data = published.files["big.bin"]
    url = f"/{published.repo}/resolve/main/big.bin"
    cases = {
        "bytes=2-5": (2, 5),
        "bytes=1048570-": (1048570, len(data) - 1),
        "bytes=-3": (len(data) - 3, len(data) - 1),
        "bytes=10-99999999": (10, len(data) - 1),
    }
    for header, (start, end) in cases.items():
        r = api.get(url, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
        assert r.content == data[start : end + 1]
        assert r.headers["X-Repo-Commit"] == published.main
    for header in (f"bytes={len(data)}-", "bytes=-0", "bytes=9-3"):
        r = api.get(url, headers={"Range": header})
        assert r.status_code == 416, header
        assert r.headers["Content-Range"] == f"bytes */{len(data)}"
    assert api.get(url, headers={"Range": "bytes=0-1,4-5"}).status_code == 200, "multi-range"


# --- /resolve: LFS files ----------------------------------------------------------------------


def test_lfs_file_head_and_get(api: httpx.Client, stack: Stack, published: Published) -> None:
    url = f"/{published.repo}/resolve/main/weights.bin"
    size = str(len(published.lfs_data))
    head = api.head(url)
    assert head.status_code == 200, "HEAD answers 200 with the metadata on every backend"
    assert head.headers["X-Repo-Commit"] == published.main
    assert head.headers["ETag"] == f'"{published.lfs_oid}"'
    assert head.headers["X-Linked-Etag"] == f'"{published.lfs_oid}"'
    assert head.headers["X-Linked-Size"] == size
    assert head.headers["Content-Length"] == size

    got = api.get(url)
    if _backend_redirects(stack):
        assert got.status_code == 302
        for name in ("X-Repo-Commit", "ETag", "X-Linked-Etag", "X-Linked-Size"):
            assert got.headers[name] == head.headers[name], name
        location = got.headers["Location"]
        assert not location.startswith(api.base_url.scheme + "://" + api.base_url.netloc.decode())
        with httpx.Client(timeout=60) as anonymous:  # a presigned URL needs no credentials
            direct = anonymous.get(location)
        assert direct.status_code == 200 and direct.content == published.lfs_data
    else:
        assert got.status_code == 200 and got.content == published.lfs_data
        assert got.headers["Content-Length"] == size


def test_lfs_file_ranges(api: httpx.Client, published: Published) -> None:
    url = f"/{published.repo}/resolve/main/weights.bin"
    data = published.lfs_data
    for header, (start, end) in {
        "bytes=0-9": (0, 9),
        "bytes=2097152-": (2097152, len(data) - 1),
        "bytes=-100": (len(data) - 100, len(data) - 1),
    }.items():
        r = api.get(url, headers={"Range": header}, follow_redirects=True)
        assert r.status_code == 206, header
        assert r.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
        assert r.content == data[start : end + 1]
    r = api.get(url, headers={"Range": f"bytes={len(data)}-"}, follow_redirects=True)
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(data)}"


def test_raw_serves_the_git_blob(api: httpx.Client, published: Published) -> None:
    r = api.get(f"/{published.repo}/raw/main/weights.bin")
    assert r.status_code == 200 and r.content == published.pointer
    assert r.headers["ETag"] == f'"{blob_sha1(published.pointer)}"'
    assert "X-Linked-Etag" not in r.headers
    assert api.get(f"/{published.repo}/raw/main/README.md").content == b"# demo\n"
    assert api.head(f"/{published.repo}/raw/main/nope").status_code == 404


def test_lfs_pointer_needs_a_grant_in_this_network(
    api: httpx.Client, hub: Hub, server: Server, git: Git, tmp_path: Path, make_user, make_repo
) -> None:
    """The object's bytes being in storage is not enough: this repo's network must hold a grant.

    The pre-receive hook refuses pointers to objects a network never uploaded, so the state is
    made by withdrawing the grant after a legitimate push (as for pushes older than the hook).
    """
    alice, mallory = make_user("alice"), make_user("mallory")
    secret = os.urandom(4096)
    upload_lfs(hub, make_repo(alice, private=True), secret)
    theirs = make_repo(mallory)
    oid = upload_lfs(hub, theirs, secret)
    src = git.init_repo(tmp_path / "m", {"stolen.bin": pointer(secret)})
    git("push", "-q", remote(server, theirs, mallory), "main", cwd=src)
    assert api.head(f"/{theirs}/resolve/main/stolen.bin").status_code == 200

    with hub.sessions.begin() as session:
        owner, name = theirs.split("/")
        found = find_repo(session, RepoKey("model", owner, name))
        assert found is not None
        session.execute(delete(LfsGrant).where(LfsGrant.network_id == found.network_id))
    assert hub.lfs.size(oid) == len(secret), "alice's copy is still stored"
    for method in ("HEAD", "GET"):
        r = api.request(method, f"/{theirs}/resolve/main/stolen.bin", headers=mallory.auth)
        assert r.status_code == 404, method
        assert r.headers["X-Error-Code"] == "EntryNotFound"
        assert SHA1.match(r.headers["X-Repo-Commit"])
    assert (
        f"LFS object {oid} of stolen.bin has not been uploaded to this repository"
        in r.json()["error"]
    )
    raw = api.get(f"/{theirs}/raw/main/stolen.bin", headers=mallory.auth)
    assert raw.status_code == 200 and raw.content == pointer(secret).encode()


# --- errors -----------------------------------------------------------------------------------


def test_missing_entry_carries_the_commit(api: httpx.Client, published: Published) -> None:
    for path in ("nope.txt", "dir", "dir/sub", "README.md/x", "dir/nope/deeper"):
        for method in ("HEAD", "GET"):
            r = api.request(method, f"/{published.repo}/resolve/main/{path}")
            assert r.status_code == 404, (method, path)
            assert r.headers["X-Error-Code"] == "EntryNotFound"
            assert r.headers["X-Repo-Commit"] == published.main
    r = api.get(f"/{published.repo}/resolve/{published.first}/feat.txt")
    assert r.status_code == 404 and r.headers["X-Repo-Commit"] == published.first


def test_bad_revision_and_missing_repo(api: httpx.Client, published: Published) -> None:
    for method in ("HEAD", "GET"):
        r = api.request(method, f"/{published.repo}/resolve/nope/README.md")
        assert r.status_code == 404 and r.headers["X-Error-Code"] == "RevisionNotFound"
        r = api.request(method, f"/{published.owner.name}/missing/resolve/main/README.md")
        assert r.status_code == 404 and r.headers["X-Error-Code"] == "RepoNotFound"
    r = api.get(f"/api/models/{published.repo}/tree/nope")
    assert r.status_code == 404 and r.headers["X-Error-Code"] == "RevisionNotFound"
    r = api.get(f"/datasets/{published.repo}/resolve/main/README.md")
    assert r.status_code == 404 and r.headers["X-Error-Code"] == "RepoNotFound", "not a dataset"


def test_private_repo_is_invisible_to_others(
    api: httpx.Client, hub: Hub, server: Server, git: Git, tmp_path: Path, make_user, make_repo
) -> None:
    owner, other = make_user("owner"), make_user("other")
    repo = make_repo(owner, private=True)
    src = git.init_repo(tmp_path / "src", {"secret.txt": "weights"})
    git("push", "-q", remote(server, repo, owner), "main", cwd=src)
    urls = [
        f"/{repo}/resolve/main/secret.txt",
        f"/{repo}/raw/main/secret.txt",
        f"/{repo}/resolve/main/missing.txt",
        f"/api/models/{repo}/tree/main",
    ]
    for url in urls:
        for headers in ({}, other.auth):
            r = api.get(url, headers=headers)
            assert r.status_code == 404 and r.headers["X-Error-Code"] == "RepoNotFound", url
            assert "X-Repo-Commit" not in r.headers
    r = api.post(f"/api/models/{repo}/paths-info/main", data={"paths": ["secret.txt"]})
    assert r.status_code == 404
    assert api.head(urls[0]).headers["X-Error-Code"] == "RepoNotFound"
    assert api.get(urls[0], headers=owner.auth).content == b"weights"
    read_only = {"Authorization": f"Bearer {owner.read_token}"}
    assert api.head(urls[0], headers=read_only).status_code == 200


# --- revisions --------------------------------------------------------------------------------


def test_revisions_escaped_branches_and_shas(api: httpx.Client, published: Published) -> None:
    r = api.get(f"/{published.repo}/resolve/feat%2Fx/feat.txt")
    assert r.status_code == 200 and r.content == b"feature\n"
    assert r.headers["X-Repo-Commit"] == published.feat
    r = api.head(f"/{published.repo}/resolve/feat%2Fx/dir/with%20space.txt")
    assert r.status_code == 200 and r.headers["X-Repo-Commit"] == published.feat
    assert api.get(f"/{published.repo}/resolve/main/feat.txt").status_code == 404
    for rev in (published.first, published.main[:7], "refs%2Fheads%2Fmain"):
        r = api.head(f"/{published.repo}/resolve/{rev}/config.json")
        assert r.status_code == 200, rev
        assert len(r.headers["X-Repo-Commit"]) == 40
    tree = api.get(f"/api/models/{published.repo}/tree/feat%2Fx").json()
    assert "feat.txt" in {e["path"] for e in tree}


# --- tree listing -----------------------------------------------------------------------------


def test_tree_listing(api: httpx.Client, published: Published) -> None:
    base = f"/api/models/{published.repo}/tree/main"
    top = api.get(base, params={"recursive": "false", "expand": "false"})
    assert top.status_code == 200 and "Link" not in top.headers
    entries = {e["path"]: e for e in top.json()}
    assert set(entries) == {"README.md", "config.json", "big.bin", "dir", "weights.bin"}
    assert entries["dir"]["type"] == "directory" and SHA1.match(entries["dir"]["oid"])
    readme = entries["README.md"]
    assert readme == {"type": "file", "oid": blob_sha1(b"# demo\n"), "size": 7, "path": "README.md"}
    weights = entries["weights.bin"]
    assert weights["oid"] == blob_sha1(published.pointer)
    assert weights["size"] == len(published.lfs_data)
    assert weights["lfs"] == {
        "oid": published.lfs_oid,
        "size": len(published.lfs_data),
        "pointerSize": len(published.pointer),
    }

    everything = api.get(base, params={"recursive": "True"}).json()
    paths = [e["path"] for e in everything]
    assert set(paths) == set(published.files) | {"dir", "dir/sub"}
    assert paths.index("dir") < paths.index("dir/sub") < paths.index("dir/sub/nested.txt")

    sub = api.get(f"{base}/dir").json()
    assert {e["path"] for e in sub} == {"dir/sub", "dir/with space.txt"}
    for spelled in ("dir%2Fsub", "dir/sub"):
        nested = api.get(f"{base}/{spelled}").json()
        assert [e["path"] for e in nested] == ["dir/sub/nested.txt"], spelled
    deep = api.get(f"{base}/dir", params={"recursive": "true"}).json()
    assert {e["path"] for e in deep} == {"dir/sub", "dir/sub/nested.txt", "dir/with space.txt"}

    for missing in ("nope", "README.md", "dir%2Fnope"):
        r = api.get(f"{base}/{missing}")
        assert r.status_code == 404 and r.headers["X-Error-Code"] == "EntryNotFound", missing
    pinned = api.get(f"/api/models/{published.repo}/tree/{published.first}").json()
    config = next(e for e in pinned if e["path"] == "config.json")
    assert config["oid"] == blob_sha1(b'{"hidden": 8}\n'), "a listing at a commit never moves"


def test_tree_expand_gives_last_commits(api: httpx.Client, published: Published) -> None:
    r = api.get(f"/api/models/{published.repo}/tree/main", params={"expand": "true"})
    last = {e["path"]: e["lastCommit"] for e in r.json()}
    assert last["config.json"]["id"] == published.main
    assert last["config.json"]["title"] == "Bigger model"
    for path in ("README.md", "dir", "weights.bin"):
        assert last[path]["id"] == published.first, path
        assert last[path]["title"] == "first commit"
    assert all(DATE.match(c["date"]) for c in last.values())
    feat = api.get(f"/api/models/{published.repo}/tree/feat%2Fx", params={"expand": "true"})
    assert {e["path"]: e["lastCommit"]["id"] for e in feat.json()}["feat.txt"] == published.feat


def test_tree_pages_with_absolute_links(
    api: httpx.Client, server: Server, git: Git, tmp_path: Path, make_user, make_repo
) -> None:
    owner = make_user("pages")
    repo = make_repo(owner)
    files = {f"many/f{i:04d}.txt": f"{i}\n" for i in range(1003)}
    src = git.init_repo(tmp_path / "src", files)
    git("push", "-q", remote(server, repo, owner), "main", cwd=src)

    listed: list[str] = []
    url: str | None = f"/api/models/{repo}/tree/main/many"
    while url:
        r = api.get(url, params=None if listed else {"recursive": "false", "expand": "false"})
        assert r.status_code == 200
        listed += [e["path"] for e in r.json()]
        link = r.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        assert url is None or url.startswith(server.url), "the client fetches it verbatim"
    assert listed == sorted(files)

    first = api.get(f"/api/models/{repo}/tree/main/many", params={"expand": "true"})
    assert len(first.json()) == 50 and 'rel="next"' in first.headers["Link"]
    assert all("lastCommit" in e for e in first.json())


# --- paths-info and repo info -----------------------------------------------------------------


def test_paths_info(api: httpx.Client, published: Published) -> None:
    url = f"/api/models/{published.repo}/paths-info/main"
    body = {"paths": ["weights.bin", "dir", "missing.txt", "dir/with space.txt"], "expand": "false"}
    r = api.post(url, data=body)
    assert r.status_code == 200
    entries = {e["path"]: e for e in r.json()}
    assert set(entries) == {"weights.bin", "dir", "dir/with space.txt"}
    assert entries["dir"]["type"] == "directory"
    assert entries["weights.bin"]["lfs"]["oid"] == published.lfs_oid
    assert entries["dir/with space.txt"]["size"] == len(b"spaced out\n")
    expanded = api.post(url, data={"paths": ["config.json"], "expand": "True"}).json()
    assert expanded[0]["lastCommit"]["id"] == published.main
    feat = api.post(f"/api/models/{published.repo}/paths-info/feat%2Fx", data={"paths": "feat.txt"})
    assert [e["path"] for e in feat.json()] == ["feat.txt"]
    r = api.post(f"/api/models/{published.repo}/paths-info/nope", data={"paths": "x"})
    assert r.status_code == 404 and r.headers["X-Error-Code"] == "RevisionNotFound"


def test_repo_info_siblings_with_blobs(api: httpx.Client, published: Published) -> None:
    plain = api.get(f"/api/models/{published.repo}").json()["siblings"]
    assert all(set(s) == {"rfilename"} for s in plain)
    for query in ({"blobs": "true"}, {"blobs": "True"}):
        info = api.get(f"/api/models/{published.repo}/revision/main", params=query).json()
        siblings = {s["rfilename"]: s for s in info["siblings"]}
        assert set(siblings) == set(published.files)
        assert siblings["README.md"] == {
            "rfilename": "README.md",
            "size": 7,
            "blobId": blob_sha1(b"# demo\n"),
        }
        assert siblings["weights.bin"]["lfs"] == {
            "sha256": published.lfs_oid,
            "size": len(published.lfs_data),
            "pointerSize": len(published.pointer),
        }


def test_dataset_downloads(
    api: httpx.Client, hub: Hub, server: Server, git: Git, tmp_path: Path, make_user, make_repo
) -> None:
    owner = make_user("data")
    repo = make_repo(owner, repo_type="dataset")
    published = publish(hub, server, git, tmp_path, owner, repo, "dataset")
    r = api.get(f"/datasets/{repo}/resolve/main/dir/sub/nested.txt")
    assert r.status_code == 200 and r.content == b"deep\n"
    assert r.headers["X-Repo-Commit"] == published.main
    head = api.head(f"/datasets/{repo}/resolve/feat%2Fx/weights.bin")
    assert head.status_code == 200 and head.headers["X-Linked-Etag"] == f'"{published.lfs_oid}"'
    tree = api.get(f"/api/datasets/{repo}/tree/main/dir", params={"recursive": "true"}).json()
    assert len(tree) == 3
    assert api.get(f"/{repo}/resolve/main/README.md").status_code == 404, "not a model"
