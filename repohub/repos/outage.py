"""Telling a database outage from a bug: what every surface answers 503 for.

SQLAlchemy raises the same `OperationalError` for a refused connection and, on SQLite, for a
query that names no such table; only the first is an outage. The JSON API and the pages both
ask here, so the two surfaces draw the line in the same place.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from repohub.errors import DatabaseUnavailable

logger = logging.getLogger(__name__)
# What SQLAlchemy raises when the database, not the query, is at fault: refused or dropped
# connections, "database is locked" beyond SQLite's busy timeout, an exhausted pool.
DATABASE_DOWN = (OperationalError, DisconnectionError, PoolTimeout)


def database_unavailable(exc: Exception) -> DatabaseUnavailable | None:
    """The 503 for a database outage (the driver's words go to the log, not the client);
    None for an error SQLite files as "operational" but that is a bug (no such table)."""
    detail = str(getattr(exc, "orig", None) or exc).strip()
    if isinstance(exc, OperationalError) and (
        detail.startswith(("no such ", "near ")) or "syntax error" in detail
    ):
        return None
    logger.warning("database unavailable: %s", detail.splitlines()[0] if detail else type(exc))
    return DatabaseUnavailable()
