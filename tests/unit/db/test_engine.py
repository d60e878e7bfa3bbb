"""On SQLite, a transaction started as a writer holds the write lock from its first statement."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from repohub.db.engine import make_engine, make_session_factory, start_as_writer
from repohub.db.migrate import upgrade


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


def test_a_writer_transaction_holds_the_lock_and_a_reader_does_not(tmp_path: Path) -> None:
    path = tmp_path / "repohub.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        session.execute(text("SELECT count(*) FROM networks"))
        assert _other_writer_can_write(path)  # a deferred reader blocks nobody
    with sessions.begin() as session:
        start_as_writer(session)
        assert session.execute(text("SELECT count(*) FROM networks")).scalar() == 1
        assert not _other_writer_can_write(path)
    assert _other_writer_can_write(path)  # released at commit
    engine.dispose()
