"""Who may read which LFS object, and what storage really costs.

An oid's bytes are stored once for the whole hub (`lfs_objects`); a fork network may read an
oid only once it has proved possession by uploading the bytes (`lfs_grants`). Forks share
their parent's network and so its grants: a fork costs no byte. A pointer pushed into git
grants nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from repohub.auth.identity import Identity
from repohub.db.models import LfsGrant, LfsObject
from repohub.errors import NotFound
from repohub.objects.blobstore.verify import VerifyingReader
from repohub.objects.lfs import OID_RE, DirectUpload, new_upload_id
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.limits import INT64_MAX
from repohub.repos.service import RepoKey, get_repo


@dataclass(frozen=True)
class GrantedObject:
    size: int
    xet_hash: str | None  # the Xet file that backs it, which Xet clients may fetch by chunks


def granted_objects(
    session: Session, network_id: int, oids: Iterable[str]
) -> dict[str, GrantedObject]:
    """The oids this network may read, with their sizes and Xet files (others are absent)."""
    wanted = list(set(oids))
    found: dict[str, GrantedObject] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(LfsObject.oid, LfsObject.size, LfsObject.xet_hash)
            .join(LfsGrant, LfsGrant.oid == LfsObject.oid)
            .where(
                LfsGrant.network_id == network_id, LfsObject.oid.in_(wanted[start : start + 500])
            )
        )
        found.update({oid: GrantedObject(size, xet) for oid, size, xet in rows})
    return found


def granted_sizes(session: Session, network_id: int, oids: Iterable[str]) -> dict[str, int]:
    """oid -> size for the oids this network may read (others are absent)."""
    return {oid: g.size for oid, g in granted_objects(session, network_id, oids).items()}


def stored_oids(session: Session, oids: Iterable[str]) -> set[str]:
    wanted = list(set(oids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(session.scalars(select(LfsObject.oid).where(LfsObject.oid.in_(chunk))))
    return found


def stored_size(session: Session, oid: str) -> int | None:
    return session.scalar(select(LfsObject.size).where(LfsObject.oid == oid))


def record_upload(session: Session, network_id: int, oid: str, size: int) -> None:
    """The bytes of `oid` are stored and verified, and `network_id` uploaded them."""
    insert_ignore(session, LfsObject, {"oid": oid, "size": size})
    grant(session, network_id, oid)


def grant(session: Session, network_id: int, oid: str) -> None:
    """`network_id` may read the stored object `oid` from now on."""
    insert_ignore(session, LfsGrant, {"network_id": network_id, "oid": oid})


def insert_ignore(session: Session, model: type, values: dict[str, object]) -> None:
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


def plain_stored_bytes(session: Session) -> int:
    """Bytes of LFS objects kept as plain blobs (Xet files are stored as chunks instead)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LfsObject.size), 0)).where(LfsObject.plain.is_(True))
    )
    return int(total or 0)


def network_stored_bytes(
    session: Session, network_id: int, *, plain_only: bool = False
) -> tuple[int, int]:
    """(objects, bytes) the network may read; `plain_only`: those kept as plain blobs."""
    query = (
        select(func.count(), func.coalesce(func.sum(LfsObject.size), 0))
        .select_from(LfsGrant)
        .join(LfsObject, LfsObject.oid == LfsGrant.oid)
        .where(LfsGrant.network_id == network_id)
    )
    if plain_only:
        query = query.where(LfsObject.plain.is_(True))
    count, total = session.execute(query).one()
    return int(count), int(total)


@dataclass(frozen=True)
class Decision:
    """What the batch API tells a client about one object."""

    oid: str
    size: int
    error: tuple[int, str] | None = None
    done: bool = False  # upload: this network already has it; nothing to send
    direct: DirectUpload | None = None  # upload: PUT straight to storage, then verify
    upload_id: str | None = None
    download_url: str | None = None  # download: a presigned storage URL (else via RepoHub)


@dataclass(frozen=True)
class Batch:
    network_id: int
    decisions: list[Decision]


