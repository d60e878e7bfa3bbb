"""Finding repos: full-text search over names, descriptions and model cards, with filters.

Each repo has a row in `repo_search`: its model card's facets (task, library, license, tags)
and a search document, built from README.md at the tip of the default branch. In PostgreSQL
the document is also a `tsvector` under a GIN index, so a query costs an index probe however
many repos there are; SQLite (the one-machine install) matches with LIKE over the document.

When is a row rebuilt? Not inside the push: the git layer would then have to know about
cards, and a slow README would slow every push. Instead every ref move is already a push-log
row and every repo a repos row, so `sync_index` compares two marks with those tables' newest
ids (one cheap query), and rebuilds only the repos that changed since. A search calls it
first, so a push is searchable on the next search, on any node, and an unchanged hub costs
one query. Settings that change the document (description, owner, default branch) rebuild
the row themselves.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ARRAY,
    Integer,
    ScalarSelect,
    Select,
    and_,
    any_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from repohub.auth.identity import ANONYMOUS, Identity
from repohub.db.models import Account, PushLogEntry, Repo, utcnow
from repohub.db.social import RepoSearch, SearchSync
from repohub.errors import InvalidArgument
from repohub.repos.access import viewer_kind, visible_clause, visible_filter
from repohub.repos.cards import Card, parse_card, plain_text, summary
from repohub.repos.context import Hub
from repohub.repos.reading import peel, repo_refs

PAGE_SIZE = 30
MAX_PAGE = 200
SYNC_BATCH = 200
MAX_README_BYTES = 512 * 1024
WORD_RE = re.compile(r"[a-z0-9]+")
SORTS = {
    "downloads": Repo.downloads.desc(),
    "likes": Repo.likes.desc(),
    "updated": Repo.updated_at.desc(),
}
FACETS = {"task": RepoSearch.task, "library": RepoSearch.library, "license": RepoSearch.license}
FACET_TTL = 60.0
RESULTS_TTL = 30.0  # as the page cache: counts shown may lag by this much
RESULTS_SIZE = 2048


@dataclass(frozen=True)
class SearchQuery:
    repo_type: str = "model"
    text: str = ""
    task: str = ""
    library: str = ""
    license: str = ""
    owner: str = ""
    sort: str = "downloads"
    page: int = 1


@dataclass(frozen=True)
class Hit:
    id: int
    repo_type: str
    owner: str
    name: str
    private: bool
    description: str
    summary: str
    task: str
    library: str
    license: str
    downloads: int
    likes: int
    updated_at: datetime

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class Results:
    hits: tuple[Hit, ...]
    page: int
    has_next: bool


# --- building the index --------------------------------------------------------------------


def _readme(hub: Hub, repo: Repo, tip: str) -> tuple[str, Card]:
    """The commit the card was read at, and the card (empty if there is no README.md)."""
    store = hub.stores.get(repo.network_id)
    commit_id = peel(store, tip.encode())
    tree = store[store[commit_id].tree]
    for item in tree.iteritems():
        if item.path.lower() == b"readme.md" and item.mode & 0o170000 == 0o100000:
            data = store[item.sha].as_raw_string()[:MAX_README_BYTES]
            return commit_id.decode(), parse_card(data.decode("utf-8", "replace"))
    return commit_id.decode(), Card()


def _document(repo: Repo, owner: str, card: Card) -> str:
    """Lowercased words to match: names (whole and split), description, card fields, text."""
    fields = card.fields
    parts = [
        owner,
        repo.name,
        " ".join(WORD_RE.findall(f"{owner} {repo.name}".lower())),
        repo.description,
        fields.task,
        fields.library,
        fields.license,
        " ".join(fields.tags + fields.datasets + fields.languages),
        plain_text(card.body),
    ]
    return " ".join(p for p in parts if p).lower()


def _postgresql(session: Session) -> bool:
    """The one place search asks which database it runs on (full text or LIKE)."""
    return session.get_bind().dialect.name == "postgresql"


def _upsert(session: Session, values: dict[str, object]) -> None:
    """Insert or replace a row (two nodes may index one repo at once); PostgreSQL also
    stores the document's tsvector, which SQLite has no use for."""
    if _postgresql(session):
        values = {**values, "vector": func.to_tsvector("simple", values["document"])}
    insert = pg_insert if _postgresql(session) else sqlite_insert
    stmt = insert(RepoSearch).values(**values)
    changed = {k: getattr(stmt.excluded, k) for k in values if k != "repo_id"}
    session.execute(stmt.on_conflict_do_update(index_elements=["repo_id"], set_=changed))


