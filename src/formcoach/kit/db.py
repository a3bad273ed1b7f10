"""Database engine and sessions (SQLAlchemy 2). Commit at the edges: callers own transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import DateTime, Dialect, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    SQLite has no time zones and hands back naive values; the API must still say UTC
    (RFC 3339 "date-time" needs the offset), so naive results are read as the UTC they were
    written as, and every value is stored in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # WAL lets the web process read while a job thread writes; foreign keys make cascades real.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


DB_POOL_SIZE = 10
# SQLite keeps as many idle connections as the web threadpool has threads: under load, closing
# the ones beyond pool_size meant opening them again (with their PRAGMAs) on every request.
SQLITE_POOL_SIZE = 40
DB_POOL_OVERFLOW = 50


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    # The pool must outgrow the web threadpool (anyio: 40 threads) plus the job threads: a
    # request holds its connection across thread hops, so with fewer connections than threads
    # all threads can end up waiting for a connection that only a queued hop would give back
    # (seen under 200 polling clients: every request, and the pose job, timed out). Idle
    # connections beyond pool_size are closed, so a quiet process keeps few.
    pool = {"pool_size": DB_POOL_SIZE, "max_overflow": DB_POOL_OVERFLOW}
    if url.startswith("sqlite"):
        # Outgrowing the threads is not enough: a request takes its connection in the auth
        # dependency, then queues for a thread to run the endpoint, so 200 requests in flight
        # can hold every connection while the threads wait for one (py-spy: 40 threads and
        # the pose job's progress writer all parked in pool checkout). SQLite connections are
        # cheap file handles, so the pool grows with the requests in flight.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=-1,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, **pool)
    return engine


def request_slots(url: str) -> int | None:
    """How many requests may hold a database session at once (None: no limit).

    A request keeps its connection across thread hops, so with more requests in flight than
    connections every thread can end up waiting in pool checkout (kit/api.py's db_session waits
    for a slot first instead). A quarter of a bounded pool, at least two connections, stays
    for the job threads, the retention sweep and the event streams. SQLite's pool is unbounded.
    """
    if url.startswith("sqlite"):
        return None
    total = DB_POOL_SIZE + DB_POOL_OVERFLOW
    return max(1, total - max(2, total // 4))


@lru_cache(maxsize=8)
def get_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on error."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
