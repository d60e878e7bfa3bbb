"""web social and sessions

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=320), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index("ix_login_attempts_ip_at", "login_attempts", ["ip", "at"], unique=False)
    op.create_index("ix_login_attempts_login_at", "login_attempts", ["login", "at"], unique=False)
    op.create_table(
        "search_sync",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("push_log_id", sa.BigInteger(), nullable=False),
        sa.Column("repo_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_sync")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["accounts.id"],
            name=op.f("fk_web_sessions_user_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("digest", name=op.f("uq_web_sessions_digest")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"], unique=False)
    op.create_table(
        "likes",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_likes_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["accounts.id"], name=op.f("fk_likes_user_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("repo_id", "user_id", name=op.f("pk_likes")),
    )
    op.create_index(op.f("ix_likes_user_id"), "likes", ["user_id"], unique=False)
    op.create_table(
        "repo_search",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("commit_id", sa.String(length=40), nullable=True),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("library", sa.String(length=100), nullable=False),
        sa.Column("license", sa.String(length=100), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column(
            "vector", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), nullable=True
        ),
        sa.Column("indexed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_repo_search_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("repo_id", name=op.f("pk_repo_search")),
    )
    op.create_index(op.f("ix_repo_search_library"), "repo_search", ["library"], unique=False)
    op.create_index(op.f("ix_repo_search_license"), "repo_search", ["license"], unique=False)
    op.create_index(op.f("ix_repo_search_task"), "repo_search", ["task"], unique=False)
    op.create_index(
        "ix_repo_search_vector", "repo_search", ["vector"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_repos_type_downloads", "repos", ["repo_type", "downloads"], unique=False)
    op.create_index("ix_repos_type_likes", "repos", ["repo_type", "likes"], unique=False)
    op.create_index("ix_repos_type_updated", "repos", ["repo_type", "updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_repos_type_updated", table_name="repos")
    op.drop_index("ix_repos_type_likes", table_name="repos")
    op.drop_index("ix_repos_type_downloads", table_name="repos")
    op.drop_index("ix_repo_search_vector", table_name="repo_search", postgresql_using="gin")
    op.drop_index(op.f("ix_repo_search_task"), table_name="repo_search")
    op.drop_index(op.f("ix_repo_search_license"), table_name="repo_search")
    op.drop_index(op.f("ix_repo_search_library"), table_name="repo_search")
    op.drop_table("repo_search")
    op.drop_index(op.f("ix_likes_user_id"), table_name="likes")
    op.drop_table("likes")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("search_sync")
    op.drop_index("ix_login_attempts_login_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_ip_at", table_name="login_attempts")
    op.drop_table("login_attempts")
