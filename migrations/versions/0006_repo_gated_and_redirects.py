"""repos.gated; repo_redirects (old names of moved repos)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("repos") as batch:
        batch.add_column(sa.Column("gated", sa.String(length=8), nullable=True))
    op.create_table(
        "repo_redirects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("repo_type", sa.String(length=8), nullable=False),
        sa.Column("name_lower", sa.String(length=96), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["accounts.id"],
            name=op.f("fk_repo_redirects_owner_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"],
            ["repos.id"],
            name=op.f("fk_repo_redirects_repo_id_repos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repo_redirects")),
        sa.UniqueConstraint(
            "owner_id", "repo_type", "name_lower", name=op.f("uq_repo_redirects_owner_id")
        ),
    )
    op.create_index(op.f("ix_repo_redirects_repo_id"), "repo_redirects", ["repo_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_repo_redirects_repo_id"), table_name="repo_redirects")
    op.drop_table("repo_redirects")
    with op.batch_alter_table("repos") as batch:
        batch.drop_column("gated")
