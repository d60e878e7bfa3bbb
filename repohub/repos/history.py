"""A branch's history as the Hub lists it: commits reachable from a revision, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

from dulwich.objects import Commit
from dulwich.walk import ORDER_DATE, Walker

from repohub.objects.gitstore import NetworkObjectStore
from repohub.repos.paths import commit_text


@dataclass(frozen=True)
class LoggedCommit:
    id: str
    title: str
    message: str
    author: str
    date: datetime


def logged(commit: Commit) -> LoggedCommit:
    """Title, full message, author name and date, as text (any encoding: the display rule)."""
    message = commit_text(commit.message, commit.encoding)
    author = commit_text(commit.author, commit.encoding).split(" <", 1)[0]
    title = message.strip().split("\n", 1)[0]
    date = datetime.fromtimestamp(commit.commit_time, UTC)
    return LoggedCommit(commit.id.decode(), title, message, author, date)


def log_page(
    store: NetworkObjectStore, start: bytes, skip: int, count: int
) -> tuple[list[LoggedCommit], bool]:
    """`count` commits after the first `skip`, and whether more follow."""
    walker = Walker(store, [start], order=ORDER_DATE)
    chunk = [logged(entry.commit) for entry in islice(walker, skip, skip + count + 1)]
    return chunk[:count], len(chunk) > count
