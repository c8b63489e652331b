"""Database plumbing shared by every package: declarative base, engine, sync columns.

The engine is made by `make_engine(url)` and never at import time. On SQLite each
connection gets WAL, foreign keys, a busy timeout and `synchronous=FULL`: with no UPS on
the Pi, a committed hand-in must survive the power cut that follows it (see
docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    Index,
    MetaData,
    Text,
    Uuid,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from ardoise.clock import utcnow
from ardoise.ids import uuid7
from ardoise.sqlite import BUSY_TIMEOUT_MS, apply_pragmas

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = BUSY_TIMEOUT_MS


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), uuid.UUID: Uuid()}


class Synced:
    """Columns every user-data row carries for the sync engine.

    `id` is a time-ordered UUID; `sync_instance`, `sync_counter` and `sync_hlc` say which
    instance changed the row last, at which of its counters and hybrid-logical-clock
    stamp; `deleted` turns the row into a tombstone. `sync_fields` holds the stamps of the
    fields last changed by someone else than the row's last change (field-by-field merge).
    The sync engine maintains them; an index on (sync_instance, sync_counter) finds "rows
    the other side has not seen" without scanning.
    """

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    sync_instance: Mapped[uuid.UUID | None] = mapped_column(default=None)
    sync_counter: Mapped[int] = mapped_column(BigInteger, default=0)
    sync_hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    sync_fields: Mapped[str | None] = mapped_column(Text, default=None)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        table = getattr(cls, "__table__", None)
        if table is not None and not any(ix.name == f"ix_{table.name}_sync_version"
                                         for ix in table.indexes):
            Index(f"ix_{table.name}_sync_version", table.c.sync_instance, table.c.sync_counter)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    apply_pragmas(dbapi_conn)  # the same set-up as the agent's plain sqlite3 connection


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite files get the pragmas above on every connection."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 5})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


__all__ = ["NAMING", "Base", "Synced", "UTCDateTime", "make_engine", "utcnow"]
