"""One Hub-client call for ``xet_bench``, in a process of its own: the default install
(``huggingface_hub`` with ``hf_xet``), so the Xet client's threads, caches and memory are its
own and the timing starts after the imports and the repo setup.

    python benchmarks/_xet_client.py '{"op": "upload", "repo": ..., "file": ..., "path": ...}'
    python benchmarks/_xet_client.py '{"op": "download", "repo": ..., "path": ..., "dest": ...}'

HF_ENDPOINT, HF_TOKEN, HF_HOME and HF_XET_CACHE come from the environment. Prints one JSON
object: the call's seconds, and for downloads where the file landed.
"""

from __future__ import annotations

import json
import sys
import time

from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.utils._runtime import is_xet_available


def main() -> None:
    a = json.loads(sys.argv[1])
    if not is_xet_available():
        raise SystemExit("hf_xet is not installed or HF_HUB_DISABLE_XET is set")
    api = HfApi()
    if a["op"] == "upload":
        api.create_repo(a["repo"], exist_ok=True)
        started = time.perf_counter()
        info = api.upload_file(path_or_fileobj=a["file"], path_in_repo=a["path"], repo_id=a["repo"])
        out = {"seconds": time.perf_counter() - started, "commit": info.oid}
    elif a["op"] == "download":
        started = time.perf_counter()
        local = hf_hub_download(a["repo"], a["path"], cache_dir=a["dest"])
        out = {"seconds": time.perf_counter() - started, "local": local}
    else:
        raise SystemExit(f"unknown op {a['op']!r}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
