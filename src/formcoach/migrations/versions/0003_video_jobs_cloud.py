"""video jobs: cache key, figure, and the cloud-provider bookkeeping that prevents double billing

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("video_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("figure", sa.String(length=32), nullable=False, server_default="standard")
        )
        batch_op.add_column(sa.Column("cache_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("request_marker", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("provider_job_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("provider_status", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("billed_seconds", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index(batch_op.f("ix_video_jobs_cache_key"), ["cache_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_video_jobs_provider_job_id"), ["provider_job_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("video_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_jobs_provider_job_id"))
        batch_op.drop_index(batch_op.f("ix_video_jobs_cache_key"))
        for column in (
            "billed_seconds",
            "submitted_at",
            "provider_status",
            "provider_job_id",
            "request_marker",
            "cache_key",
            "figure",
        ):
            batch_op.drop_column(column)
