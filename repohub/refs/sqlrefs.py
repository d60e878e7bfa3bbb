"""A dulwich `RefsContainer` whose refs are rows, moved by compare-and-swap.

Every move is `UPDATE refs SET target=:new WHERE repo_id=:r AND name=:n AND target=:old`
(or an INSERT that a primary key guards) inside one transaction, with its push-log row, so
two API nodes or two concurrent pushes can never both win.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dulwich.objects import ZERO_SHA
from dulwich.refs import SYMREF, RefsContainer, check_ref_format
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from repohub.db.models import PushLogEntry, Ref, Repo, utcnow

HEAD = b"HEAD"
LOST_RACE = "non-fast-forward: the ref moved while you pushed; fetch first"


@dataclass(frozen=True)
class RefUpdate:
    """One command of a push: move `ref` from `old` to `new` (zero sha = create / delete)."""

    ref: bytes
    old: bytes
    new: bytes


class RefMoved(Exception):
    """The ref no longer holds the value the writer expected: someone else won the race."""


def _cas(session: Session, repo_id: int, u: RefUpdate, user_id: int | None) -> None:
    name = u.ref.decode()
    if u.new == ZERO_SHA:
        result = session.execute(
            delete(Ref).where(
                Ref.repo_id == repo_id, Ref.name == name, Ref.target == u.old.decode()
            )
        )
        if result.rowcount != 1:
            raise RefMoved(name)
    elif u.old == ZERO_SHA:
        try:
            with session.begin_nested():
                session.execute(
                    insert(Ref).values(repo_id=repo_id, name=name, target=u.new.decode())
                )
        except IntegrityError as exc:
            raise RefMoved(name) from exc
    else:
        result = session.execute(
            update(Ref)
            .where(Ref.repo_id == repo_id, Ref.name == name, Ref.target == u.old.decode())
            .values(target=u.new.decode())
        )
        if result.rowcount != 1:
            raise RefMoved(name)
    session.add(
        PushLogEntry(
            repo_id=repo_id, user_id=user_id, ref=name, old=u.old.decode(), new=u.new.decode()
        )
    )


def apply_ref_updates(
    sessions: sessionmaker[Session],
    repo_id: int,
    updates: Iterable[RefUpdate],
    *,
    user_id: int | None,
    atomic: bool,
) -> dict[bytes, str | None]:
    """Apply each update by CAS; answer ref -> None (moved) or a reason it did not.

    With `atomic`, all updates share one transaction: one lost race rolls back every move.
    """
    updates = list(updates)
    results: dict[bytes, str | None] = {}
    if atomic:
        try:
            with sessions.begin() as session:
                for u in updates:
                    _cas(session, repo_id, u, user_id)
                _touch(session, repo_id)
        except RefMoved as exc:
            lost = exc.args[0].encode()
            return {u.ref: (LOST_RACE if u.ref == lost else "atomic push failed") for u in updates}
        return dict.fromkeys((u.ref for u in updates), None)
    for u in updates:
        try:
            with sessions.begin() as session:
                _cas(session, repo_id, u, user_id)
                _touch(session, repo_id)
            results[u.ref] = None
        except RefMoved:
            results[u.ref] = LOST_RACE
    return results


def _touch(session: Session, repo_id: int) -> None:
    session.execute(update(Repo).where(Repo.id == repo_id).values(updated_at=utcnow()))


class SqlRefsContainer(RefsContainer):
    """The refs of one repo; HEAD is symbolic and points at the repo's default branch."""

    def __init__(
        self, sessions: sessionmaker[Session], repo_id: int, *, user_id: int | None = None
    ) -> None:
        super().__init__()
        self._sessions = sessions
        self._repo_id = repo_id
        self._user_id = user_id

    def _rows(self) -> dict[bytes, bytes]:
        with self._sessions() as s:
            rows = s.execute(select(Ref.name, Ref.target).where(Ref.repo_id == self._repo_id))
            return {name.encode(): target.encode() for name, target in rows}

    def _head_target(self) -> bytes:
        with self._sessions() as s:
            branch = s.scalar(select(Repo.default_branch).where(Repo.id == self._repo_id))
        return b"refs/heads/" + (branch or "main").encode()

    def get_packed_refs(self) -> dict[bytes, bytes]:  # type: ignore[override]
        return {}

    def allkeys(self) -> set[bytes]:  # type: ignore[override]
        keys = set(self._rows())
        return keys | {HEAD} if keys else keys

    def read_loose_ref(self, name: bytes) -> bytes | None:  # type: ignore[override]
        if name == HEAD:
            return SYMREF + self._head_target()
        with self._sessions() as s:
            target = s.scalar(
                select(Ref.target).where(Ref.repo_id == self._repo_id, Ref.name == name.decode())
            )
        return target.encode() if target else None

    def as_dict(self, base: bytes | None = None) -> dict[bytes, bytes]:  # type: ignore[override]
        rows = self._rows()
        if base is None:
            head = rows.get(self._head_target())
            return {**rows, HEAD: head} if head else rows
        prefix = base.rstrip(b"/") + b"/"
        return {k[len(prefix) :]: v for k, v in rows.items() if k.startswith(prefix)}

    def get_symrefs(self) -> dict[bytes, bytes]:  # type: ignore[override]
        return {HEAD: self._head_target()}

    def set_symbolic_ref(self, name: bytes, other: bytes, **_: object) -> None:  # type: ignore[override]
        if name != HEAD or not other.startswith(b"refs/heads/"):
            raise ValueError("only HEAD -> refs/heads/* is supported")
        with self._sessions.begin() as s:
            s.execute(
                update(Repo)
                .where(Repo.id == self._repo_id)
                .values(default_branch=other[len(b"refs/heads/") :].decode())
            )

    def _single(self, ref: bytes, old: bytes, new: bytes) -> bool:
        if ref == HEAD:
            ref = self._head_target()
        check_ref_format(ref) or _raise_bad(ref)
        result = apply_ref_updates(
            self._sessions,
            self._repo_id,
            [RefUpdate(ref, old, new)],
            user_id=self._user_id,
            atomic=True,
        )
        return result[ref] is None

    def set_if_equals(  # type: ignore[override]
        self, name: bytes, old_ref: bytes | None, new_ref: bytes, **_: object
    ) -> bool:
        if old_ref is None:
            current = self.read_loose_ref(name if name != HEAD else self._head_target())
            old_ref = current or ZERO_SHA
        return self._single(name, old_ref, new_ref)

    def add_if_new(self, name: bytes, ref: bytes, **_: object) -> bool:  # type: ignore[override]
        return self._single(name, ZERO_SHA, ref)

    def remove_if_equals(self, name: bytes, old_ref: bytes | None, **_: object) -> bool:  # type: ignore[override]
        if old_ref is None:
            old_ref = self.read_loose_ref(name)
            if old_ref is None:
                return True
        return self._single(name, old_ref, ZERO_SHA)

    def add_packed_refs(self, new_refs: Mapping[bytes, bytes | None]) -> None:  # type: ignore[override]
        for name, value in new_refs.items():
            if value is None:
                self.remove_if_equals(name, None)
            else:
                self.set_if_equals(name, None, value)


def _raise_bad(ref: bytes) -> bool:
    raise ValueError(f"invalid ref name {ref!r}")
