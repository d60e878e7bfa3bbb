"""RepoHub's shipped push policies and an administrator's site hooks, through the real `git`.

The shipped pre-receive hooks refuse large non-LFS files and LFS pointers whose objects this
repo's network never received; a site hook refuses or comments like a hook on a git server.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from repohub.repos.context import Hub
from repohub.repos.lfs import record_upload
from repohub.repos.service import RepoKey, find_repo
from tests.conftest import User
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server, Stack, running_server

MB = 1024**2
DECLINED = "pre-receive hook declined"


def network_of(hub: Hub, repo: str) -> int:
    owner, name = repo.split("/")
    with hub.sessions() as session:
        found = find_repo(session, RepoKey("model", owner, name))
        assert found is not None
        return found.network_id


def lfs_pointer(data: bytes) -> tuple[str, str]:
    """(oid, pointer file text) as `git lfs` would commit them for `data`."""
    oid = hashlib.sha256(data).hexdigest()
    text = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"
    return oid, text


def upload(hub: Hub, network_id: int, data: bytes) -> None:
    """What the LFS API does for an upload: verified bytes, then the network's grant."""
    oid = hashlib.sha256(data).hexdigest()
    hub.lfs.receive(oid, len(data), io.BytesIO(data))
    with hub.sessions.begin() as session:
        record_upload(session, network_id, oid, len(data))


def remote_refs(git: Git, url: str) -> dict[str, str]:
    lines = git("ls-remote", url).stdout.splitlines()
    return {ref: sha for sha, ref in (line.split("\t") for line in lines)}


def stored_packs(hub: Hub, network_id: int) -> list[str]:
    return sorted(info.key for info in hub.blobs.list(f"git/{network_id}/"))


def seeded(git: Git, tmp_path: Path, server: Server, repo: str, owner: User) -> Path:
    """A clone-like working copy whose first commit is already pushed."""
    src = git.init_repo(tmp_path / "src", {"README.md": "# policies\n"})
    git("push", remote(server, repo, owner), "main", cwd=src)
    return src


def test_large_non_lfs_file_is_refused_with_a_hint(
    server, hub, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    url = remote(server, repo, alice)
    src = seeded(git, tmp_path, server, repo, alice)
    before, packs = remote_refs(git, url), stored_packs(hub, network_of(hub, repo))
    git.commit(src, {"weights/model.bin": os.urandom(11 * MB)}, "add weights")

    refused = git("push", url, "main", cwd=src, check=False)

    assert refused.returncode != 0
    assert DECLINED in refused.stderr
    assert "remote: RepoHub: files above 10.0 MB must be stored with Git LFS" in refused.stderr
    assert "weights/model.bin (11.0 MB)" in refused.stderr
    assert 'git lfs track "*.bin"' in refused.stderr
    assert "git add .gitattributes" in refused.stderr
    assert remote_refs(git, url) == before
    assert stored_packs(hub, network_of(hub, repo)) == packs


def test_file_below_the_threshold_is_accepted(
    server, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    url = remote(server, repo, alice)
    src = seeded(git, tmp_path, server, repo, alice)
    head = git.commit(src, {"data/table.bin": os.urandom(9 * MB)}, "add data")

    pushed = git("push", url, "main", cwd=src)

    assert "remote:" not in pushed.stderr, "an accepted push gets no policy message"
    assert remote_refs(git, url)["refs/heads/main"] == head


def test_pointer_to_an_object_never_uploaded_is_refused(
    server, hub, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    url = remote(server, repo, alice)
    src = seeded(git, tmp_path, server, repo, alice)
    before = remote_refs(git, url)
    oid, pointer = lfs_pointer(os.urandom(4096))
    git.commit(src, {"model.safetensors": pointer}, "pointer without its object")

    refused = git("push", url, "main", cwd=src, check=False)

    assert refused.returncode != 0
    assert DECLINED in refused.stderr
    assert f"model.safetensors (sha256:{oid}, 4096 bytes)" in refused.stderr
    assert "git lfs push --all origin" in refused.stderr
    assert remote_refs(git, url) == before


def test_pointer_to_an_object_uploaded_to_the_network_is_accepted(
    server, hub, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    url = remote(server, repo, alice)
    src = seeded(git, tmp_path, server, repo, alice)
    data = os.urandom(2048)
    upload(hub, network_of(hub, repo), data)
    _, pointer = lfs_pointer(data)
    head = git.commit(src, {"model.safetensors": pointer, "notes.txt": "small\n"}, "weights")

    git("push", url, "main", cwd=src)

    assert remote_refs(git, url)["refs/heads/main"] == head


def test_object_uploaded_only_to_another_network_is_refused(
    server, hub, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    """A pointer copied from someone else's repo does not unlock their object."""
    alice, mallory = make_user("alice"), make_user("mallory")
    theirs, mine = make_repo(alice), make_repo(mallory)
    data = os.urandom(3000)
    upload(hub, network_of(hub, theirs), data)
    assert network_of(hub, theirs) != network_of(hub, mine)
    url = remote(server, mine, mallory)
    src = seeded(git, tmp_path, server, mine, mallory)
    before = remote_refs(git, url)
    oid, pointer = lfs_pointer(data)
    git.commit(src, {"stolen.bin": pointer}, "someone else's weights")

    refused = git("push", url, "main", cwd=src, check=False)

    assert refused.returncode != 0
    assert f"stolen.bin (sha256:{oid}, 3000 bytes)" in refused.stderr
    assert remote_refs(git, url) == before


SITE_PRE_RECEIVE = """#!/bin/sh
while read old new ref; do
  if [ "$ref" = refs/heads/frozen ]; then
    echo "site policy: $ref of $REPOHUB_REPO is frozen (pusher: $REPOHUB_PUSHER)"
    exit 1
  fi
done
"""
SITE_POST_RECEIVE = """#!/bin/sh
while read old new ref; do
  echo "site post-receive: $ref is now $(git rev-parse --short "$new")"
done
"""


@pytest.fixture(scope="module")
def site_server(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of the same stack with a site hooks directory beside RepoHub's own hooks."""
    site = tmp_path_factory.mktemp("site-hooks")
    (site / "pre-receive.d").mkdir()
    hook = site / "pre-receive.d" / "50-frozen"
    hook.write_text(SITE_PRE_RECEIVE)
    (site / "post-receive").write_text(SITE_POST_RECEIVE)
    for path in (hook, site / "post-receive"):
        path.chmod(0o755)
    with running_server(stack, extra_env={"REPOHUB_SITE_HOOKS_DIR": str(site)}) as running:
        yield running


def test_site_hooks_refuse_and_report_to_the_pusher(
    site_server, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    url = remote(site_server, repo, alice)
    src = git.init_repo(tmp_path / "src", {"a.txt": "a"})
    head = git("rev-parse", "--short", "HEAD", cwd=src).stdout.strip()

    pushed = git("push", "-q", url, "main", cwd=src)
    assert f"remote: site post-receive: refs/heads/main is now {head}" in pushed.stderr

    refused = git("push", url, "main:frozen", cwd=src, check=False)
    assert refused.returncode != 0
    assert DECLINED in refused.stderr
    expected = f"remote: site policy: refs/heads/frozen of {repo} is frozen (pusher: {alice.name})"
    assert expected in refused.stderr
    assert "refs/heads/frozen" not in remote_refs(git, url)