def _row(hub: Hub, session: Session, repo: Repo) -> dict[str, object]:
    """A repo's search row, from its default branch's README.md (reads only)."""
    tip = repo_refs(session, repo).get(f"refs/heads/{repo.default_branch}")
    commit_id, card = _readme(hub, repo, tip) if tip else (None, Card())
    owner = session.scalar(select(Account.name).where(Account.id == repo.owner_id)) or ""
    fields = card.fields
    return {
        "repo_id": repo.id,
        "commit_id": commit_id,
        "task": fields.task,
        "library": fields.library,
        "license": fields.license,
        "tags": " ".join(fields.tags)[:4000],
        "summary": summary(card.body),
        "document": _document(repo, owner, card),
        "indexed_at": utcnow(),
    }


def reindex_repo(hub: Hub, session: Session, repo: Repo) -> None:
    """Rebuild one repo's search row inside the caller's transaction (settings changes)."""
    _upsert(session, _row(hub, session, repo))


_sync_lock = threading.Lock()


@dataclass
class _Memory:
    """What one hub's process remembers between searches (per hub: tests run two)."""

    # (viewer, query) -> (when, index marks, results)
    results: dict[tuple[object, ...], tuple[float, tuple[int, int], Results]] = field(
        default_factory=dict
    )
    facets: dict[tuple[str, str], tuple[float, list[str]]] = field(default_factory=dict)
    facet_locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)


_memories: WeakKeyDictionary[object, _Memory] = WeakKeyDictionary()


def _memory(hub: Hub) -> _Memory:
    return _memories.setdefault(hub.sessions, _Memory())


def _mark_columns() -> list[ScalarSelect[Any]]:
    return [
        select(SearchSync.push_log_id).where(SearchSync.id == 1).scalar_subquery(),
        select(SearchSync.repo_id).where(SearchSync.id == 1).scalar_subquery(),
        select(func.max(PushLogEntry.id)).scalar_subquery(),
        select(func.max(Repo.id)).scalar_subquery(),
    ]


_MARKS = select(*_mark_columns())


def _marks(session: Session) -> tuple[int, int, int, int]:
    """(indexed push-log id, indexed repo id, newest push-log id, newest repo id)."""
    return _ints(session.execute(_MARKS).one())  # type: ignore[return-value]


def _ints(row: Sequence[int | None]) -> tuple[int, ...]:
    return tuple(int(v or 0) for v in row)


def _caught_up(push_mark: int, repo_mark: int, push_max: int, repo_max: int) -> bool:
    """Whether the index holds every push and every repo there is."""
    return push_max <= push_mark and repo_max <= repo_mark


