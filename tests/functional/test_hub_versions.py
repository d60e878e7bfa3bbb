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
import re
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
from tests.support.stack import Server, Stack

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


# The write scenario (`hf_scenarios/write.py`): names, inputs and what each release must leave.
WRITE_BRANCH, WRITE_TAG, TAG_MESSAGE = "feat/x", "v1.0", "release one"
SCRATCH_BRANCH, SCRATCH_TAG = "scratch/b", "scratch-tag"
WRITE_PATTERNS = ["sub/*", "*.md"]
CARD = b"---\nlicense: mit\ntags: [vision]\n---\n# Written by the version matrix\n"
# Releases whose `CommitOperationCopy` copies LFS files only: `_fetch_lfs_files_to_copy` raises
# NotImplementedError("Copying a non-LFS file is not implemented") before anything is sent.
LFS_ONLY_COPY = {"0.20.3"}
# Releases without `update_repo_settings(private=)`: 0.20 has `update_repo_visibility` only.
VISIBILITY_CALL = {"0.20.3": "update_repo_visibility"}
# Releases whose `create_commit` does not send an added README.md to `/api/validate-yaml`.
NO_CARD_CHECK = {"0.20.3"}
ACCESS = re.compile(r"repohub\.access request_id=\S+ (\S+) (.+) (\d{3}) [\d.]+ms$")
# The finish phase (`finish`): `HfFileSystem`, likes, settings, the move, private and delete.
FS_PATH, FS_TEXT = "data/new.csv", "a,b\n1,2\n"
RANGE_BYTES = 4096
DESCRIPTION = "Written by the version matrix"
# Releases with `HfApi.like` (later ones dropped it); the others send the Hub's call.
LIKE_CALL = {"0.20.3"}
# Releases without `update_repo_settings`: 0.20 sends the Hub's settings request for `gated`.
NO_SETTINGS_CALL = {"0.20.3"}
# Releases whose `update_repo_settings` takes `description`: none of the matrix.
DESCRIPTION_KEYWORD: set[str] = set()


