"""The read scenario through every `huggingface_hub` release users run, on both storage stacks.

Each release in `HF_VERSIONS` runs `tests/support/hf_scenarios/read.py` in its own cached side
venv, pointed at the live server by HF_ENDPOINT and HF_TOKEN, against a repo that the test
pushed with real `git` and `git lfs` first: three commits on `main` (the middle one tagged),
a branch, nested and spaced paths and one LFS file. A release that differs in API is adapted
to by the scenario (feature detection), never skipped.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import User
from tests.functional.test_files_api import blob_sha1
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.hfclient import HF_VERSIONS, run_scenario
from tests.support.stack import Server

BRANCH, TAG = "feat/x", "v1.0"
PATTERNS = ["*.json", "dir/*"]  # fnmatch: `dir/*` also takes `dir/sub/nested.txt`


@dataclass(frozen=True)
class Pushed:
    """What the scenario will find: `files` is the tree at `main`; `configs` the three
    successive `config.json` bodies (first commit, the tagged one, `main`)."""

    owner: User
    repo: str
    first: str
    tagged: str
    main: str
    feat: str
    files: dict[str, bytes]
    configs: tuple[bytes, bytes, bytes]
    lfs_data: bytes

    @property
    def lfs_oid(self) -> str:
        return hashlib.sha256(self.lfs_data).hexdigest()


def _push(git: Git, server: Server, workdir: Path, owner: User, repo: str) -> Pushed:
    """Commit with `git lfs` tracking `*.bin` and push the branches and an annotated tag, the
    way a user publishes: the LFS object goes through the server's batch API."""
    git("lfs", "install", "--skip-repo")
    src = workdir / "src"
    src.mkdir(parents=True)
    git("init", "-q", "-b", "main", str(src))
    git("lfs", "track", "*.bin", cwd=src)
    lfs_data = os.urandom(1024 * 1024 + 7)
    configs = (b'{"hidden": 8}\n', b'{"hidden": 16}\n', b'{"hidden": 32}\n')
    tree: dict[str, str | bytes] = {
        "README.md": b"# versions\n",
        "config.json": configs[0],
        "dir/with space.txt": b"spaced out\n",
        "dir/sub/nested.txt": b"deep\n",
        "weights.bin": lfs_data,
    }
    first = git.commit(src, tree, "first")
    tagged = git.commit(src, {"config.json": configs[1]}, "wider")
    git("tag", "-a", TAG, "-m", "release", cwd=src)
    main = git.commit(src, {"config.json": configs[2]}, "wider still")
    git("checkout", "-q", "-b", BRANCH, cwd=src)
    feat = git.commit(src, {"feat.txt": b"feature\n"}, "feature work")
    git("push", "-q", remote(server, repo, owner), "main", BRANCH, TAG, cwd=src, timeout=600)
    listed = git("ls-tree", "-r", "--name-only", "main", cwd=src).stdout.splitlines()
    files = {path: _blob(git, src, f"main:{path}") for path in listed}
    assert files["weights.bin"].startswith(b"version https://git-lfs"), "git lfs was active"
    return Pushed(owner, repo, first, tagged, main, feat, files, configs, lfs_data)


def _blob(git: Git, src: Path, spec: str) -> bytes:
    """A blob as git stores it (the pointer, for the LFS file), read back as bytes."""
    out = subprocess.run(
        ["git", "cat-file", "blob", spec], cwd=src, env=git.env, capture_output=True, check=True
    )
    return out.stdout


@pytest.fixture
def pushed(server: Server, git: Git, tmp_path: Path, make_user, make_repo) -> Pushed:
    owner = make_user("hfv")
    return _push(git, server, tmp_path / "push", owner, make_repo(owner))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _siblings(pushed: Pushed) -> dict[str, list[Any]]:
    """What `files_metadata=True` must say per file: size (the real one for LFS), the git blob
    id (of the pointer, for LFS) and the LFS sha256 and size."""
    out: dict[str, list[Any]] = {}
    for path, data in pushed.files.items():
        if path == "weights.bin":
            size = len(pushed.lfs_data)
            out[path] = [size, blob_sha1(data), pushed.lfs_oid, size]
        else:
            out[path] = [len(data), blob_sha1(data), None, None]
    return out


def _download(data: bytes, commit: str, blob: str | None = None) -> dict[str, str]:
    return {"sha256": _sha(data), "snapshot": commit, "blob": blob or blob_sha1(data)}


@pytest.mark.parametrize("version", HF_VERSIONS)
def test_read_scenario(version: str, server: Server, tmp_path: Path, pushed: Pushed) -> None:
    owner = pushed.owner.name
    new_repo = f"{owner}/made-by-{version.replace('.', '-')}"
    out = run_scenario(
        version,
        "read",
        {
            "repo": pushed.repo,
            "owner": owner,
            "new_repo": new_repo,
            "missing": f"{owner}/does-not-exist",
            "refs": {"branch": BRANCH, "tag": TAG, "sha": pushed.first},
            "patterns": PATTERNS,
        },
        workdir=tmp_path / "client",
        endpoint=server.url,
        token=pushed.owner.token,
    )
    assert out["version"] == version
    assert out["whoami"] == owner

    assert out["created"] == [f"{server.url}/{new_repo}"] * 2
    assert out["create_conflict"]["is_expected"], out["create_conflict"]
    assert out["create_conflict"]["status"] == 409

    siblings = _siblings(pushed)
    assert out["model_info"] == {"sha": pushed.main, "id": pushed.repo, "siblings": siblings}
    assert out["repo_info"] == {"sha": pushed.main, "siblings": siblings}
    assert out["branch_sha"] == pushed.feat
    assert out["files"] == sorted(pushed.files)
    assert out["branch_files"] == sorted([*pushed.files, "feat.txt"])
    assert out["refs"] == {
        "branches": {"main": pushed.main, BRANCH: pushed.feat},
        "tags": {TAG: pushed.tagged},
    }

    first, tagged, latest = pushed.configs
    assert out["downloads"] == {
        "main": _download(latest, pushed.main),
        "lfs": _download(pushed.lfs_data, pushed.main, pushed.lfs_oid),
        "spaced": _download(b"spaced out\n", pushed.main),
        "branch": _download(b"feature\n", pushed.feat),
        "tag": _download(tagged, pushed.tagged),
        "sha": _download(first, pushed.first),
    }
    wanted = {"config.json", "dir/with space.txt", "dir/sub/nested.txt"}
    assert out["snapshot"] == {
        "commit": pushed.main,
        "files": {path: _sha(pushed.files[path]) for path in wanted},
    }
    assert out["models"] == sorted([pushed.repo, new_repo])

    expected = {
        "missing_repo_info": "RepositoryNotFoundError",
        "missing_repo_download": "RepositoryNotFoundError",
        "revision_download": "RevisionNotFoundError",
        "revision_info": "RevisionNotFoundError",
        "entry_download": "EntryNotFoundError",
    }
    assert set(out["errors"]) == set(expected)
    for case, error in out["errors"].items():
        assert error["is_expected"] and error["status"] == 404, (case, expected[case], error)
    assert out["error_modules"], "RepositoryNotFoundError is found somewhere"

    assert out["delete"]["missing_ok"] is True
    assert out["delete"]["again"]["is_expected"], out["delete"]["again"]
    assert out["delete"]["info_after"]["is_expected"], out["delete"]["info_after"]
    assert out["models_after"] == [pushed.repo]
