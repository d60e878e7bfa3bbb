"""Models for the web's social and session features (issue: web pages).

Browser sessions live server-side so that logging out, changing a password or an admin's
revocation ends them at once; login attempts are rows so throttling holds across API nodes.
`repo_search` is the search document of each repo: the model card's front matter parsed once
per commit, so search filters and full-text matching never read git objects.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from repohub.db.models import Base, Repo, utcnow

# A tsvector in PostgreSQL (GIN-indexed full text); an unused text column on SQLite, where
# search falls back to LIKE over `document`.
SearchVector = Text().with_variant(TSVECTOR(), "postgresql")


class WebSession(Base):
    """A logged-in browser. The cookie carries a random token; only its sha256 is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")


class LoginAttempt(Base):
    """One password check; failures within a window throttle the account and the address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_login_at", "login", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(320))  # what was typed, lowercased
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class Like(Base):
    __tablename__ = "likes"

    repo_id: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RepoSearch(Base):
    """A repo's search document and card facets, as of `commit_id` of its default branch."""

    __tablename__ = "repo_search"
    __table_args__ = (Index("ix_repo_search_vector", "vector", postgresql_using="gin"),)

    repo_id: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    commit_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    task: Mapped[str] = mapped_column(String(100), default="", index=True)
    library: Mapped[str] = mapped_column(String(100), default="", index=True)
    license: Mapped[str] = mapped_column(String(100), default="", index=True)
    tags: Mapped[str] = mapped_column(Text, default="")  # space-separated
    summary: Mapped[str] = mapped_column(String(300), default="")
    document: Mapped[str] = mapped_column(Text, default="")  # lowercased, for LIKE
    vector: Mapped[str | None] = mapped_column(SearchVector, nullable=True)
    indexed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SearchSync(Base):
    """How far the search index has read the push log and the repos table (one row).

    Every ref move is a push-log row and every new repo a repos row, so comparing these two
    marks with the tables' newest ids tells in one cheap query whether anything is stale.
    """

    __tablename__ = "search_sync"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    push_log_id: Mapped[int] = mapped_column(BigInteger, default=0)
    repo_id: Mapped[int] = mapped_column(BigInteger, default=0)


# Listings sort public repos of one type by these columns; without the indexes a page of
# the most-downloaded models sorts the whole table.
Index("ix_repos_type_downloads", Repo.repo_type, Repo.downloads)
Index("ix_repos_type_likes", Repo.repo_type, Repo.likes)
Index("ix_repos_type_updated", Repo.repo_type, Repo.updated_at)
