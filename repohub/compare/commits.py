"""The commits between two sides: merge base, how far each is ahead, and head's new commits.

All sides live in one fork network, hence one object store, so this is a plain walk of
parents. The walk is bounded: histories past MAX_WALK commits count as far as they were read.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dulwich.objects import Commit

from repohub.objects.gitstore import NetworkObjectStore
from repohub.repos.paths import commit_text

MAX_COMMITS = 250
MAX_WALK = 100_000


@dataclass(frozen=True)
class Between:
    merge_base: str | None
    ahead_by: int
    behind_by: int
    commits: list[dict[str, Any]]


def ancestors(store: NetworkObjectStore, start: bytes) -> dict[bytes, Commit]:
    """Every commit reachable from `start` (itself included)."""
    seen: dict[bytes, Commit] = {}
    queue = deque([start])
    while queue and len(seen) < MAX_WALK:
        sha = queue.popleft()
        if sha in seen:
            continue
        try:
            commit = store[sha]
        except KeyError:  # a shallow boundary
            continue
        assert isinstance(commit, Commit)
        seen[sha] = commit
        queue.extend(p for p in commit.parents if p not in seen)
    return seen


def describe(commit: Commit) -> dict[str, Any]:
    author = commit_text(commit.author, commit.encoding).split(" <", 1)[0]
    title = commit_text(commit.message, commit.encoding).strip().split("\n", 1)[0]
    date = datetime.fromtimestamp(commit.commit_time, UTC)
    return {
        "sha": commit.id.decode(),
        "title": title,
        "author": author,
        "date": date.isoformat().replace("+00:00", "Z"),
    }


def between(store: NetworkObjectStore, base: str, head: str) -> Between:
    of_base = ancestors(store, base.encode())
    of_head = ancestors(store, head.encode())
    common = of_base.keys() & of_head.keys()
    merge_base = _lowest(of_head, common)
    new = [c for sha, c in of_head.items() if sha not in of_base]
    new.sort(key=lambda c: (c.commit_time, c.id), reverse=True)
    return Between(
        merge_base.decode() if merge_base else None,
        len(new),
        sum(1 for sha in of_base if sha not in of_head),
        [describe(c) for c in new[:MAX_COMMITS]],
    )


def _lowest(commits: dict[bytes, Commit], common: set[bytes]) -> bytes | None:
    """A common ancestor that no other common ancestor descends from; the newest if several."""
    if not common:
        return None
    below: set[bytes] = set()
    for sha in common:
        below.update(p for p in commits[sha].parents if p in common)
    lowest = [sha for sha in common if sha not in below]
    return max(lowest, key=lambda sha: (commits[sha].commit_time, sha))
