"""SQLAlchemy 2 models: the source of truth for accounts, repos, refs and the push log.

Git objects and LFS bytes live in blob storage; everything that must change atomically
(ref moves, memberships, visibility) lives here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Account(Base):
    """A namespace: a user who logs in, or an organisation that users belong to."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "user" | "org"
    name: Mapped[str] = mapped_column(String(39))
    name_lower: Mapped[str] = mapped_column(String(39), unique=True)
    fullname: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(8))  # admin | write | read


class Token(Base):
    """A personal access token; only its sha256 is stored (tokens are 256-bit random)."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(8))  # read | write
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Network(Base):
    """A fork network: a root repo and all its forks share one git object store."""

    __tablename__ = "networks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Repo(Base):
    __tablename__ = "repos"
    __table_args__ = (UniqueConstraint("owner_id", "repo_type", "name_lower"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    repo_type: Mapped[str] = mapped_column(String(8))  # model | dataset
    name: Mapped[str] = mapped_column(String(96))
    name_lower: Mapped[str] = mapped_column(String(96))
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    default_branch: Mapped[str] = mapped_column(String(255), default="main")
    protect_default_branch: Mapped[bool] = mapped_column(Boolean, default=True)
    forked_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("repos.id", ondelete="SET NULL"), nullable=True, index=True
    )
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    # The Hub's access-request mode: None (not gated), "auto" or "manual". Stored and shown
    # (repo info's `gated`) so clients round-trip it; access is not gated by it yet.
    gated: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    owner: Mapped[Account] = relationship(foreign_keys=[owner_id], lazy="joined")
    forked_from: Mapped[Repo | None] = relationship(remote_side=[id], foreign_keys=[forked_from_id])

    @property
    def full_name(self) -> str:
        return f"{self.owner.name}/{self.name}"


class RepoRedirect(Base):
    """A name a repo had before a move: `owner/name` of `repo_type` now means `repo_id`.

    `repos.service.get_repo` follows these when no repo has the name, so git, LFS, the API
    and the web keep answering at old names. A repo created or moved to the name later takes
    it back (the row is deleted); deleting the repo deletes its rows (cascade).
    """

    __tablename__ = "repo_redirects"
    __table_args__ = (UniqueConstraint("owner_id", "repo_type", "name_lower"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    repo_type: Mapped[str] = mapped_column(String(8))
    name_lower: Mapped[str] = mapped_column(String(96))
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Collaborator(Base):
    __tablename__ = "collaborators"
    __table_args__ = (UniqueConstraint("repo_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(8))


class Ref(Base):
    """One ref of one repo; moved only by compare-and-swap on `target`."""

    __tablename__ = "refs"

    repo_id: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    target: Mapped[str] = mapped_column(String(40))


class PushLogEntry(Base):
    __tablename__ = "push_log"
    __table_args__ = (Index("ix_push_log_repo_at", "repo_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )
    ref: Mapped[str] = mapped_column(String(255))
    old: Mapped[str] = mapped_column(String(40))
    new: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LfsObject(Base):
    """An LFS object whose bytes are stored and verified: one row per oid for the whole hub."""

    __tablename__ = "lfs_objects"

    oid: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # Where the bytes are: a plain blob under `lfs/` (`plain`), a Xet file whose chunks
    # rebuild them (`xet_hash`), or both (a pushed object later uploaded through Xet too).
    plain: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    xet_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LfsGrant(Base):
    """A fork network may read an oid: it uploaded the bytes, or forked a network that had it."""

    __tablename__ = "lfs_grants"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True
    )
    oid: Mapped[str] = mapped_column(ForeignKey("lfs_objects.oid"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LfsLock(Base):
    __tablename__ = "lfs_locks"
    __table_args__ = (UniqueConstraint("repo_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1024))
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    locked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    owner: Mapped[Account] = relationship(lazy="joined")
