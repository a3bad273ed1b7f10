"""Share links: read-only, expiring, revocable links to one run's report

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:40:00

Only the SHA-256 of the random token is stored (``token_hash``), so the database alone opens
no report. Links go with their run (ON DELETE CASCADE).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_share_links_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_share_links_token_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_share_links_run_id"), "share_links", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_share_links_run_id"), table_name="share_links")
    op.drop_table("share_links")
