"""Models for Xet storage: the index of xorbs, files and who may read them.

Xorb and shard bytes live in blob storage under content-addressed keys; what must be looked
up or granted atomically lives here. Hashes are kept in Xet's 64-hex string form (the one
URLs and `X-Xet-Hash` use), except inside the packed per-xorb chunk index, which is bytes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from repohub.db.models import Base, utcnow


class XetXorb(Base):
    """A verified xorb: its bytes are stored, every chunk was re-hashed on arrival.

    `chunks` is the packed chunk index (hash, raw size, physical end of every chunk), read
    whole to plan a reconstruction or a range; xorbs are immutable, so it never changes.
    """

    __tablename__ = "xet_xorbs"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    chunk_count: Mapped[int] = mapped_column(Integer)
    raw_bytes: Mapped[int] = mapped_column(BigInteger)
    stored_bytes: Mapped[int] = mapped_column(BigInteger)
    chunks: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class XetFile(Base):
    """A file a verified shard registered: its size and terms (packed), for the whole hub.

    `sha256` is set only once RepoHub has reconstructed the bytes and hashed them itself;
    the uploader's claim lives on its grant, never here.
    """

    __tablename__ = "xet_files"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    terms: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class XetFileGrant(Base):
    """A fork network may reconstruct a file: a shard uploaded under one of its repos named
    it (with verification hashes that prove the uploader held the chunks), or a commit in the
    network points at it. `claimed_sha256` is what that upload said the bytes hash to."""

    __tablename__ = "xet_file_grants"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True
    )
    file_hash: Mapped[str] = mapped_column(
        ForeignKey("xet_files.hash"), primary_key=True, index=True
    )
    claimed_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class XetDedupChunk(Base):
    """A chunk the global-dedup query may find (a file's first chunk, or one whose hash the
    eligibility rule picks), the xorb that holds it and a file that uses that xorb: an
    answer names the file's other xorbs too, since the client asks about few chunks (one in
    1,024, at most one per 256) and a file's next xorbs are where its next chunks are."""

    __tablename__ = "xet_dedup_chunks"

    chunk_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    xorb_hash: Mapped[str] = mapped_column(ForeignKey("xet_xorbs.hash"), index=True)
    file_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
