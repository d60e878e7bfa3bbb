"""Downloads, listings and errors with every call given its endpoint and token explicitly.

Written for the requests-based 0.36 client (`test_hub_client.test_huggingface_hub_036`), run
by path in its side venv with no HF_TOKEN set: the private repo must stay invisible to an
anonymous call. Prints one JSON object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hfcompat
from huggingface_hub import HfApi, hf_hub_download, snapshot_download


def error_name(call: Any) -> str | None:
    """The class name of what `call` raised (None if it did not fail)."""
    try:
        call()
    except Exception as exc:
        return type(exc).__name__
    return None


def main() -> None:
    args = hfcompat.args()
    endpoint, repo = args["endpoint"], args["repo"]
    api = HfApi(endpoint=endpoint, token=args["token"])

    def fetch(repo_id: str, filename: str, **options: Any) -> str:
        return hf_hub_download(repo_id, filename, endpoint=endpoint, **options)

    out: dict[str, Any] = {}
    out["regular"] = hfcompat.digest(fetch(repo, "config.json"))
    out["lfs"] = hfcompat.digest(fetch(repo, "weights.bin"))
    out["spaced"] = hfcompat.digest(fetch(repo, "dir/with space.txt"))
    out["feat"] = hfcompat.digest(fetch(repo, "feat.txt", revision="feat/x"))
    folder = Path(snapshot_download(repo, endpoint=endpoint))
    found = (p for p in folder.rglob("*") if p.is_file())
    out["snapshot"] = {str(p.relative_to(folder)): hfcompat.digest(p) for p in found}
    out["snapshot_commit"] = folder.name
    out["files"] = sorted(api.list_repo_files(repo))
    tree = api.list_repo_tree(repo, path_in_repo="dir", revision="feat/x")
    out["tree"] = sorted(e.path for e in tree)
    info = api.model_info(repo, files_metadata=True)
    out["info"] = {
        "sha": info.sha,
        "siblings": {
            s.rfilename: [s.size, s.blob_id, hfcompat.lfs_field(s.lfs, "sha256")]
            for s in info.siblings or []
        },
    }
    out["created"] = [str(api.create_repo(args["new_repo"], exist_ok=True)) for _ in range(2)]
    out["models"] = sorted(m.id for m in api.list_models(author=args["author"]))
    anonymous = HfApi(endpoint=endpoint, token=False)
    out["errors"] = {
        "revision": error_name(lambda: fetch(repo, "config.json", revision="nope")),
        "entry": error_name(lambda: fetch(repo, "nope.txt")),
        "private": error_name(lambda: fetch(args["private"], "secret.txt", token=False)),
        "info": error_name(lambda: anonymous.model_info(args["private"])),
    }
    hfcompat.emit(out)


if __name__ == "__main__":
    main()
