"""runs.person: the customer or athlete a run is of (free text, filtered case-insensitively)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person", sa.String(length=100), nullable=True))
        # NFKC + casefold of person: SQLite's LIKE folds ASCII letters only, so the filter
        # compares this key (full-width ＡＢＣ, Ō/ō and ß/ss then match on every database).
        batch_op.add_column(sa.Column("person_key", sa.String(length=300), nullable=True))
        batch_op.create_index(batch_op.f("ix_runs_person"), ["person"], unique=False)
        batch_op.create_index(batch_op.f("ix_runs_person_key"), ["person_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_person_key"))
        batch_op.drop_index(batch_op.f("ix_runs_person"))
        batch_op.drop_column("person_key")
        batch_op.drop_column("person")
