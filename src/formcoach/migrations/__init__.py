"""Alembic migrations; `formcoach migrate` (or kit.migrate.upgrade) applies them."""
