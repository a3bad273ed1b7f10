"""runs.camera_roll_deg: the recording device's tilt (true vertical in the image, degrees)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 13:45:00

Recorded by the new-analysis page's record mode from the device's gravity sensor (issue 21);
null for uploaded files and for devices without a sensor.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("camera_roll_deg", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("camera_roll_deg")
