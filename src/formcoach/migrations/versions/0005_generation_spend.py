"""generation_spend: the ledger of paid cloud seconds, which outlives the jobs (and runs)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:30:00

The spend already recorded on video_jobs rows is copied in, priced at the configured
FORMCOACH_CLOUD_VIDEO_USD_PER_SECOND (the metric priced it so until now).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    spend = op.create_table(
        "generation_spend",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_marker", sa.String(length=64), nullable=False),
        sa.Column("generator", sa.String(length=32), nullable=False),
        sa.Column("billed_seconds", sa.Integer(), nullable=False),
        sa.Column("usd", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_marker"),
    )
    with op.batch_alter_table("generation_spend", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_generation_spend_day"), ["day"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_generation_spend_submitted_at"), ["submitted_at"], unique=False
        )

    from formcoach.kit.settings import Settings

    price = Settings().cloud_video_usd_per_second
    jobs = sa.table(
        "video_jobs",
        sa.column("request_marker", sa.String()),
        sa.column("generator", sa.String()),
        sa.column("billed_seconds", sa.Integer()),
        sa.column("submitted_at", sa.DateTime(timezone=True)),
    )
    rows = op.get_bind().execute(
        sa.select(
            jobs.c.request_marker, jobs.c.generator, jobs.c.billed_seconds, jobs.c.submitted_at
        )
        .where(jobs.c.billed_seconds > 0)
        .where(jobs.c.submitted_at.is_not(None))
        .where(jobs.c.request_marker.is_not(None))
    )
    copied = []
    for marker, generator, seconds, submitted in rows:
        when = submitted if isinstance(submitted, datetime) else datetime.fromisoformat(submitted)
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        copied.append(
            {
                "request_marker": marker,
                "generator": generator,
                "billed_seconds": int(seconds),
                "usd": round(int(seconds) * price, 4),
                "submitted_at": when,
                "day": when.date(),
            }
        )
    if copied:
        op.bulk_insert(spend, copied)


def downgrade() -> None:
    with op.batch_alter_table("generation_spend", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generation_spend_submitted_at"))
        batch_op.drop_index(batch_op.f("ix_generation_spend_day"))
    op.drop_table("generation_spend")
