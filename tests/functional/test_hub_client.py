"""Downloads and listings through the real `huggingface_hub` clients: 2.x in-process, and the
requests-based 0.36.x that users still run, in its own virtualenv as a subprocess (the
`downloads_explicit` scenario; `test_hub_versions` drives every release in `HF_VERSIONS`).
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from repohub.repos.context import Hub
from tests.functional.test_files_api import Published, publish
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.hfclient import HF_036, in_process_client, run_scenario
from tests.support.stack import Server


@pytest.fixture
def hf_cache(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache of an isolated client of the live server: its own HF_HOME, no telemetry, no
    Xet (the tests below also pass `endpoint=` and `cache_dir=` as a user's script would)."""
    in_process_client(monkeypatch, tmp_path / "hf", server.url)
    return tmp_path / "hf" / "hub"


@pytest.fixture
def published(
    hub: Hub, server: Server, git: Git, tmp_path: Path, make_user, make_repo
) -> Published:
    owner = make_user("hf")
    return publish(hub, server, git, tmp_path / "repo", owner, make_repo(owner))


@pytest.fixture
def private_repo(server: Server, git: Git, tmp_path: Path, published: Published, make_repo) -> str:
    repo = make_repo(published.owner, private=True)
    src = git.init_repo(tmp_path / "private", {"secret.txt": "weights"})
    git("push", "-q", remote(server, repo, published.owner), "main", cwd=src)
    return repo


def _sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _digests(files: dict[str, bytes]) -> dict[str, str]:
    return {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}


# --- huggingface_hub 2.x, in-process ----------------------------------------------------------


def test_hf_hub_download(server: Server, hf_cache: Path, published: Published) -> None:
    from huggingface_hub import hf_hub_download

    contents = {**published.files, "weights.bin": published.lfs_data}
    for path in ("config.json", "weights.bin", "dir/with space.txt", "big.bin"):
        local = hf_hub_download(published.repo, path, endpoint=server.url, cache_dir=hf_cache)
        assert Path(local).read_bytes() == contents[path], path
        assert f"/snapshots/{published.main}/" in local
    lfs_blob = Path(local).parent / "weights.bin"
    assert lfs_blob.resolve().name == published.lfs_oid, "LFS blobs are cached by sha256 (ETag)"
    feat = hf_hub_download(
        published.repo, "feat.txt", revision="feat/x", endpoint=server.url, cache_dir=hf_cache
    )
    assert Path(feat).read_bytes() == b"feature\n"
    assert f"/snapshots/{published.feat}/" in feat


def test_snapshot_download(server: Server, hf_cache: Path, published: Published) -> None:
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(published.repo, endpoint=server.url, cache_dir=hf_cache))
    assert folder.name == published.main
    got = {str(p.relative_to(folder)): _sha256(p) for p in folder.rglob("*") if p.is_file()}
    want = _digests({**published.files, "weights.bin": published.lfs_data})
    assert got == want
    feat = Path(
        snapshot_download(
            published.repo, revision="feat/x", endpoint=server.url, cache_dir=hf_cache
        )
    )
    assert (feat / "feat.txt").read_text() == "feature\n"
    assert (feat / "weights.bin").read_bytes() == published.lfs_data


def test_listings_and_metadata(server: Server, hf_cache: Path, published: Published) -> None:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile, RepoFolder

    api = HfApi(endpoint=server.url)
    assert sorted(api.list_repo_files(published.repo)) == sorted(published.files)
    assert "feat.txt" in api.list_repo_files(published.repo, revision="feat/x")

    tree = list(api.list_repo_tree(published.repo, path_in_repo="dir", revision="feat/x"))
    assert {(type(e).__name__, e.path) for e in tree} == {
        ("RepoFolder", "dir/sub"),
        ("RepoFile", "dir/with space.txt"),
    }
    deep = list(api.list_repo_tree(published.repo, recursive=True, expand=True))
    weights = next(e for e in deep if e.path == "weights.bin")
    assert isinstance(weights, RepoFile) and weights.size == len(published.lfs_data)
    assert weights.lfs is not None and weights.lfs.sha256 == published.lfs_oid
    assert weights.last_commit is not None and weights.last_commit.oid == published.first
    assert any(isinstance(e, RepoFolder) and e.path == "dir/sub" for e in deep)

    info = api.model_info(published.repo, files_metadata=True)
    assert info.sha == published.main
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert siblings["big.bin"].size == len(published.files["big.bin"])
    assert siblings["weights.bin"].lfs is not None
    assert siblings["weights.bin"].lfs.sha256 == published.lfs_oid
    assert siblings["weights.bin"].lfs.pointer_size == len(published.pointer)

    infos = api.get_paths_info(published.repo, ["weights.bin", "dir", "nope.txt"], expand=True)
    by_path = {e.path: e for e in infos}
    assert set(by_path) == {"weights.bin", "dir"}
    assert isinstance(by_path["dir"], RepoFolder)
    assert by_path["dir"].last_commit is not None


