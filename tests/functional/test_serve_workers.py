"""`repohub serve` with several web processes: one job worker still, and every process writes
to the same database (SQLite too) without losing an update."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Stack, running_server

DOWNLOADS = 24


def _children(pid: int) -> list[str]:
    """The command lines of the processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[1]) == pid:
            found.append(cmdline.replace(b"\0", b" ").decode())
    return found


def test_serve_with_two_web_workers(
    stack: Stack, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    owner = make_user("workers")
    repo = make_repo(owner)
    with running_server(stack, extra_env={"REPOHUB_WEB_WORKERS": "2"}) as server:
        children = _children(server.process.pid)
        assert sum("multiprocessing" in c and "spawn_main" in c for c in children) == 2, children
        assert sum("repohub.cli worker" in c for c in children) == 1, "one job worker, not two"

        src = git.init_repo(tmp_path / "src", {"config.json": '{"layers": 2}\n'})
        git("push", "-q", remote(server, repo, owner), "main", cwd=src)
        url = f"{server.url}/{repo}/resolve/main/config.json"
        with httpx.Client(timeout=60) as client, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: client.get(url), range(DOWNLOADS)))
            assert {a.status_code for a in answers} == {200}
            assert {a.content for a in answers} == {b'{"layers": 2}\n'}
            info = client.get(f"{server.url}/api/models/{repo}").json()
            assert info["downloads"] == DOWNLOADS, "no count lost between processes"
            page = client.get(f"{server.url}/{repo}")
            assert page.status_code == 200 and f"↓ {DOWNLOADS} downloads" in page.text
