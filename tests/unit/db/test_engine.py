"""On SQLite, a unit of work (`sessions.begin()`) holds the write lock from its first statement,
and a reading session holds none."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from repohub.db.engine import make_engine, make_session_factory
from repohub.db.migrate import upgrade
from repohub.errors import InvalidArgument
from tests.support.stack import PG_URL


def _other_writer_can_write(path: Path) -> bool:
    other = sqlite3.connect(path, timeout=0)
    try:
        other.execute("INSERT INTO networks (created_at) VALUES ('2026-01-01 00:00:00')")
        other.commit()
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


def test_a_unit_of_work_holds_the_write_lock_and_a_reader_does_not(tmp_path: Path) -> None:
    path = tmp_path / "repohub.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    sessions = make_session_factory(engine)
    with sessions() as session:
        session.execute(text("SELECT count(*) FROM networks"))
        assert _other_writer_can_write(path)  # a deferred reader blocks nobody
    with sessions.begin() as session:
        assert session.execute(text("SELECT count(*) FROM networks")).scalar() == 1
        assert not _other_writer_can_write(path)
    assert _other_writer_can_write(path)  # released at commit
    engine.dispose()


def test_read_then_write_units_interleaved_with_another_writer_both_succeed(
    tmp_path: Path,
) -> None:
    """The race that made SQLite answer "database is locked": a transaction reads, another
    connection commits a write, then the first writes. Now the other writer waits instead."""
    path = tmp_path / "repohub.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    sessions = make_session_factory(engine)
    other_done = threading.Event()
    errors: list[Exception] = []

    def other_writer() -> None:
        try:
            conn = sqlite3.connect(path, timeout=10)
            conn.execute("INSERT INTO networks (created_at) VALUES ('2026-01-02 00:00:00')")
            conn.commit()
            conn.close()
        except Exception as exc:  # reported below
            errors.append(exc)
        other_done.set()

    with sessions.begin() as session:
        before = session.execute(text("SELECT count(*) FROM networks")).scalar()
        thread = threading.Thread(target=other_writer)
        thread.start()
        assert not other_done.wait(0.5)  # it waits for our lock
        session.execute(text("INSERT INTO networks (created_at) VALUES ('2026-01-01 00:00:00')"))
    thread.join(10)
    assert errors == []
    with sessions() as session:
        assert session.execute(text("SELECT count(*) FROM networks")).scalar() == before + 2
    engine.dispose()


def test_nul_in_text_is_the_callers_error_on_postgresql() -> None:
    """psycopg2 fails such a query with a bare ValueError (a 500); RepoHub refuses it first."""
    engine = make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT :v"), {"v": "plain"}).scalar() == "plain"
            with pytest.raises(InvalidArgument, match="NUL"):
                conn.execute(text("SELECT :v"), {"v": "a\x00b"})
            with pytest.raises(InvalidArgument, match="NUL"):
                conn.execute(text("SELECT :a, :b"), [{"a": "x", "b": "y"}, {"a": "\x00", "b": ""}])
    finally:
        engine.dispose()