def sync_index(hub: Hub) -> tuple[int, int]:
    """Rebuild the rows of repos pushed to or created since the last sync.

    Returns the marks the index is now at (push-log id, repo id): a key for anything cached
    from search results. Bounded per call (SYNC_BATCH repos of each kind), so a hub upgrading
    with many unindexed repos catches up over several calls instead of stalling one request.
    """
    with hub.sessions() as session:
        found = _marks(session)
    if _caught_up(*found):
        return found[:2]
    with _sync_lock:
        # Read and build the rows first (cards are read from git), then write them: the write
        # transaction, and on SQLite its lock on the whole database, lasts only the upserts.
        with hub.sessions() as session:
            push_mark, repo_mark = _marks(session)[:2]
            pushes = session.execute(
                select(PushLogEntry.id, PushLogEntry.repo_id)
                .where(PushLogEntry.id > push_mark)
                .order_by(PushLogEntry.id)
                .limit(SYNC_BATCH)
            ).all()
            created = list(
                session.scalars(
                    select(Repo.id).where(Repo.id > repo_mark).order_by(Repo.id).limit(SYNC_BATCH)
                )
            )
            repo_ids = dict.fromkeys([r for _, r in pushes] + created)
            repos = session.scalars(select(Repo).where(Repo.id.in_(repo_ids)))
            rows = [_row(hub, session, repo) for repo in repos]
        marks = (pushes[-1][0] if pushes else push_mark, created[-1] if created else repo_mark)
        with hub.sessions.begin() as session:
            for values in rows:
                _upsert(session, values)
            _advance(session, *marks)
    return marks


