"""A commit made through the Hub client's API starts the same jobs as a `git push`, and a
push policy's refusal reaches the client as a readable error."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.functional.jobs.conftest import Datasets
from tests.support.hfclient import in_process_client
from tests.support.jobs import spec_yaml, wait_for
from tests.support.stack import Server

# huggingface_hub 2.x's LFS upload passes raw bytes as `data=` to httpx2, which warns
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture
def hf_api(
    hub_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """`hf_api(token)`: an HfApi on the jobs suite's server, its own cache, no Xet."""
    return in_process_client(monkeypatch, tmp_path / "hf", hub_server.url)


def test_upload_of_a_spec_starts_training_like_a_push(
    hf_api, api: httpx.Client, new_user, new_repo, public_datasets: Datasets
) -> None:
    alice = new_user("alice")
    repo = new_repo(alice)
    client = hf_api(alice.token)
    spec = spec_yaml(public_datasets.tiny).encode()
    done = client.upload_file(path_or_fileobj=spec, path_in_repo="repohub.yaml", repo_id=repo)
    jobs = api.get(f"/api/models/{repo}/jobs", params={"commit": done.oid}).json()
    assert {j["kind"] for j in jobs} >= {"train"}, jobs
    train = next(j for j in jobs if j["kind"] == "train")
    assert train["trigger"] == "push" and train["commit"] == done.oid
    final = wait_for(api, train["id"])
    assert final["state"] == "succeeded", final


def test_a_push_policy_refusal_reaches_the_client(api: httpx.Client, new_user, new_repo) -> None:
    """An 11 MB file sent inline (as a client that skips preupload would) meets the shipped
    large-file policy; the client shows the policy's own words."""
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import get_session, hf_raise_for_status

    alice = new_user("alice")
    repo = new_repo(alice)
    big = base64.b64encode(os.urandom(11 * 1024 * 1024)).decode()
    lines = [
        {"key": "header", "value": {"summary": "too big"}},
        {"key": "file", "value": {"path": "big.txt", "content": big, "encoding": "base64"}},
    ]
    r = get_session().post(  # the client's own HTTP session, so its error mapping applies
        f"{api.base_url}/api/models/{repo}/commit/main",
        content="\n".join(json.dumps(line) for line in lines),
        headers={**alice.auth, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 422, r.text
    with pytest.raises(HfHubHTTPError) as caught:
        hf_raise_for_status(r)
    assert "must be stored with Git LFS" in str(caught.value)
    assert api.get(f"/api/models/{repo}/refs").json()["branches"] == []
