"""Xet storage: xet_xorbs, xet_files, xet_file_grants, xet_dedup_chunks; where an LFS
object's bytes are (lfs_objects.plain, lfs_objects.xet_hash)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xet_xorbs",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("raw_bytes", sa.BigInteger(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_xet_xorbs")),
    )
    op.create_table(
        "xet_files",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("terms", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_xet_files")),
    )
    op.create_index(op.f("ix_xet_files_sha256"), "xet_files", ["sha256"], unique=False)
    op.create_table(
        "xet_file_grants",
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("claimed_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_hash"],
            ["xet_files.hash"],
            name=op.f("fk_xet_file_grants_file_hash_xet_files"),
        ),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name=op.f("fk_xet_file_grants_network_id_networks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("network_id", "file_hash", name=op.f("pk_xet_file_grants")),
    )
    op.create_index(
        op.f("ix_xet_file_grants_file_hash"), "xet_file_grants", ["file_hash"], unique=False
    )
    op.create_index(
        op.f("ix_xet_file_grants_claimed_sha256"),
        "xet_file_grants",
        ["claimed_sha256"],
        unique=False,
    )
    op.create_table(
        "xet_dedup_chunks",
        sa.Column("chunk_hash", sa.String(length=64), nullable=False),
        sa.Column("xorb_hash", sa.String(length=64), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["xorb_hash"],
            ["xet_xorbs.hash"],
            name=op.f("fk_xet_dedup_chunks_xorb_hash_xet_xorbs"),
        ),
        sa.PrimaryKeyConstraint("chunk_hash", name=op.f("pk_xet_dedup_chunks")),
    )
    op.create_index(
        op.f("ix_xet_dedup_chunks_xorb_hash"), "xet_dedup_chunks", ["xorb_hash"], unique=False
    )
    with op.batch_alter_table("lfs_objects") as batch:
        batch.add_column(sa.Column("plain", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.add_column(sa.Column("xet_hash", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_lfs_objects_xet_hash"), ["xet_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lfs_objects") as batch:
        batch.drop_index(batch.f("ix_lfs_objects_xet_hash"))
        batch.drop_column("xet_hash")
        batch.drop_column("plain")
    op.drop_index(op.f("ix_xet_dedup_chunks_xorb_hash"), table_name="xet_dedup_chunks")
    op.drop_table("xet_dedup_chunks")
    op.drop_index(op.f("ix_xet_file_grants_claimed_sha256"), table_name="xet_file_grants")
    op.drop_index(op.f("ix_xet_file_grants_file_hash"), table_name="xet_file_grants")
    op.drop_table("xet_file_grants")
    op.drop_index(op.f("ix_xet_files_sha256"), table_name="xet_files")
    op.drop_table("xet_files")
    op.drop_table("xet_xorbs")
