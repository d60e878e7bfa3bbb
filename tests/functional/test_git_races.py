"""Concurrent writers and interrupted pushes: one wins, the other is refused, nothing is lost."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

from repohub.repos.context import Hub
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server


def _branch(api: httpx.Client, repo: str, name: str = "main") -> str | None:
    refs = api.get(f"/api/models/{repo}/refs").json()
    return {b["name"]: b["targetCommit"] for b in refs["branches"]}.get(name)


def _network_packs(hub: Hub, api: httpx.Client, repo: str) -> set[str]:
    network = api.get(f"/api/models/{repo}").json()["_id"]
    from repohub.db.models import Repo

    with hub.sessions() as s:
        network_id = s.get(Repo, int(network)).network_id
    return {b.key for b in hub.blobs.list(f"git/{network_id}/")}


def test_concurrent_pushes_one_wins(
    server: Server, api, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    url = remote(server, repo, alice)
    base = git.init_repo(tmp_path / "base", {"a.txt": "base"})
    git("push", url, "main", cwd=base)
    clones = []
    for who in ("one", "two"):
        clone = tmp_path / who
        git("clone", "-q", url, str(clone))
        git.commit(clone, {f"{who}.bin": os.urandom(3 * 1024 * 1024).hex()}, f"{who}'s work")
        clones.append(clone)

    procs = [git.popen("push", "origin", "main", cwd=c) for c in clones]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    loser_err = next(err for code, err in results if code != 0)
    assert "rejected" in loser_err and (
        "non-fast-forward" in loser_err or "fetch first" in loser_err
    )
    winner = next(c for (code, _), c in zip(results, clones, strict=True) if code == 0)
    loser = next(c for (code, _), c in zip(results, clones, strict=True) if code != 0)
    assert _branch(api, repo) == git("rev-parse", "HEAD", cwd=winner).stdout.strip()

    git("pull", "-q", "--rebase", "origin", "main", cwd=loser)
    git("push", "-q", "origin", "main", cwd=loser)
    final = tmp_path / "final"
    git("clone", "-q", url, str(final))
    assert (final / "one.bin").exists() and (final / "two.bin").exists(), "nothing is lost"
    git.fsck(final)


def _truncated_push(server: Server, repo: str, token: str, commands: bytes, pack: bytes) -> None:
    """Send a receive-pack request whose body stops half-way, then hang up."""
    body = commands + pack
    head = (
        f"POST /{repo}/git-receive-pack HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/x-git-receive-pack-request\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head + body[: len(commands) + len(pack) // 2])
        time.sleep(0.5)


def _pkt(line: bytes) -> bytes:
    return f"{len(line) + 4:04x}".encode() + line


def test_push_cut_off_midway_leaves_repo_consistent(
    server: Server, api, hub: Hub, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    url = remote(server, repo, alice)
    src = git.init_repo(tmp_path / "src", {"a.txt": "a"})
    git("push", url, "main", cwd=src)
    before_ref, before_packs = _branch(api, repo), _network_packs(hub, api, repo)

    old = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    new = git.commit(src, {"big.bin": os.urandom(4 * 1024 * 1024).hex()}, "big")
    pack = subprocess.run(
        ["git", "pack-objects", "--stdout", "--revs", "-q"],
        cwd=src,
        env=git.env,
        input=f"{new}\n^{old}\n".encode(),
        capture_output=True,
        check=True,
    ).stdout
    commands = (
        _pkt(f"{old} {new} refs/heads/main\0report-status side-band-64k\n".encode()) + b"0000"
    )
    _truncated_push(server, repo, alice.token, commands, pack)

    killed = git.popen("push", url, "main", cwd=src)
    time.sleep(0.3)
    killed.kill()
    killed.wait()

    time.sleep(1.0)
    ref_after = _branch(api, repo)
    assert ref_after in (before_ref, new), "a ref only ever points at a complete push"
    if ref_after == before_ref:
        assert _network_packs(hub, api, repo) == before_packs, "no half-written pack is stored"
    clone = tmp_path / "after-cut"
    git("clone", "-q", url, str(clone))
    git.fsck(clone)

    git("push", url, "main", cwd=src)
    assert _branch(api, repo) == new
    final = tmp_path / "final"
    git("clone", "-q", url, str(final))
    assert (final / "big.bin").stat().st_size == 8 * 1024 * 1024
    git.fsck(final)
