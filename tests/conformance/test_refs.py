"""The SQL refs container, on SQLite and PostgreSQL: compare-and-swap, symbolic HEAD, push log."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from dulwich.objects import ZERO_SHA
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from repohub.db.engine import make_engine, make_session_factory
from repohub.db.migrate import upgrade
from repohub.db.models import Account, Network, PushLogEntry, Repo
from repohub.refs.sqlrefs import RefUpdate, SqlRefsContainer, apply_ref_updates
from tests.support.stack import pg_schema

A, B, C = (bytes([c]) * 40 for c in b"abc")


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'refs.db'}"
        upgrade(url)
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()
        return
    with pg_schema() as url:
        upgrade(url)
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


@pytest.fixture
def repo_id(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as s:
        owner = Account(kind="user", name="o", name_lower="o")
        net = Network()
        s.add_all([owner, net])
        s.flush()
        repo = Repo(
            network_id=net.id, owner_id=owner.id, repo_type="model", name="r", name_lower="r"
        )
        s.add(repo)
        s.flush()
        return repo.id


def test_cas_semantics(sessions: sessionmaker[Session], repo_id: int) -> None:
    refs = SqlRefsContainer(sessions, repo_id)
    assert refs.add_if_new(b"refs/heads/main", A)
    assert not refs.add_if_new(b"refs/heads/main", B), "creating an existing ref loses"
    assert not refs.set_if_equals(b"refs/heads/main", B, C), "a stale old value loses"
    assert refs.set_if_equals(b"refs/heads/main", A, B)
    assert refs[b"refs/heads/main"] == B
    assert refs[b"HEAD"] == B, "HEAD follows the default branch"
    assert refs.get_symrefs() == {b"HEAD": b"refs/heads/main"}
    assert not refs.remove_if_equals(b"refs/heads/main", A)
    assert refs.remove_if_equals(b"refs/heads/main", B)
    assert b"refs/heads/main" not in refs.allkeys()
    with pytest.raises(ValueError):
        refs.set_if_equals(b"refs/heads/bad..name", None, A)


def test_atomic_batch_all_or_nothing(sessions: sessionmaker[Session], repo_id: int) -> None:
    apply_ref_updates(
        sessions, repo_id, [RefUpdate(b"refs/heads/a", ZERO_SHA, A)], user_id=None, atomic=True
    )
    result = apply_ref_updates(
        sessions,
        repo_id,
        [RefUpdate(b"refs/heads/new", ZERO_SHA, B), RefUpdate(b"refs/heads/a", C, B)],
        user_id=None,
        atomic=True,
    )
    assert result[b"refs/heads/a"] and result[b"refs/heads/new"]
    assert set(SqlRefsContainer(sessions, repo_id).allkeys()) == {b"refs/heads/a", b"HEAD"}


def test_concurrent_writers_one_wins(sessions: sessionmaker[Session], repo_id: int) -> None:
    apply_ref_updates(
        sessions, repo_id, [RefUpdate(b"refs/heads/main", ZERO_SHA, A)], user_id=None, atomic=True
    )
    barrier = threading.Barrier(8)
    outcomes: list[str | None] = []

    def push(i: int) -> None:
        target = f"{i:040x}".encode()
        barrier.wait()
        result = apply_ref_updates(
            sessions, repo_id, [RefUpdate(b"refs/heads/main", A, target)], user_id=None, atomic=True
        )
        outcomes.append(result[b"refs/heads/main"])

    threads = [threading.Thread(target=push, args=(i + 1,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(None) == 1, outcomes
    with sessions() as s:
        log = s.scalars(select(PushLogEntry).where(PushLogEntry.repo_id == repo_id)).all()
    assert len(log) == 2, "the push log records exactly the moves that happened"
    assert log[1].old == A.decode()
