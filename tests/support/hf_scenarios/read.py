"""The read scenario: what a user's script does against a hub, through the standard variables.

Run by `tests/support/hfclient.run_scenario` inside one release's side venv, with HF_ENDPOINT,
HF_TOKEN and HF_HOME set: no call passes an endpoint or a token, so the client's own way of
reading its environment is tested too. Prints one JSON object that the test compares with
what it pushed. Every step runs on every release; where releases differ, `hfcompat` adapts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import hfcompat
from huggingface_hub import HfApi, hf_hub_download, snapshot_download


def downloads(repo: str, refs: dict[str, str]) -> dict[str, Any]:
    """One file per kind of revision (branch, tag, 40-hex sha) and the LFS file at main; each
    with its bytes' sha256 and the snapshot folder (the commit) the client filed it under."""
    out: dict[str, Any] = {}
    for label, (path, revision) in {
        "main": ("config.json", None),
        "lfs": ("weights.bin", None),
        "spaced": ("dir/with space.txt", None),
        "branch": ("feat.txt", refs["branch"]),
        "tag": ("config.json", refs["tag"]),
        "sha": ("config.json", refs["sha"]),
    }.items():
        local = Path(hf_hub_download(repo, path, revision=revision))
        out[label] = {
            "sha256": hfcompat.digest(local),
            "snapshot": local.parents[len(Path(path).parts) - 1].name,
            "blob": local.resolve().name,
        }
    return out


def snapshot(repo: str, patterns: list[str]) -> dict[str, Any]:
    """`snapshot_download` into a cache of its own: the shared one already holds the files
    that `downloads` fetched, and the folder must show only what the patterns picked."""
    cache = Path(os.environ["HF_HOME"]) / "snapshot-cache"
    folder = Path(snapshot_download(repo, allow_patterns=patterns, cache_dir=cache))
    found = (p for p in folder.rglob("*") if p.is_file())
    files = {p.relative_to(folder).as_posix(): hfcompat.digest(p) for p in found}
    return {"commit": folder.name, "files": files}


def siblings(info: Any) -> dict[str, list[Any]]:
    return {
        s.rfilename: [
            s.size,
            s.blob_id,
            hfcompat.lfs_field(s.lfs, "sha256"),
            hfcompat.lfs_field(s.lfs, "size"),
        ]
        for s in info.siblings or []
    }


def refs_of(api: HfApi, repo: str) -> dict[str, dict[str, str]]:
    refs = api.list_repo_refs(repo)
    return {
        "branches": {b.name: b.target_commit for b in refs.branches},
        "tags": {t.name: t.target_commit for t in refs.tags},
    }


def delete_twice(api: HfApi, repo: str) -> dict[str, Any]:
    """`delete_repo`, then again with `missing_ok=True` (a no-op) and without it (an error)."""
    api.delete_repo(repo)
    if hfcompat.accepts(api.delete_repo, "missing_ok"):
        api.delete_repo(repo, missing_ok=True)
        again_ok = True
    else:  # a release before `missing_ok`: say so, the test fails on it
        again_ok = False
    return {
        "missing_ok": again_ok,
        "again": hfcompat.error_of(lambda: api.delete_repo(repo), "RepositoryNotFoundError"),
        "info_after": hfcompat.error_of(lambda: api.model_info(repo), "RepositoryNotFoundError"),
    }


def main() -> None:
    args = hfcompat.args()
    repo, owner, new_repo, missing = args["repo"], args["owner"], args["new_repo"], args["missing"]
    api = HfApi()
    out: dict[str, Any] = {"whoami": api.whoami()["name"]}

    out["created"] = [str(api.create_repo(new_repo)), str(api.create_repo(new_repo, exist_ok=True))]
    out["create_conflict"] = hfcompat.error_of(lambda: api.create_repo(new_repo), "HfHubHTTPError")

    info = api.model_info(repo, files_metadata=True)
    out["model_info"] = {"sha": info.sha, "id": info.id, "siblings": siblings(info)}
    generic = api.repo_info(repo, repo_type="model", files_metadata=True)
    out["repo_info"] = {"sha": generic.sha, "siblings": siblings(generic)}
    out["branch_sha"] = api.model_info(repo, revision=args["refs"]["branch"]).sha
    out["files"] = sorted(api.list_repo_files(repo))
    out["branch_files"] = sorted(api.list_repo_files(repo, revision=args["refs"]["branch"]))
    out["refs"] = refs_of(api, repo)

    out["downloads"] = downloads(repo, args["refs"])
    out["snapshot"] = snapshot(repo, args["patterns"])
    out["models"] = sorted(m.id for m in api.list_models(author=owner))

    out["errors"] = {
        "missing_repo_info": hfcompat.error_of(
            lambda: api.model_info(missing), "RepositoryNotFoundError"
        ),
        "missing_repo_download": hfcompat.error_of(
            lambda: hf_hub_download(missing, "README.md"), "RepositoryNotFoundError"
        ),
        "revision_download": hfcompat.error_of(
            lambda: hf_hub_download(repo, "config.json", revision="nope"), "RevisionNotFoundError"
        ),
        "revision_info": hfcompat.error_of(
            lambda: api.model_info(repo, revision="nope"), "RevisionNotFoundError"
        ),
        "entry_download": hfcompat.error_of(
            lambda: hf_hub_download(repo, "nope.txt"), "EntryNotFoundError"
        ),
    }
    out["error_modules"] = hfcompat.where_error("RepositoryNotFoundError")
    out["delete"] = delete_twice(api, new_repo)
    out["models_after"] = sorted(m.id for m in api.list_models(author=owner))
    hfcompat.emit(out)


if __name__ == "__main__":
    main()
