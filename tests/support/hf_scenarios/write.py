"""The write scenario: what a user's script does to publish to a hub, through the standard
variables.

Run by `tests/support/hfclient.run_scenario` inside one release's side venv, with HF_ENDPOINT,
HF_TOKEN, HF_HOME and HF_HUB_DISABLE_XET=1 set. It runs in two phases so that the test can
`git clone` the result in between:

- `write`: create the repo, upload files (a README with YAML front matter, a small text file,
  a binary large enough for the LFS path), a folder (nested paths, `delete_patterns`), one
  commit with every kind of operation, a stale `parent_commit`, branches and tags (made,
  listed, deleted), downloads at a branch, a tag and a sha, a pattern snapshot and the
  commit list.
- `finish`: `HfFileSystem` (write, read, glob, info, ls, a ranged read, rm), likes (like,
  the lists, unlike), settings (`gated`, and `description` where the release takes it), a
  move to a new name in the same namespace (the old name still answers), then, under the new
  name, private (whatever this release calls that) and deleted.

The inputs are files the test wrote (it keeps their bytes to compare); the output is one JSON
object with commit ids and sha256 digests. Where releases differ, `hfcompat` detects the
feature; a step that a release cannot do is still run, and the error it raises is reported.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import hfcompat
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    hf_hub_download,
    snapshot_download,
)


def upload_files(api: HfApi, repo: str, src: Path) -> dict[str, str]:
    """Three `upload_file` calls, one commit each: the card (validate-yaml first), a small
    text file (inline base64) and the big binary (preupload says lfs, batch, PUT, lfsFile)."""
    commits = {}
    for path in ("README.md", "notes/hello.txt", "model.bin"):
        info = api.upload_file(
            path_or_fileobj=str(src / path),
            path_in_repo=path,
            repo_id=repo,
            commit_message=f"Upload {path}",
        )
        commits[path] = info.oid
    return commits


def upload_folder(api: HfApi, repo: str, folder: Path) -> dict[str, Any]:
    """One `upload_folder` of nested paths that also deletes what `notes/*` matches."""
    info = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo,
        commit_message="Upload folder",
        delete_patterns=["notes/*"],
    )
    return {"oid": info.oid, "xet_pipeline": hfcompat.xet_upload_pipeline()}


def every_operation(api: HfApi, repo: str, parent: str) -> dict[str, Any]:
    """Add, delete a file, delete a folder, copy a regular file and an LFS file, in one commit.

    A release that cannot copy a regular file (it raises before any commit is sent) is asked
    first with every operation, so its refusal is reported, then without that one copy.
    """
    add = CommitOperationAdd("new.txt", b"new\n")
    deletes = [CommitOperationDelete("gone.txt"), CommitOperationDelete("old/")]
    out: dict[str, Any] = {"copy_class": hfcompat.has_copy()}
    copies = []
    if out["copy_class"]:
        copy = hfcompat.copy_class()
        copies = [copy("model.bin", "copy/model.bin"), copy("keep.txt", "copy/keep.txt")]

    def commit(operations: list[Any]) -> Any:
        return api.create_commit(
            repo,
            operations,
            commit_message="Every operation",
            commit_description="add, delete, delete-folder and copy in one commit",
            parent_commit=parent,
        )

    out["regular_copy"] = hfcompat.copies_regular_files()
    if out["regular_copy"]:
        out["oid"] = commit([add, *deletes, *copies]).oid
        out["refused"] = None
    else:
        out["refused"] = hfcompat.failure_of(lambda: commit([add, *deletes, *copies]))
        out["head_after_refusal"] = api.model_info(repo).sha
        out["oid"] = commit([add, *deletes, *copies[:1]]).oid
    return out


def stale_parent(api: HfApi, repo: str, stale: str) -> dict[str, Any]:
    operation = CommitOperationAdd("late.txt", b"late\n")
    error = hfcompat.error_of(
        lambda: api.create_commit(
            repo, [operation], commit_message="Too late", parent_commit=stale
        ),
        "HfHubHTTPError",
        text=True,
    )
    return {**error, "head_after": api.model_info(repo).sha}


def refs_of(api: HfApi, repo: str) -> dict[str, dict[str, str]]:
    refs = api.list_repo_refs(repo)
    return {
        "branches": {b.name: b.target_commit for b in refs.branches},
        "tags": {t.name: t.target_commit for t in refs.tags},
    }


def branches_and_tags(api: HfApi, repo: str, a: dict[str, Any]) -> dict[str, Any]:
    """A branch with a `/` (from an older commit) that gets a commit of its own, an annotated
    tag, and a throwaway branch and tag that are deleted again."""
    branch, tag = a["branch"], a["tag"]
    api.create_branch(repo, branch=branch, revision=a["branch_from"])
    feat = api.upload_file(
        path_or_fileobj=b"feature\n",
        path_in_repo="feat.txt",
        repo_id=repo,
        revision=branch,
        commit_message="Feature work",
    ).oid
    api.create_tag(repo, tag=tag, tag_message=a["tag_message"], revision=a["tag_at"])
    api.create_branch(repo, branch=a["scratch_branch"])
    api.create_tag(repo, tag=a["scratch_tag"], revision=branch)
    before = refs_of(api, repo)
    api.delete_tag(repo, tag=a["scratch_tag"])
    api.delete_branch(repo, branch=a["scratch_branch"])
    return {"feat": feat, "before": before, "after": refs_of(api, repo)}


def downloads(repo: str, wanted: dict[str, list[str | None]]) -> dict[str, Any]:
    """Each `label: [path, revision]` through `hf_hub_download`: the bytes' sha256 and the
    snapshot folder (the commit) the client filed it under."""
    out = {}
    for label, (path, revision) in wanted.items():
        assert path is not None
        local = Path(hf_hub_download(repo, path, revision=revision))
        out[label] = {
            "sha256": hfcompat.digest(local),
            "snapshot": local.parents[len(Path(path).parts) - 1].name,
        }
    return out


def snapshot(repo: str, patterns: list[str]) -> dict[str, Any]:
    cache = Path(os.environ["HF_HOME"]) / "snapshot-cache"
    folder = Path(snapshot_download(repo, allow_patterns=patterns, cache_dir=cache))
    found = (p for p in folder.rglob("*") if p.is_file())
    return {
        "commit": folder.name,
        "files": {p.relative_to(folder).as_posix(): hfcompat.digest(p) for p in found},
    }


def tree(api: HfApi, repo: str) -> dict[str, list[Any]]:
    """Path -> [size, LFS sha256 or None], from repo info with file metadata."""
    info = api.model_info(repo, files_metadata=True)
    return {s.rfilename: [s.size, hfcompat.lfs_field(s.lfs, "sha256")] for s in info.siblings}


def write(api: HfApi, a: dict[str, Any]) -> dict[str, Any]:
    repo, src = a["repo"], Path(a["src"])
    out: dict[str, Any] = {"created": str(api.create_repo(repo))}
    out["validates_card"] = hfcompat.validates_card_on_commit()
    out["initial"] = api.model_info(repo).sha
    out["uploads"] = upload_files(api, repo, src)
    out["folder"] = upload_folder(api, repo, Path(a["folder"]))
    out["operations"] = every_operation(api, repo, out["folder"]["oid"])
    out["stale"] = stale_parent(api, repo, out["initial"])
    a = {**a, "branch_from": out["folder"]["oid"], "tag_at": out["operations"]["oid"]}
    out["refs"] = branches_and_tags(api, repo, a)
    out["main"] = api.model_info(repo).sha
    out["tree"] = tree(api, repo)
    out["downloads"] = downloads(
        repo,
        {
            "branch": ["feat.txt", a["branch"]],
            "branch_lfs": ["c.safetensors", a["branch"]],
            "tag": ["copy/model.bin", a["tag"]],
            "sha": ["notes/hello.txt", out["uploads"]["notes/hello.txt"]],
            "main": ["sub/deep/a.txt", None],
        },
    )
    out["snapshot"] = snapshot(repo, a["patterns"])
    out["commits"] = [[c.commit_id, c.title] for c in api.list_repo_commits(repo)]
    on_branch = api.list_repo_commits(repo, revision=a["branch"])
    out["branch_commits"] = [[c.commit_id, c.title] for c in on_branch]
    return out


def file_system(api: HfApi, repo: str, a: dict[str, Any]) -> dict[str, Any]:
    """`HfFileSystem` on the written repo: a file written through `open(path, "w")` (one
    commit), read back, globbed; `info` and `ls`; a ranged read of the LFS file's first bytes;
    `rm` (another commit). Listings are cached per instance, so each is invalidated after a
    write."""
    fs = hfcompat.file_system()
    path, text = f"{repo}/{a['fs_path']}", a["fs_text"]
    with fs.open(path, "w", commit_message="Write through HfFileSystem") as f:
        f.write(text)
    fs.invalidate_cache()
    out: dict[str, Any] = {"read": fs.read_text(path), "glob": sorted(fs.glob(f"{repo}/**/*.csv"))}
    info = fs.info(f"{repo}/README.md")
    out["info"] = {"type": info["type"], "size": info["size"]}
    out["ls"] = sorted(entry["name"] for entry in fs.ls(repo))
    size = a["range_bytes"]
    with fs.open(f"{repo}/model.bin", "rb", block_size=size) as f:
        head = f.read(size)
    out["range"] = {"length": len(head), "sha256": hashlib.sha256(head).hexdigest()}
    fs.rm(path, commit_message="Remove through HfFileSystem")
    fs.invalidate_cache()
    out["exists_after_rm"] = fs.exists(path)
    out["files_after_rm"] = sorted(api.list_repo_files(repo))
    out["commits"] = [[c.commit_id, c.title] for c in api.list_repo_commits(repo)][:3]
    return out


def likes(api: HfApi, repo: str, user: str) -> dict[str, Any]:
    """Like (the client's `like` or the Hub's call), the lists and the count; unlike, again."""

    def seen() -> dict[str, Any]:
        return {
            "liked": api.list_liked_repos(user).models,
            "likers": hfcompat.likers(api, repo),
            "likes": api.model_info(repo).likes,
        }

    out: dict[str, Any] = {"like_call": hfcompat.like(api, repo), "liked": seen()}
    api.unlike(repo)
    out["unliked"] = seen()
    return out


def settings(api: HfApi, repo: str, description: str) -> dict[str, Any]:
    """`update_repo_settings` with what this release takes of `description` and `gated`,
    then what `model_info` shows."""
    out = hfcompat.update_settings(api, repo, {"description": description, "gated": "auto"})
    info = api.model_info(repo)
    return {**out, "gated": info.gated, "description": getattr(info, "description", None)}


def move(api: HfApi, old: str, new: str) -> dict[str, Any]:
    """Rename within the namespace; the old name still answers (the client follows the 307
    of the API, and `/resolve` at the old name serves the repo)."""
    api.move_repo(old, new)
    out: dict[str, Any] = {"old_id": api.model_info(old).id, "new_id": api.model_info(new).id}
    out["head"] = api.model_info(new).sha
    cache = Path(os.environ["HF_HOME"]) / "moved-cache"
    out["downloads"] = {}
    for path in ("README.md", "model.bin"):
        local = Path(hf_hub_download(old, path, cache_dir=cache))
        out["downloads"][path] = {"sha256": hfcompat.digest(local), "snapshot": local.parent.name}
    return out


def finish(api: HfApi, a: dict[str, Any]) -> dict[str, Any]:
    """HfFileSystem, likes, settings and the move on the written repo; then, under its new
    name, private (whatever this release calls that) and deleted."""
    repo, new = a["repo"], a["new_repo"]
    out: dict[str, Any] = {"fs": file_system(api, repo, a)}
    out["likes"] = likes(api, repo, a["owner"])
    out["settings"] = settings(api, repo, a["description"])
    out["move"] = move(api, repo, new)
    out["private_call"] = hfcompat.make_private(api, new)
    out["private"] = api.model_info(new).private
    anonymous = HfApi(token=False)
    for label, name in (("anonymous", new), ("anonymous_old", repo)):
        out[label] = hfcompat.error_of(
            lambda name=name: anonymous.model_info(name), "RepositoryNotFoundError"
        )
    api.delete_repo(new)
    for label, name in (("after_delete", new), ("after_delete_old", repo)):
        out[label] = hfcompat.error_of(
            lambda name=name: api.model_info(name), "RepositoryNotFoundError"
        )
    return out


def main() -> None:
    a = hfcompat.args()
    api = HfApi()
    hfcompat.emit(write(api, a) if a["phase"] == "write" else finish(api, a))


if __name__ == "__main__":
    main()
