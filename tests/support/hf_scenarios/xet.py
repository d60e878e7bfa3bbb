"""The Xet scenario: a user with the default install (`huggingface_hub` with `hf_xet`, no
HF_HUB_DISABLE_XET) publishing and fetching large files.

Run by the Xet tests inside the 2.4.0 side venv; HF_XET_CACHE is the test's choice per run,
so a run with a fresh cache must find known chunks through global dedup, not locally. The
phases: `upload` (upload_file of each given file, then upload_folder of a folder, then a
branch with a `/` and a file on it), `download` (hf_hub_download of paths at revisions,
into a fresh cache) and `copy` (a cross-repo `CommitOperationCopy` of an LFS file, which
2.4.0 sends through `lfs-files/duplicate` on the source before it commits).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import hfcompat
from huggingface_hub import HfApi, hf_hub_download


def upload(api: HfApi, a: dict[str, Any]) -> dict[str, Any]:
    repo = a["repo"]
    api.create_repo(repo, exist_ok=True)
    out: dict[str, Any] = {"xet": hfcompat.xet_upload_pipeline(), "files": {}}
    for path, source in a["files"].items():
        out["files"][path] = api.upload_file(
            path_or_fileobj=source, path_in_repo=path, repo_id=repo, commit_message=f"Add {path}"
        ).oid
    if a.get("folder"):
        out["folder"] = api.upload_folder(
            folder_path=a["folder"], path_in_repo="model", repo_id=repo, commit_message="Model"
        ).oid
    if a.get("branch"):
        api.create_branch(repo, branch=a["branch"])
        out["branch"] = api.upload_file(
            path_or_fileobj=a["branch_file"],
            path_in_repo="branch.bin",
            repo_id=repo,
            revision=a["branch"],
            commit_message="On the branch",
        ).oid
    out["main"] = api.model_info(repo).sha
    info = api.model_info(repo, files_metadata=True)
    out["tree"] = {
        s.rfilename: [s.size, hfcompat.lfs_field(s.lfs, "sha256")] for s in info.siblings
    }
    return out


def download(a: dict[str, Any]) -> dict[str, Any]:
    cache = Path(os.environ["HF_HOME"]) / "download-cache"
    out = {}
    for label, (path, revision) in a["wanted"].items():
        local = hf_hub_download(a["repo"], path, revision=revision, cache_dir=cache)
        out[label] = hfcompat.digest(local)
    return out


def copy(api: HfApi, a: dict[str, Any]) -> dict[str, Any]:
    from huggingface_hub import CommitOperationCopy

    api.create_repo(a["repo"], exist_ok=True)
    operation = CommitOperationCopy(
        src_path_in_repo=a["src_path"],
        path_in_repo=a["path"],
        src_repo_id=a["src_repo"],
        src_repo_type="model",
    )
    try:
        info = api.create_commit(a["repo"], [operation], commit_message="Copy weights")
    except Exception as exc:  # the test asserts which error a refused copy raises
        return {"error": type(exc).__name__, "status": hfcompat.status_of(exc)}
    return {"oid": info.oid}


def main() -> None:
    a = hfcompat.args()
    api = HfApi()
    if a["phase"] == "download":
        hfcompat.emit(download(a))
    elif a["phase"] == "copy":
        hfcompat.emit(copy(api, a))
    else:
        hfcompat.emit(upload(api, a))


if __name__ == "__main__":
    main()
