"""Alembic environment: the URL comes from formcoach's settings (or the caller's config)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from formcoach.kit.db import Base, get_engine
from formcoach.kit.models import import_all_models
from formcoach.kit.settings import get_settings

import_all_models()
config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().db_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    connectable = get_engine(url) if url.startswith("sqlite") else None
    if connectable is None:
        from sqlalchemy import create_engine

        connectable = create_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