def _valid(raw: object) -> tuple[str, int] | Decision:
    """(oid, size), or the 422 Decision that says what is wrong with the object."""
    oid = raw.get("oid") if isinstance(raw, dict) else None
    size = raw.get("size") if isinstance(raw, dict) else None
    shown = str(oid)[:80]
    if not isinstance(oid, str) or not OID_RE.fullmatch(oid):
        message = f"Invalid object id {shown!r}: expected a sha256 in lowercase hex"
        return Decision(shown, 0, (422, message))
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= INT64_MAX:
        return Decision(oid, 0, (422, f"Invalid size {size!r} for object {oid}"))
    return oid, size


def plan_batch(
    hub: Hub,
    identity: Identity,
    key: RepoKey,
    operation: str,
    objects: list[object],
    *,
    signed_checksum: bool,
) -> Batch:
    """Decide, per object, what the client must do; nothing is stored or granted here."""
    needed = Access.WRITE if operation == "upload" else Access.READ
    checked = [_valid(o) for o in objects]
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, needed)
        oids = [c[0] for c in checked if not isinstance(c, Decision)]
        granted = granted_sizes(session, repo.network_id, oids)
        stored = stored_oids(session, oids) if operation == "upload" else set()
        network_id = repo.network_id
    ttl = hub.settings.lfs_url_ttl
    decisions = [
        c
        if isinstance(c, Decision)
        else _decide(
            hub, operation, c[0], c[1], granted.get(c[0]), c[0] in stored, signed_checksum, ttl
        )
        for c in checked
    ]
    return Batch(network_id, decisions)


def _decide(
    hub: Hub,
    operation: str,
    oid: str,
    size: int,
    granted: int | None,
    stored: bool,
    signed: bool,
    ttl: int,
) -> Decision:
    if granted is not None and granted != size:
        return Decision(oid, size, (422, f"Object {oid} has {granted} bytes, not {size}"))
    if operation == "download":
        if granted is None:
            return Decision(oid, size, (404, "Object does not exist"))
        return Decision(oid, size, download_url=hub.lfs.download_url(oid, expires_in=ttl))
    if granted is not None:
        return Decision(oid, size, done=True)
    upload_id = new_upload_id()
    direct = hub.lfs.direct_upload(
        upload_id, oid, size, signed_checksum=signed, stored=stored, expires_in=ttl
    )
    return Decision(oid, size, direct=direct, upload_id=upload_id)


def receive_upload(hub: Hub, network_id: int, oid: str, size: int, stream: BinaryIO) -> None:
    """Bytes streamed through RepoHub: verify them, store them once, grant the network.

    If the hub already stores the oid, the bytes are still read and hashed (the uploader's
    proof of possession) but not stored again.
    """
    with hub.sessions() as session:
        already = stored_size(session, oid)
    if already is None:
        hub.lfs.receive(oid, size, stream)
    else:
        _drain_verified(stream, oid, size)
    with hub.sessions.begin() as session:
        record_upload(session, network_id, oid, size)


def _drain_verified(stream: BinaryIO, oid: str, size: int) -> None:
    reader = VerifyingReader(stream, size=size, sha256=oid)
    while reader.read(1024 * 1024):
        pass
    reader.verify()


def finish_upload(
    hub: Hub, network_id: int, oid: str, size: int, upload_id: str | None, *, enforced: bool
) -> None:
    """The client's `verify` call: a direct upload is checked and moved into place; an
    upload through RepoHub was verified on arrival, so it only has to have happened."""
    if upload_id:
        hub.lfs.finish_direct_upload(upload_id, oid, size, checksum_enforced=enforced)
        with hub.sessions.begin() as session:
            record_upload(session, network_id, oid, size)
        return
    with hub.sessions() as session:
        if granted_sizes(session, network_id, [oid]).get(oid) != size:
            raise NotFound(f"Object {oid} was not uploaded to this repository")


def can_read(hub: Hub, network_id: int, oid: str) -> int | None:
    with hub.sessions() as session:
        return granted_sizes(session, network_id, [oid]).get(oid)
