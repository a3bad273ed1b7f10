"""Run identity: ids never reused (SQLite AUTOINCREMENT) and a random runs.run_key

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 04:00:00

SQLite gives a deleted newest rowid to the next insert unless the table is AUTOINCREMENT, so a
job still working on a deleted run could write into the next user's run. The tables whose ids
name something a user owns are rebuilt AUTOINCREMENT (PostgreSQL sequences never reuse ids).
``run_key`` names the run's storage folder and its job messages; rows made before this
revision get their id as text, so their files stay at ``runs/<id>/`` and nothing is moved.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Parents first: a child's foreign key is rebuilt against the rebuilt parent.
AUTOINCREMENT_TABLES = ("users", "api_tokens", "runs", "run_stages", "video_jobs")


@contextmanager
def _foreign_keys_off() -> Iterator[None]:
    """Rebuilding a table drops the old one; with foreign keys on, SQLite would first run the
    ON DELETE CASCADE of every child row (the runs' stages, the users' runs). The pragma only
    changes outside a transaction, hence the autocommit blocks."""
    context = op.get_context()
    with context.autocommit_block():
        op.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        with context.autocommit_block():
            op.execute("PRAGMA foreign_keys=ON")


def _run_key_column(add: bool) -> None:
    if add:
        with op.batch_alter_table("runs", schema=None) as batch_op:
            batch_op.add_column(sa.Column("run_key", sa.String(length=32), nullable=True))
        op.execute("UPDATE runs SET run_key = CAST(id AS VARCHAR(32))")
        with op.batch_alter_table("runs", schema=None) as batch_op:
            batch_op.alter_column("run_key", existing_type=sa.String(length=32), nullable=False)
            batch_op.create_unique_constraint(batch_op.f("uq_runs_run_key"), ["run_key"])
    else:
        with op.batch_alter_table("runs", schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f("uq_runs_run_key"), type_="unique")
            batch_op.drop_column("run_key")


def _migrate(upgrade: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        _run_key_column(upgrade)
        return
    with _foreign_keys_off():
        if upgrade:
            _run_key_column(True)
        for table in AUTOINCREMENT_TABLES:
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": upgrade}
            ):
                pass
        if not upgrade:
            _run_key_column(False)


def upgrade() -> None:
    _migrate(True)


def downgrade() -> None:
    _migrate(False)
