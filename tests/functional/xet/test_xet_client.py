"""The Hub client's default install (huggingface_hub 2.4.0 with hf_xet) against RepoHub as
its Xet server, on both storage stacks: uploads and downloads by chunks, global dedup across
unrelated repos, and every other client (git lfs, curl, the client with Xet off) reading the
same objects.

Each client run is a subprocess in the cached 2.4.0 side venv with Xet on and an
HF_XET_CACHE the test chooses, so a fresh cache cannot dedup locally. What went over the wire
is read from the server's access log.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.conftest import User, unique
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.hfclient import SCENARIO_TIMEOUT, SCENARIOS, client_env, hf_python
from tests.support.stack import Server

VERSION = "2.4.0"
MB = 1024 * 1024
ACCESS = re.compile(r"repohub\.access request_id=\S+ (\S+) (.+) (\d{3}) [\d.]+ms$")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_xet(
    args: dict[str, Any], *, workdir: Path, server: Server, token: str, xet_cache: Path
) -> dict[str, Any]:
    """The Xet scenario with the default install: Xet on, its cache where the test says."""
    env = client_env(workdir / "hf-home", server.url, token)
    del env["HF_HUB_DISABLE_XET"]
    env.update(
        {
            "HF_XET_CACHE": str(xet_cache),
            "HF_XET_CLIENT_RETRY_MAX_ATTEMPTS": "1",
            "HF_XET_TELEMETRY_ENABLED": "false",
        }
    )
    workdir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(hf_python(VERSION)), str(SCENARIOS / "xet.py"), json.dumps(args)],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"xet scenario failed:\n{result.stderr[-6000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def requests_since(server: Server, start: int) -> list[tuple[str, str, int]]:
    with server.log.open("rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    found = (ACCESS.search(line) for line in text.splitlines())
    return [(m[1], m[2], int(m[3])) for m in found if m]


def _calls(seen: list[tuple[str, str, int]], method: str, prefix: str) -> list[tuple[str, int]]:
    return [(path, status) for m, path, status in seen if m == method and path.startswith(prefix)]


def _write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def _safetensors_model(folder: Path) -> dict[str, bytes]:
    """A small model as a user would save one: two shards and a config."""
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True)
    for shard in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
        tensors = {
            f"layer{i}.weight": rng.standard_normal((256, 512), np.float32) for i in range(6)
        }
        save_file(tensors, str(folder / shard))
    (folder / "config.json").write_text('{"hidden_size": 512}\n')
    return {f"model/{p.name}": p.read_bytes() for p in folder.iterdir()}


@pytest.fixture
def owner(make_user) -> User:
    return make_user("xet")


def test_upload_and_download_by_chunks(
    server: Server, owner: User, tmp_path: Path, git: Git, api: httpx.Client
) -> None:
    files = {"small.bin": os.urandom(20 * MB + 11), "big.bin": os.urandom(200 * MB + 5)}
    on_branch = os.urandom(3 * MB)
    model = _safetensors_model(tmp_path / "model")
    repo = f"{owner.name}/{unique('xet')}"
    start = server.log.stat().st_size
    out = run_xet(
        {
            "phase": "upload",
            "repo": repo,
            "files": {p: _write(tmp_path / "src" / p, d) for p, d in files.items()},
            "folder": str(tmp_path / "model"),
            "branch": "feat/x",
            "branch_file": _write(tmp_path / "src" / "branch.bin", on_branch),
        },
        workdir=tmp_path / "up",
        server=server,
        token=owner.token,
        xet_cache=tmp_path / "xet-cache-up",
    )
    assert out["xet"] is True, "the default install uploads through Xet"
    seen = requests_since(server, start)
    assert not [r for r in seen if r[2] >= 500], seen
    assert _calls(seen, "GET", f"/api/models/{repo}/xet-write-token/main")
    assert _calls(seen, "GET", f"/api/models/{repo}/xet-write-token/feat/x"), seen  # logged decoded
    xorbs = _calls(seen, "POST", "/xet-cas/v1/xorbs/")
    assert len(xorbs) >= 4 and {s for _, s in xorbs} == {200}, xorbs  # 200 MB is 3+ xorbs
    assert {s for _, s in _calls(seen, "POST", "/xet-cas/v1/shards")} == {200}
    assert not _calls(seen, "POST", f"/{repo}.git/info/lfs/objects/batch"), "no LFS path"

    everything = {**files, **model}
    tree = dict(out["tree"])
    tree.pop(".gitattributes", None)
    tree.pop("README.md", None)  # the card create_repo writes
    lfs = {p for p, d in everything.items() if len(d) > MB or p.endswith(".safetensors")}
    assert tree == {p: [len(d), _sha(d) if p in lfs else None] for p, d in everything.items()}

    # The Xet client downloads by chunks: reconstruction, then ranged transfer GETs.
    start = server.log.stat().st_size
    wanted = {"small": ["small.bin", None], "big": ["big.bin", None]}
    wanted |= {"shard": ["model/model-00002-of-00002.safetensors", None]}
    wanted |= {"branch": ["branch.bin", "feat/x"], "sha": ["small.bin", out["files"]["small.bin"]]}
    got = run_xet(
        {"phase": "download", "repo": repo, "wanted": wanted},
        workdir=tmp_path / "down",
        server=server,
        token=owner.token,
        xet_cache=tmp_path / "xet-cache-down",
    )
    assert got == {
        "small": _sha(files["small.bin"]),
        "big": _sha(files["big.bin"]),
        "shard": _sha(model["model/model-00002-of-00002.safetensors"]),
        "branch": _sha(on_branch),
        "sha": _sha(files["small.bin"]),
        "version": VERSION,
    }
    seen = requests_since(server, start)
    assert _calls(seen, "GET", "/xet-cas/v1/reconstructions/"), seen
    transfers = _calls(seen, "GET", "/xet-transfer/")
    assert transfers and {s for _, s in transfers} == {206}, transfers
    assert not _calls(seen, "GET", f"/{repo}/resolve/main/big.bin") or all(
        s in (200, 302) for _, s in _calls(seen, "GET", f"/{repo}/resolve/main/big.bin")
    )

    # One object, every client: curl with a Range, and git lfs.
    big = files["big.bin"]
    r = api.get(f"/{repo}/resolve/main/big.bin", headers={"Range": "bytes=100000000-100999999"})
    assert r.status_code == 206 and r.content == big[100_000_000:101_000_000]
    head = api.head(f"/{repo}/resolve/main/big.bin")
    assert re.fullmatch(r"[0-9a-f]{64}", head.headers["x-xet-hash"])
    assert head.headers["link"].endswith("/xet-read-token/" + out["main"] + '>; rel="xet-auth"')
    clone = tmp_path / "clone"
    git("lfs", "install", "--skip-repo")
    git("clone", "-q", remote(server, repo, owner), str(clone), timeout=600)
    assert (clone / "big.bin").read_bytes() == big
    assert (clone / "model" / "config.json").read_text() == '{"hidden_size": 512}\n'
    git("lfs", "fsck", cwd=clone)


def test_global_dedup_across_unrelated_repos(server: Server, make_user, tmp_path: Path) -> None:
    """The same 30 MB uploaded by someone else, with an empty Xet cache: the client finds the
    chunks through the dedup query and sends no xorb, yet its upload still registers (its
    shard's verification hashes prove it holds the chunks) and downloads back."""
    data = os.urandom(30 * MB)
    src = _write(tmp_path / "src" / "weights.bin", data)
    first, second = make_user("xa"), make_user("xb")
    for user, cache in ((first, "one"), (second, "two")):
        start = server.log.stat().st_size
        repo = f"{user.name}/{unique('dedup')}"
        run_xet(
            {"phase": "upload", "repo": repo, "files": {"weights.bin": src}},
            workdir=tmp_path / f"up-{cache}",
            server=server,
            token=user.token,
            xet_cache=tmp_path / f"xet-{cache}",
        )
        seen = requests_since(server, start)
    assert _calls(seen, "GET", "/xet-cas/v1/chunks/") and all(
        s == 200 for _, s in _calls(seen, "GET", "/xet-cas/v1/chunks/")[:1]
    ), seen
    assert not _calls(seen, "POST", "/xet-cas/v1/xorbs/"), "known chunks are not sent again"
    assert {s for _, s in _calls(seen, "POST", "/xet-cas/v1/shards")} == {200}
    got = run_xet(
        {"phase": "download", "repo": repo, "wanted": {"w": ["weights.bin", None]}},
        workdir=tmp_path / "down",
        server=server,
        token=second.token,
        xet_cache=tmp_path / "xet-three",
    )
    assert got["w"] == _sha(data)


def test_git_lfs_push_downloads_with_the_xet_client(
    server: Server, owner: User, make_repo, git: Git, tmp_path: Path
) -> None:
    """An object pushed with git lfs is served plainly: no Xet hash is advertised for it, so
    the Xet client downloads it over HTTP (RepoHub does not re-chunk pushed objects)."""
    repo = make_repo(owner)
    data = os.urandom(5 * MB)
    git("lfs", "install", "--skip-repo")
    src = tmp_path / "src"
    git("init", "-q", "-b", "main", str(src))
    git("lfs", "track", "*.bin", cwd=src)
    git.commit(src, {"w.bin": data}, "weights")
    git("push", "-q", remote(server, repo, owner), "main", cwd=src, timeout=600)
    start = server.log.stat().st_size
    got = run_xet(
        {"phase": "download", "repo": repo, "wanted": {"w": ["w.bin", None]}},
        workdir=tmp_path / "down",
        server=server,
        token=owner.token,
        xet_cache=tmp_path / "xet",
    )
    assert got["w"] == _sha(data)
    seen = requests_since(server, start)
    assert not _calls(seen, "GET", "/xet-cas/"), seen


def test_cross_repo_copy_of_a_xet_file(
    server: Server, make_user, make_repo, tmp_path: Path
) -> None:
    """2.4.0's cross-repo `CommitOperationCopy`: `lfs-files/duplicate` on the source grants
    the target's network the object (no byte moves), then the commit names it. Someone who
    cannot read the source gets the Hub's 404 and nothing is committed."""
    alice, bob = make_user("xca"), make_user("xcb")
    data = os.urandom(3 * MB)
    source = f"{alice.name}/{unique('src')}"
    run_xet(
        {"phase": "upload", "repo": source, "files": {"w.bin": _write(tmp_path / "w.bin", data)}},
        workdir=tmp_path / "up",
        server=server,
        token=alice.token,
        xet_cache=tmp_path / "xet-up",
    )
    target = f"{bob.name}/{unique('dst')}"
    start = server.log.stat().st_size
    args = {"repo": target, "src_repo": source, "src_path": "w.bin", "path": "copied.bin"}
    out = run_xet(
        {"phase": "copy", **args},
        workdir=tmp_path / "copy",
        server=server,
        token=bob.token,
        xet_cache=tmp_path / "xet-copy",
    )
    assert "oid" in out, out
    seen = requests_since(server, start)
    assert ("POST", f"/api/models/{source}/lfs-files/duplicate", 200) in seen, seen
    assert not _calls(seen, "POST", "/xet-cas/"), "a copy uploads nothing"
    got = run_xet(
        {"phase": "download", "repo": target, "wanted": {"c": ["copied.bin", None]}},
        workdir=tmp_path / "down",
        server=server,
        token=bob.token,
        xet_cache=tmp_path / "xet-down",
    )
    assert got["c"] == _sha(data)

    hidden = make_repo(alice, private=True)
    api_commit = run_xet(
        {"phase": "upload", "repo": hidden, "files": {"s.bin": _write(tmp_path / "s.bin", data)}},
        workdir=tmp_path / "up-hidden",
        server=server,
        token=alice.token,
        xet_cache=tmp_path / "xet-hidden",
    )
    assert api_commit["xet"] is True
    refused = run_xet(
        {"phase": "copy", **args, "src_repo": hidden, "src_path": "s.bin", "path": "stolen.bin"},
        workdir=tmp_path / "steal",
        server=server,
        token=bob.token,
        xet_cache=tmp_path / "xet-steal",
    )
    assert refused == {"error": "RepositoryNotFoundError", "status": 404, "version": VERSION}
