"""Git LFS file locks: one lock per path per repo, released by its owner (or forced by an admin)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from repohub.auth.identity import Identity
from repohub.db.models import LfsLock
from repohub.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from repohub.repos.access import Access, access_level
from repohub.repos.context import Hub
from repohub.repos.limits import parse_int
from repohub.repos.service import RepoKey, get_repo

MAX_PAGE = 100


class LockExists(Conflict):
    def __init__(self, lock: LfsLock) -> None:
        super().__init__("already created lock")
        self.lock = lock


@dataclass(frozen=True)
class LockPage:
    locks: list[LfsLock]
    next_cursor: str | None


def _check_path(path: object) -> str:
    if not isinstance(path, str) or not path or len(path) > 1024 or "\0" in path:
        raise InvalidArgument("a lock needs a non-empty `path`")
    if path.startswith("/") or ".." in path.split("/"):
        raise InvalidArgument(f"invalid path {path!r}")
    return path


def create(hub: Hub, identity: Identity, key: RepoKey, path: object, ref: str | None) -> LfsLock:
    path = _check_path(path)
    try:
        with hub.sessions.begin() as session:
            repo = get_repo(session, identity, key, Access.WRITE)
            assert identity.user_id is not None
            lock = LfsLock(repo_id=repo.id, path=path, owner_id=identity.user_id, ref=ref)
            session.add(lock)
            session.flush()
            session.refresh(lock)
            return lock
    except IntegrityError:
        with hub.sessions() as session:
            repo = get_repo(session, identity, key, Access.WRITE)
            existing = session.scalar(
                select(LfsLock).where(LfsLock.repo_id == repo.id, LfsLock.path == path)
            )
            if existing is None:
                raise
            raise LockExists(existing) from None


def page(
    session: Session,
    repo_id: int,
    *,
    cursor: str | None,
    limit: int | None,
    path: str | None = None,
    lock_id: str | None = None,
) -> LockPage:
    query = select(LfsLock).where(LfsLock.repo_id == repo_id).order_by(LfsLock.id)
    if path:
        query = query.where(LfsLock.path == path)
    if lock_id:
        query = query.where(LfsLock.id == _int(lock_id, "id"))
    if cursor:
        query = query.where(LfsLock.id >= _int(cursor, "cursor"))
    size = min(limit or MAX_PAGE, MAX_PAGE)
    rows = list(session.scalars(query.limit(size + 1)))
    next_cursor = str(rows[size].id) if len(rows) > size else None
    return LockPage(rows[:size], next_cursor)


def listing(
    hub: Hub, identity: Identity, key: RepoKey, *, needed: Access, **filters: str | int | None
) -> LockPage:
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, needed)
        return page(session, repo.id, **filters)  # type: ignore[arg-type]


def unlock(hub: Hub, identity: Identity, key: RepoKey, lock_id: str, *, force: bool) -> LfsLock:
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.WRITE)
        lock = session.scalar(
            select(LfsLock).where(LfsLock.repo_id == repo.id, LfsLock.id == _int(lock_id, "id"))
        )
        if lock is None:
            raise NotFound(f"no lock {lock_id}")
        if lock.owner_id != identity.user_id:
            if not force:
                raise PermissionDenied("this lock belongs to someone else: unlock with --force")
            if access_level(session, identity, repo) < Access.ADMIN:
                raise PermissionDenied("only a repository admin can force-unlock another's lock")
        session.delete(lock)
        return lock


def _int(value: str, what: str) -> int:
    return parse_int(value, what, minimum=0)