def test_client_errors(
    server: Server, hf_cache: Path, published: Published, private_repo: str
) -> None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    def download(repo: str, path: str, **options: object) -> str:
        return hf_hub_download(repo, path, endpoint=server.url, cache_dir=hf_cache, **options)  # type: ignore[arg-type]

    with pytest.raises(RevisionNotFoundError):
        download(published.repo, "config.json", revision="nope")
    with pytest.raises(EntryNotFoundError):
        download(published.repo, "nope.txt")
    no_exist = hf_cache / f"models--{published.repo.replace('/', '--')}" / ".no_exist"
    assert (no_exist / published.main / "nope.txt").exists(), "X-Repo-Commit on the 404"
    with pytest.raises(RepositoryNotFoundError):
        download(private_repo, "secret.txt", token=False)
    with pytest.raises(RepositoryNotFoundError):
        download(f"{published.owner.name}/does-not-exist", "README.md")
    owned = download(private_repo, "secret.txt", token=published.owner.token)
    assert Path(owned).read_text() == "weights"


@contextmanager
def _listener() -> Iterator[socket.socket]:
    """A port that accepts connections and never answers: any request would be counted."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield sock


def _connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_cached_commit_needs_no_request(
    server: Server, hf_cache: Path, published: Published
) -> None:
    """A file cached at a 40-hex revision comes from disk: pointed at an endpoint that would
    see any request, the client opens no connection at all."""
    from huggingface_hub import hf_hub_download

    first = hf_hub_download(
        published.repo,
        "weights.bin",
        revision=published.main,
        endpoint=server.url,
        cache_dir=hf_cache,
    )
    with _listener() as sock:
        again = hf_hub_download(
            published.repo,
            "weights.bin",
            revision=published.main,
            endpoint=f"http://127.0.0.1:{sock.getsockname()[1]}",
            cache_dir=hf_cache,
            etag_timeout=2,
        )
        assert _connections(sock) == 0
    assert again == first and Path(again).read_bytes() == published.lfs_data


# --- huggingface_hub 0.36.x, in its own virtualenv --------------------------------------------


def test_huggingface_hub_036(
    server: Server, tmp_path: Path, published: Published, private_repo: str
) -> None:
    owner = published.owner.name
    new_repo = f"{owner}/from-036"
    out = run_scenario(
        HF_036,
        "downloads_explicit",
        {
            "endpoint": server.url,
            "repo": published.repo,
            "token": published.owner.token,
            "new_repo": new_repo,
            "author": owner,
            "private": private_repo,
        },
        workdir=tmp_path / "hf036",
        endpoint=server.url,
    )
    assert out["version"] == HF_036
    files = {**published.files, "weights.bin": published.lfs_data}
    digests = _digests(files)
    assert out["regular"] == digests["config.json"]
    assert out["lfs"] == hashlib.sha256(published.lfs_data).hexdigest()
    assert out["spaced"] == digests["dir/with space.txt"]
    assert out["feat"] == hashlib.sha256(b"feature\n").hexdigest()
    assert out["snapshot"] == digests and out["snapshot_commit"] == published.main
    assert out["files"] == sorted(published.files)
    assert out["tree"] == ["dir/sub", "dir/with space.txt"]
    assert out["info"]["sha"] == published.main
    assert out["info"]["siblings"]["weights.bin"][0] == len(published.lfs_data)
    assert out["info"]["siblings"]["weights.bin"][2] == published.lfs_oid
    assert out["info"]["siblings"]["README.md"][0] == len(b"# demo\n")
    assert out["created"] == [f"{server.url}/{new_repo}"] * 2
    assert out["models"] == sorted([published.repo, private_repo, new_repo])
    assert out["errors"] == {
        "revision": "RevisionNotFoundError",
        "entry": "EntryNotFoundError",
        "private": "RepositoryNotFoundError",
        "info": "RepositoryNotFoundError",
    }
