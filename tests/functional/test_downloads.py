"""The download counter: whole-file GETs of `/resolve` count, HEADs and resumed ranges do not.

Driven by the real `huggingface_hub` client, which asks HEAD for the metadata before every GET
and only HEAD once the file is cached, so exact counts show that HEADs are never counted. On
the production stack, LFS files answer with a redirect to S3, which counts too.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from repohub.repos.context import Hub
from tests.functional.test_files_api import Published, publish
from tests.functional.test_hub_client import hf_cache as isolated_hf_cache
from tests.support.gitcli import Git
from tests.support.stack import Server

hf_cache = isolated_hf_cache  # the Hub client's own fixture: HF_HOME per test, no Xet


def _published(
    hub: Hub, server: Server, git: Git, tmp_path: Path, make_user, make_repo
) -> Published:
    owner = make_user("dl")
    return publish(hub, server, git, tmp_path / "repo", owner, make_repo(owner))


def _count(server: Server, repo: str) -> int:
    """The count as the Hub client reads it from repo info."""
    from huggingface_hub import HfApi

    downloads = HfApi(endpoint=server.url).model_info(repo).downloads
    assert downloads is not None
    return downloads


def test_downloads_are_counted_once_per_whole_file_get(
    hub: Hub,
    server: Server,
    git: Git,
    tmp_path: Path,
    make_user,
    make_repo,
    api: httpx.Client,
    hf_cache: Path,
) -> None:
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    published = _published(hub, server, git, tmp_path, make_user, make_repo)
    repo = published.repo

    def download(path: str) -> Path:
        return Path(hf_hub_download(repo, path, endpoint=server.url, cache_dir=hf_cache))

    assert _count(server, repo) == 0
    assert download("config.json").read_bytes() == published.files["config.json"]
    assert _count(server, repo) == 1, "HEAD + GET is one download"
    assert download("weights.bin").read_bytes() == published.lfs_data
    assert _count(server, repo) == 2, "an LFS file (a redirect on S3) is one download"
    download("config.json")
    assert _count(server, repo) == 2, "a cached file costs a HEAD only, not a download"
    get_hf_file_metadata(hf_hub_url(repo, "big.bin", endpoint=server.url))
    assert _count(server, repo) == 2

    url = f"/{repo}/resolve/main/big.bin"
    resumed = api.get(url, headers={"Range": "bytes=1000-"})
    assert resumed.status_code == 206
    assert api.get(url, headers={"Range": f"bytes={10**9}-"}).status_code == 416
    assert api.get(f"/{repo}/raw/main/config.json").status_code == 200
    assert api.get(f"/{repo}/resolve/main/nope.txt").status_code == 404
    assert _count(server, repo) == 2, "resumes, bad ranges, /raw and misses are no downloads"
    first = api.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and len(first.content) == 100
    assert _count(server, repo) == 3, "a download that opens with a range from byte 0"

    page = api.get(f"/{repo}")
    assert page.status_code == 200
    assert "↓ 3 downloads" in page.text
