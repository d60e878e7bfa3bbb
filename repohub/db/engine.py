"""Engine and session factory, built from settings by entry points."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from repohub.errors import InvalidArgument

# A pooled connection idle longer than this is pinged before use (a database restart or an
# idle-timeout on the way drops it); a busy one is not, as a ping per request is a round trip.
IDLE_PING_SECONDS = 10.0

# Execution option naming a connection whose transactions write (see `Sessions`).
WRITER_OPTION = "repohub_writer"


def make_engine(url: str, *, reader: bool = False) -> Engine:
    """An engine tuned per dialect; `reader` makes a server database's engine autocommit,
    with its own pool, for reading sessions (see `Sessions`).

    SQLite gets WAL and a busy timeout so the server, the CLI and a worker can share one file;
    compare-and-swap updates still serialise on SQLite's single writer lock. The driver's own
    transaction handling is switched off (SQLAlchemy emits BEGIN itself) because pysqlite's
    breaks SAVEPOINT, which the ref updates rely on.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
            writer = conn.get_execution_options().get(WRITER_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

        return engine
    # Enough pooled connections for a web process's request threads and transfers at once:
    # under load, connections beyond the pool size are opened and closed per request. Readers
    # and writers have a pool each, as switching a pooled connection in and out of
    # autocommit costs a round trip at every check-in.
    options = {"isolation_level": "AUTOCOMMIT"} if reader else {}
    engine = create_engine(url, pool_size=16, max_overflow=8, pool_recycle=3600, **options)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _serial_plans)
        event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def _refuse_nul(_conn, _cursor, _statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL text cannot hold NUL, and its driver fails such a query with a bare
    ValueError. The edges refuse NUL in URLs and bodies; this catches whatever else carries
    user text to the database (a form field, a name) as the client's error, in one place."""
    rows = parameters if isinstance(parameters, list) else [parameters]
    for row in rows:
        values = row.values() if isinstance(row, dict) else row or ()
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise InvalidArgument("text must not contain NUL (0x00) bytes")


def _note_checkin(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
    """Pessimistic disconnect handling, for idle connections only: raising
    DisconnectionError makes the pool discard this connection and hand out a fresh one."""
    last = record.info.get("checked_in_at")
    if last is None or time.monotonic() - last < IDLE_PING_SECONDS:
        return
    try:
        cur = dbapi_conn.cursor()
        cur.execute("SELECT 1")
        cur.close()
        dbapi_conn.rollback()
    except Exception as exc:  # any driver error means the connection is unusable
        raise DisconnectionError(str(exc)) from exc


def _serial_plans(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    """No parallel plans: RepoHub's queries are small and many at once. A LIMIT query that
    PostgreSQL ran in parallel (search with two facets, sorted, on 100,000 repos) took 15
    times longer than serially, its workers reading far past the rows it needed."""
    cur = dbapi_conn.cursor()
    cur.execute("SET max_parallel_workers_per_gather = 0")
    cur.close()
    dbapi_conn.commit()


class Sessions(sessionmaker[Session]):
    """`sessions()` opens a reading session, `sessions.begin()` a unit of work that may write.

    Every write in RepoHub happens inside `sessions.begin()`; a reading session that tries
    to flush a change raises `ReadOnlySession` (it would be lost, or on PostgreSQL committed).

    On SQLite a unit of work starts with BEGIN IMMEDIATE, taking the single write lock before
    its first read: a deferred transaction that read and then writes after another
    connection committed is refused at once ("database is locked", no busy wait), whereas a
    writer from the start waits its turn under the busy timeout. Readers stay deferred, and in
    WAL mode they never wait.

    On PostgreSQL a reading session runs in autocommit: under READ COMMITTED every statement
    takes its own snapshot inside a transaction too, so the transaction bought nothing but a
    BEGIN and a ROLLBACK, two round trips around each page view's one query.
    """

    def __init__(self, engine: Engine, reader: Engine | None = None) -> None:
        self.engine = engine
        self.reader = reader or engine
        super().__init__(bind=self.reader, expire_on_commit=False)
        self.writer = engine.execution_options(**{WRITER_OPTION: True})
        event.listen(self.class_, "before_flush", _refuse_reader_flush)

    def connect(self) -> Connection:
        """A Core connection for reading, without a Session's bookkeeping: for the few hot
        queries that return plain rows."""
        return self.reader.connect()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.reader is not self.engine:
            self.reader.dispose()

    @contextmanager
    def begin(self) -> Iterator[Session]:  # type: ignore[override]
        with self(bind=self.writer) as session, session.begin():
            yield session


class ReadOnlySession(RuntimeError):
    """A programming error: a change made in a reading session (`sessions()`)."""


def _refuse_reader_flush(session: Session, _context, _instances) -> None:  # type: ignore[no-untyped-def]
    if not session.get_bind().get_execution_options().get(WRITER_OPTION):
        raise ReadOnlySession("changes belong in a unit of work: use `with sessions.begin()`")


def make_session_factory(engine: Engine) -> Sessions:
    """Sessions on `engine`, reading through an autocommit sibling on PostgreSQL."""
    if engine.dialect.name == "postgresql":
        url = engine.url.render_as_string(hide_password=False)
        return Sessions(engine, make_engine(url, reader=True))
    return Sessions(engine)