def _advance(session: Session, push_id: int, repo_id: int) -> None:
    insert = pg_insert if _postgresql(session) else sqlite_insert
    greatest = func.greatest if _postgresql(session) else func.max  # SQLite's 2-argument max
    session.execute(
        insert(SearchSync)
        .values(id=1, push_log_id=0, repo_id=0)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    session.execute(
        update(SearchSync)
        .where(SearchSync.id == 1)
        .values(
            push_log_id=greatest(SearchSync.push_log_id, push_id),
            repo_id=greatest(SearchSync.repo_id, repo_id),
        )
    )


# --- querying ------------------------------------------------------------------------------


def _text_match(session: Session, text: str) -> ColumnElement[bool] | None:
    """Every word must match the start of a word (PostgreSQL) or occur (SQLite)."""
    words = WORD_RE.findall(text.lower())[:8]
    if not words:
        return None
    if _postgresql(session):
        tsquery = func.to_tsquery("simple", " & ".join(f"{w}:*" for w in words))
        return RepoSearch.vector.op("@@")(tsquery)
    return and_(*(RepoSearch.document.like(f"%{w}%") for w in words))


def _validate(query: SearchQuery) -> None:
    if query.repo_type not in ("model", "dataset"):
        raise InvalidArgument(f"unknown repo type {query.repo_type!r}")
    if query.sort not in SORTS:
        raise InvalidArgument(f"unknown sort {query.sort!r}: use one of {', '.join(SORTS)}")
    if not 1 <= query.page <= MAX_PAGE:
        raise InvalidArgument(f"page must be between 1 and {MAX_PAGE}")


def search(hub: Hub, identity: Identity, query: SearchQuery) -> Results:
    """One page of the repos `identity` may read that match `query`.

    Results are remembered for RESULTS_TTL seconds per (viewer, query). A remembered page is
    served only after one query confirms that the index is where it was (a push or a new repo
    moves its marks, so neither is ever missed) and that every hit still exists and is still
    visible to `identity`; likes and download counts may lag by the TTL.
    """
    _validate(query)
    remembered = _memory(hub).results
    key = (identity.user_id, identity.is_admin, query)
    cached = remembered.get(key)
    fresh = cached is not None and time.monotonic() - cached[0] < RESULTS_TTL
    if cached is not None and fresh and _still_valid(hub, identity, cached[1], cached[2].hits):
        return cached[2]
    marks = sync_index(hub)
    results = _run(hub, identity, query)
    remembered[key] = (time.monotonic(), marks, results)
    while len(remembered) > RESULTS_SIZE:
        remembered.pop(next(iter(remembered)))
    return results


def _still_valid(
    hub: Hub, identity: Identity, marks: tuple[int, int], hits: tuple[Hit, ...]
) -> bool:
    params = {"ids": [h.id for h in hits], "viewer_id": identity.user_id}
    with hub.sessions.connect() as conn:
        statement = _validity_statement(viewer_kind(identity), conn.dialect.name)
        row = conn.execute(statement, params).one()
    *found, seen = _ints(row)
    return tuple(found[:2]) == marks and _caught_up(*found) and seen == len(hits)


@functools.cache
def _validity_statement(kind: str, dialect: str) -> Select[Any]:
    """The index marks and how many of `:ids` the viewer may read, built once per kind of
    viewer: on a remembered search, building and keying a fresh statement took more CPU
    than the database took to answer it. PostgreSQL takes the ids as one array parameter,
    so the SQL text never changes with their number."""
    if dialect == "postgresql":
        among = Repo.id == any_(bindparam("ids", type_=ARRAY(Integer)))
    else:
        among = Repo.id.in_(bindparam("ids", expanding=True))
    visible = select(func.count()).select_from(Repo).where(among, visible_clause(kind))
    return select(*_mark_columns(), visible.scalar_subquery())


def _run(hub: Hub, identity: Identity, query: SearchQuery) -> Results:
    with hub.sessions() as session:
        stmt = (
            select(
                Repo.id,
                Repo.repo_type,
                Account.name,
                Repo.name,
                Repo.private,
                Repo.description,
                RepoSearch.summary,
                RepoSearch.task,
                RepoSearch.library,
                RepoSearch.license,
                Repo.downloads,
                Repo.likes,
                Repo.updated_at,
            )
            .join(RepoSearch, RepoSearch.repo_id == Repo.id)
            .join(Account, Account.id == Repo.owner_id)
            .where(Repo.repo_type == query.repo_type, visible_filter(identity))
        )
        match = _text_match(session, query.text)
        if match is not None:
            stmt = stmt.where(match)
        for name, column in FACETS.items():
            if value := getattr(query, name).strip():
                stmt = stmt.where(column == value)
        if query.owner.strip():
            stmt = stmt.where(Account.name_lower == query.owner.strip().lower())
        stmt = stmt.order_by(SORTS[query.sort], Repo.id.desc())
        stmt = stmt.offset((query.page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
        hits = tuple(Hit(*row) for row in session.execute(stmt))
    return Results(hits[:PAGE_SIZE], query.page, len(hits) > PAGE_SIZE)


def public_top(hub: Hub, repo_type: str, sort: str, limit: int = 8) -> list[Hit]:
    """The home page's lists: public repos only, whoever is looking."""
    results = search(hub, ANONYMOUS, SearchQuery(repo_type=repo_type, sort=sort))
    return list(results.hits[:limit])


def facet_values(hub: Hub, repo_type: str, facet: str, limit: int = 20) -> list[str]:
    """The most common values of a facet among public repos, for filter menus.

    Cached for a minute per process: counting over every repo per page view would cost
    more than the search itself, and a menu a minute old misleads nobody. One thread counts
    while the others keep showing the old menu (or, on a cold start, wait for the count):
    when 64 page views at once each counted 100,000 rows three times, the first search
    pages after a start took 2.7 s.
    """
    key = (repo_type, facet)
    memory = _memory(hub)
    cached = memory.facets.get(key)
    if cached and time.monotonic() - cached[0] < FACET_TTL:
        return cached[1]
    lock = memory.facet_locks.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=cached is None):
        return cached[1]  # type: ignore[index]  # someone is counting; this menu will do
    try:
        cached = memory.facets.get(key)
        if cached and time.monotonic() - cached[0] < FACET_TTL:
            return cached[1]
        values = _count_facet(hub, repo_type, FACETS[facet], limit)
        memory.facets[key] = (time.monotonic(), values)
        return values
    finally:
        lock.release()


def _count_facet(hub: Hub, repo_type: str, column: Any, limit: int) -> list[str]:
    with hub.sessions() as session:
        return list(
            session.scalars(
                select(column)
                .join(Repo, Repo.id == RepoSearch.repo_id)
                .where(Repo.repo_type == repo_type, Repo.private.is_(False), column != "")
                .group_by(column)
                .order_by(func.count().desc(), column)
                .limit(limit)
            )
        )