def _requests(log: Path, start: int) -> list[tuple[str, str, int]]:
    """The server's access lines written since byte `start` of its log: method, path, status."""
    with log.open("rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    found = (ACCESS.search(line) for line in text.splitlines())
    return [(m[1], m[2], int(m[3])) for m in found if m]


def _check_requests(
    seen: list[tuple[str, str, int]], repo: str, inputs: WriteInputs, version: str, stack: str
) -> None:
    """What went over the wire in the write phase: no 5xx; the card checked (where the release
    does); both LFS files through preupload, one batch each and a PUT of exactly their oids
    (no Xet token asked for, no pull request opened) and every commit through the NDJSON route."""
    assert not [r for r in seen if r[2] >= 500], seen
    assert (("POST", "/api/validate-yaml", 200) in seen) is (version not in NO_CARD_CHECK)
    batches = [r for r in seen if r[:2] == ("POST", f"/{repo}.git/info/lfs/objects/batch")]
    assert [r[2] for r in batches] == [200, 200], batches
    puts = {r[1].removeprefix("/lfs-transfer/") for r in seen if r[0] == "PUT"}
    lfs = {_sha(inputs.files["model.bin"]), _sha(inputs.folder["c.safetensors"])}
    # Local blobs: the batch's hrefs are the server's own signed `/lfs-transfer/` URLs; on S3
    # they are presigned object-store URLs, so the bytes never pass the server's log.
    assert puts == (lfs if stack == "embedded" else set()), seen
    assert not [r for r in seen if "xet" in r[1] or "discussions" in r[1]], seen
    commits = [r for r in seen if r[:2] == ("POST", f"/api/models/{repo}/commit/main")]
    assert [r[2] for r in commits] == [200] * 5 + [412], commits  # 3 files, folder, ops, stale


@dataclass(frozen=True)
class WriteInputs:
    """The bytes the scenario uploads: `files` (by `upload_file`) and `folder` (by
    `upload_folder`), as written under `src` and `folder` on disk."""

    src: Path
    folder_path: Path
    files: dict[str, bytes]
    folder: dict[str, bytes]


def _write_inputs(root: Path) -> WriteInputs:
    files = {
        "README.md": CARD,
        "notes/hello.txt": b"hello\n",
        "model.bin": os.urandom(20 * 1024 * 1024 + 3),  # over the 10 MiB line, and `*.bin`
    }
    folder = {
        "sub/deep/a.txt": b"a\n",
        "sub/b.json": b'{"b": 1}\n',
        "dir with space/s.txt": b"spaced\n",
        "c.safetensors": os.urandom(300_000),  # LFS by `.gitattributes`, not by size
        "keep.txt": b"keep\n",
        "gone.txt": b"gone\n",
        "old/x.txt": b"x\n",
        "old/y.txt": b"y\n",
    }
    for base, tree in ((root / "src", files), (root / "folder", folder)):
        for path, data in tree.items():
            (base / path).parent.mkdir(parents=True, exist_ok=True)
            (base / path).write_bytes(data)
    return WriteInputs(root / "src", root / "folder", files, folder)


def _expected_main(inputs: WriteInputs, version: str) -> dict[str, bytes]:
    """The tree at `main` after the commit with every operation (less `.gitattributes`)."""
    tree = {**inputs.files, **inputs.folder, "new.txt": b"new\n"}
    for gone in ("notes/hello.txt", "gone.txt", "old/x.txt", "old/y.txt"):
        del tree[gone]
    tree["copy/model.bin"] = inputs.files["model.bin"]
    if version not in LFS_ONLY_COPY:
        tree["copy/keep.txt"] = inputs.folder["keep.txt"]
    return tree


LFS_PATHS = {"model.bin", "copy/model.bin", "c.safetensors"}


def _check_written(out: dict[str, Any], inputs: WriteInputs, version: str, url: str) -> None:
    repo_url = out["created"]
    assert repo_url.startswith(url + "/"), repo_url
    uploads, folder, ops = out["uploads"], out["folder"]["oid"], out["operations"]
    assert folder_pipeline_is_single(out), out["folder"]
    main = ops["oid"]
    assert out["main"] == main

    # One commit with add, delete, delete-folder and the copies; 0.20 refuses a regular copy
    # client-side, before any request that could move the branch.
    assert ops["copy_class"] is True
    assert ops["regular_copy"] is (version not in LFS_ONLY_COPY)
    if version in LFS_ONLY_COPY:
        assert ops["refused"] == {
            "raised": "NotImplementedError",
            "module": "builtins",
            "status": None,
            "message": "Copying a non-LFS file is not implemented",
        }
        assert ops["head_after_refusal"] == folder
    else:
        assert ops["refused"] is None

    stale = out["stale"]
    assert stale["is_expected"] and stale["status"] == 412, stale
    assert "updated since you opened this page" in stale["text"], stale
    assert stale["head_after"] == main

    expected = _expected_main(inputs, version)
    tree = dict(out["tree"])
    assert tree.pop(".gitattributes")[1] is None
    assert tree == {
        path: [len(data), _sha(data) if path in LFS_PATHS else None]
        for path, data in expected.items()
    }

    feat = out["refs"]["feat"]
    assert out["refs"]["before"] == {
        "branches": {"main": main, WRITE_BRANCH: feat, SCRATCH_BRANCH: main},
        "tags": {WRITE_TAG: main, SCRATCH_TAG: feat},
    }
    assert out["refs"]["after"] == {
        "branches": {"main": main, WRITE_BRANCH: feat},
        "tags": {WRITE_TAG: main},
    }
    hello_commit = uploads["notes/hello.txt"]
    assert out["downloads"] == {
        "branch": {"sha256": _sha(b"feature\n"), "snapshot": feat},
        "branch_lfs": {"sha256": _sha(inputs.folder["c.safetensors"]), "snapshot": feat},
        "tag": {"sha256": _sha(inputs.files["model.bin"]), "snapshot": main},
        "sha": {"sha256": _sha(b"hello\n"), "snapshot": hello_commit},
        "main": {"sha256": _sha(b"a\n"), "snapshot": main},
    }
    assert out["snapshot"] == {
        "commit": main,
        "files": {p: _sha(expected[p]) for p in ("README.md", "sub/deep/a.txt", "sub/b.json")},
    }
    history = [
        [main, "Every operation"],
        [folder, "Upload folder"],
        [uploads["model.bin"], "Upload model.bin"],
        [hello_commit, "Upload notes/hello.txt"],
        [uploads["README.md"], "Upload README.md"],
        [out["initial"], "initial commit"],
    ]
    assert out["commits"] == history
    assert out["branch_commits"] == [[feat, "Feature work"], *history[1:]]


def folder_pipeline_is_single(out: dict[str, Any]) -> bool:
    """With HF_HUB_DISABLE_XET=1 no release takes the Xet path, so 2.x `upload_folder` makes
    one commit through `create_commit` (None: a release from before Xet)."""
    return out["folder"]["xet_pipeline"] in (False, None)


def _check_clone(
    git: Git, server: Server, owner: User, repo: str, out: dict[str, Any], expected: dict
) -> None:
    """The real git and git lfs see what the client wrote: tree, bytes, refs, the annotated
    tag's message and history; `git lfs fsck` finds every object."""
    clone = git.home.parent / "clone"
    git("lfs", "install", "--skip-repo")
    git("clone", "-q", remote(server, repo, owner), str(clone), timeout=600)
    found = {
        p.relative_to(clone).as_posix(): p.read_bytes()
        for p in clone.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(clone).parts[:1]
    }
    attributes = found.pop(".gitattributes")
    assert b"*.bin filter=lfs" in attributes and b"*.safetensors filter=lfs" in attributes
    assert found == expected
    lfs_files = git("lfs", "ls-files", "-n", cwd=clone).stdout.split("\n")
    assert sorted(p for p in lfs_files if p) == sorted(LFS_PATHS)
    git("lfs", "fsck", cwd=clone)
    git.fsck(clone)

    main, feat = out["main"], out["refs"]["feat"]
    refs = git("ls-remote", remote(server, repo, owner), cwd=clone).stdout.splitlines()
    assert {line.split("\t")[1]: line.split("\t")[0] for line in refs}.keys() >= {
        "HEAD",
        "refs/heads/main",
        f"refs/heads/{WRITE_BRANCH}",
        f"refs/tags/{WRITE_TAG}",
    }
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == main
    assert git("rev-parse", f"origin/{WRITE_BRANCH}", cwd=clone).stdout.strip() == feat
    assert git("rev-parse", f"{WRITE_TAG}^{{commit}}", cwd=clone).stdout.strip() == main
    tag = git(
        "for-each-ref",
        f"refs/tags/{WRITE_TAG}",
        "--format=%(objecttype) %(contents:subject)",
        cwd=clone,
    ).stdout.strip()
    assert tag == f"tag {TAG_MESSAGE}"
    assert git("show", f"origin/{WRITE_BRANCH}:feat.txt", cwd=clone).stdout == "feature\n"
    log = git("log", "--format=%H %s", "HEAD", cwd=clone).stdout.splitlines()
    assert log == [f"{sha} {title}" for sha, title in out["commits"]]
    assert not {"refs/heads/" + SCRATCH_BRANCH, "refs/tags/" + SCRATCH_TAG} & {
        line.split("\t")[1] for line in refs
    }


def _check_finished(
    done: dict[str, Any],
    inputs: WriteInputs,
    version: str,
    owner: str,
    repo: str,
    new_repo: str,
    main: str,
) -> None:
    """What `finish` saw, against what the test wrote: the file system's reads and listings
    (names, sizes, the first bytes of `model.bin`), the likes, the settings `model_info` shows,
    the move (the old name answers with the new repo and serves its bytes), private, delete."""
    expected = _expected_main(inputs, version)
    model = inputs.files["model.bin"]
    fs = done["fs"]
    assert fs["read"] == FS_TEXT
    assert fs["glob"] == [f"{repo}/{FS_PATH}"], "the only csv is the one just written"
    assert fs["info"] == {"type": "file", "size": len(CARD)}
    top = {path.split("/")[0] for path in [*expected, ".gitattributes", FS_PATH]}
    assert fs["ls"] == sorted(f"{repo}/{name}" for name in top)
    assert fs["range"] == {"length": RANGE_BYTES, "sha256": _sha(model[:RANGE_BYTES])}
    assert fs["exists_after_rm"] is False
    assert fs["files_after_rm"] == sorted([*expected, ".gitattributes"])
    (removed, _), (written, _), _ = fs["commits"]
    assert fs["commits"] == [
        [removed, "Remove through HfFileSystem"],
        [written, "Write through HfFileSystem"],
        [main, "Every operation"],
    ]

    likes = done["likes"]
    call = "like" if version in LIKE_CALL else f"POST /api/models/{repo}/like"
    assert likes["like_call"] == call
    assert likes["liked"] == {"liked": [repo], "likers": [owner], "likes": 1}
    assert likes["unliked"] == {"liked": [], "likers": [], "likes": 0}

    settings = done["settings"]
    keywords = ["description", "gated"] if version in DESCRIPTION_KEYWORD else ["gated"]
    assert settings == {
        "call": (
            f"PUT /api/models/{repo}/settings"
            if version in NO_SETTINGS_CALL
            else "update_repo_settings"
        ),
        "passed": keywords,
        "left_out": sorted({"description", "gated"} - set(keywords)),
        "gated": "auto",
        "description": None,  # a model's info has no description (datasets' has)
    }

    move = done["move"]
    assert move["old_id"] == new_repo and move["new_id"] == new_repo, move
    assert move["head"] == removed
    assert move["downloads"] == {
        "README.md": {"sha256": _sha(CARD), "snapshot": removed},
        "model.bin": {"sha256": _sha(model), "snapshot": removed},
    }

    assert done["private_call"] == VISIBILITY_CALL.get(version, "update_repo_settings")
    assert done["private"] is True
    for label in ("anonymous", "anonymous_old", "after_delete", "after_delete_old"):
        assert done[label]["is_expected"] and done[label]["status"] == 404, (label, done[label])


def _check_finish_requests(
    seen: list[tuple[str, str, int]], repo: str, new_repo: str, stack: str
) -> None:
    """The finish phase over the wire: two commits (the write and the rm), the like and unlike,
    the settings, the move and the old name's 307, private under the new name, the delete and
    the ranged read of the LFS file."""
    assert not [r for r in seen if r[2] >= 500], seen
    commits = [r for r in seen if r[:2] == ("POST", f"/api/models/{repo}/commit/main")]
    assert [r[2] for r in commits] == [200, 200], commits
    for wanted in (
        ("POST", f"/api/models/{repo}/like", 200),
        ("DELETE", f"/api/models/{repo}/like", 200),
        ("PUT", f"/api/models/{repo}/settings", 200),
        ("POST", "/api/repos/move", 200),
        ("PUT", f"/api/models/{new_repo}/settings", 200),
        ("DELETE", "/api/repos/delete", 200),
    ):
        assert wanted in seen, (wanted, seen)
    assert [r for r in seen if r[:2] == ("GET", f"/api/models/{repo}") and r[2] == 307], seen
    # The ranged read: local blobs answer the Range themselves; on S3 the client is sent on to
    # a presigned URL (and its Range with it).
    ranged = ("GET", f"/{repo}/resolve/main/model.bin", 206 if stack == "embedded" else 302)
    assert ranged in seen, seen


@pytest.mark.parametrize("version", HF_VERSIONS)
def test_write_scenario(
    version: str, stack: Stack, server: Server, git: Git, tmp_path: Path, make_user
) -> None:
    owner = make_user("hfw")
    repo = f"{owner.name}/written-by-{version.replace('.', '-')}"
    inputs = _write_inputs(tmp_path / "inputs")
    common = {"repo": repo, "src": str(inputs.src), "folder": str(inputs.folder_path)}
    names = {
        "branch": WRITE_BRANCH,
        "tag": WRITE_TAG,
        "tag_message": TAG_MESSAGE,
        "scratch_branch": SCRATCH_BRANCH,
        "scratch_tag": SCRATCH_TAG,
        "patterns": WRITE_PATTERNS,
    }

    def scenario(phase: str, extra: dict[str, Any]) -> dict[str, Any]:
        out = run_scenario(
            version,
            "write",
            {"phase": phase, **common, **extra},
            workdir=tmp_path / "client",
            endpoint=server.url,
            token=owner.token,
        )
        assert out["version"] == version
        return out

    start = server.log.stat().st_size
    out = scenario("write", names)
    assert out["validates_card"] is (version not in NO_CARD_CHECK)
    _check_written(out, inputs, version, server.url)
    _check_requests(_requests(server.log, start), repo, inputs, version, stack.name)
    _check_clone(git, server, owner, repo, out, _expected_main(inputs, version))

    finish_start = server.log.stat().st_size
    new_repo = f"{repo}-moved"
    done = scenario(
        "finish",
        {
            "new_repo": new_repo,
            "owner": owner.name,
            "fs_path": FS_PATH,
            "fs_text": FS_TEXT,
            "range_bytes": RANGE_BYTES,
            "description": DESCRIPTION,
        },
    )
    _check_finished(done, inputs, version, owner.name, repo, new_repo, out["main"])
    finished = _requests(server.log, finish_start)
    _check_finish_requests(finished, repo, new_repo, stack.name)
    everything = _requests(server.log, start)  # both phases and the clone
    assert not [r for r in everything if r[2] >= 500], everything
