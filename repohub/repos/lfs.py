"""Who may read which LFS object, and what storage really costs.

An oid's bytes are stored once for the whole hub (`lfs_objects`); a fork network may read an
oid only once it has proved possession by uploading the bytes (`lfs_grants`). Forks share
their parent's network and so its grants: a fork costs no byte. A pointer pushed into git
grants nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from repohub.db.models import LfsGrant, LfsObject


def granted_sizes(session: Session, network_id: int, oids: Iterable[str]) -> dict[str, int]:
    """oid -> size for the oids this network may read (others are absent)."""
    wanted = list(set(oids))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(LfsObject.oid, LfsObject.size)
            .join(LfsGrant, LfsGrant.oid == LfsObject.oid)
            .where(
                LfsGrant.network_id == network_id, LfsObject.oid.in_(wanted[start : start + 500])
            )
        )
        found.update({oid: size for oid, size in rows})
    return found


def stored_size(session: Session, oid: str) -> int | None:
    return session.scalar(select(LfsObject.size).where(LfsObject.oid == oid))


def record_upload(session: Session, network_id: int, oid: str, size: int) -> None:
    """The bytes of `oid` are stored and verified, and `network_id` uploaded them."""
    _insert_ignore(session, LfsObject, {"oid": oid, "size": size})
    _insert_ignore(session, LfsGrant, {"network_id": network_id, "oid": oid})


def _insert_ignore(session: Session, model: type, values: dict[str, object]) -> None:
    """Insert unless the row exists: concurrent uploads of one oid must both succeed."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing())


def hub_stored_bytes(session: Session) -> tuple[int, int]:
    """(objects, bytes) of LFS storage for the whole hub: each oid counted once."""
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(LfsObject.size), 0))
    ).one()
    return int(count), int(total)


def network_stored_bytes(session: Session, network_id: int) -> tuple[int, int]:
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(LfsObject.size), 0))
        .select_from(LfsGrant)
        .join(LfsObject, LfsObject.oid == LfsGrant.oid)
        .where(LfsGrant.network_id == network_id)
    ).one()
    return int(count), int(total)
