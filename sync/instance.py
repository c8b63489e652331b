"""This database's identity and clocks: instance id, change counter, HLC stamps.

The instance id is random and stored in `sync_local` (never derived from a MAC: an SD
card moved to another Pi keeps its identity, a re-flashed card gets a new one). Stamps
are allocated with one UPDATE ... RETURNING inside the caller's transaction.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import sqlite

from sync import hlc as hlclib
from sync.tables import SyncKnownInstance, SyncLocal

LOCAL = SyncLocal.__table__


@dataclass(frozen=True)
class Stamp:
    instance: uuid.UUID
    counter: int
    hlc: int


class Clock:
    """The wall clock the engine reads; tests and benchmarks replace `now`."""

    def __init__(self, now: hlclib.WallClock = time.time) -> None:
        self.now = now

    def ms(self) -> int:
        return int(self.now() * 1000)


DEFAULT_CLOCK = Clock()


def insert_ignore(conn: Connection, table: Any, rows: list[dict[str, Any]] | dict[str, Any],
                  keys: list[str]) -> None:
    """INSERT that leaves existing rows alone (same statement on SQLite and PostgreSQL)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # 2 MiB: loaded only on PostgreSQL

        stmt: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    else:  # pragma: no cover - only the two backends are supported
        raise NotImplementedError(dialect)
    conn.execute(stmt, rows)


def ensure_local(conn: Connection) -> uuid.UUID:
    """The instance id of this database, created (random) on first use."""
    found = conn.execute(select(LOCAL.c.instance_id).where(LOCAL.c.key == 1)).scalar()
    if found is not None:
        return found
    insert_ignore(conn, LOCAL, {"key": 1, "instance_id": uuid.uuid4(), "counter": 0, "hlc": 0,
                                "clock_offset_ms": 0}, ["key"])
    return conn.execute(select(LOCAL.c.instance_id).where(LOCAL.c.key == 1)).scalar_one()


def local_instance(conn: Connection) -> uuid.UUID:
    return ensure_local(conn)


def allocate(conn: Connection, clock: Clock = DEFAULT_CLOCK) -> Stamp:
    """A new stamp (next counter, next HLC) in the caller's transaction.

    The row lock taken here is held until the transaction ends, so counters become
    visible in order.
    """
    ensure_local(conn)
    wall = clock.ms()
    physical = (wall + LOCAL.c.clock_offset_ms) * (1 << hlclib.LOGICAL_BITS)
    row = conn.execute(
        update(LOCAL).where(LOCAL.c.key == 1)
        .values(counter=LOCAL.c.counter + 1,
                hlc=_greatest(conn, LOCAL.c.hlc + 1, physical))
        .returning(LOCAL.c.instance_id, LOCAL.c.counter, LOCAL.c.hlc)
        .execution_options(ardoise_sync_internal=True)).one()
    return Stamp(row.instance_id, row.counter, row.hlc)


def _greatest(conn: Connection, a: Any, b: Any) -> Any:
    return func.greatest(a, b) if conn.dialect.name == "postgresql" else func.max(a, b)


def observe(conn: Connection, remote_hlc: int) -> None:
    """Move our HLC up to a remote stamp we accepted (no lock when we are already ahead)."""
    ensure_local(conn)
    conn.execute(update(LOCAL).where(LOCAL.c.key == 1, LOCAL.c.hlc < remote_hlc)
                 .values(hlc=remote_hlc).execution_options(ardoise_sync_internal=True))


def reference_ms(conn: Connection, clock: Clock = DEFAULT_CLOCK) -> int:
    """Our best idea of "now": corrected wall clock, never below our last stamp."""
    ensure_local(conn)
    row = conn.execute(select(LOCAL.c.hlc, LOCAL.c.clock_offset_ms)
                       .where(LOCAL.c.key == 1)).one()
    return max(clock.ms() + row.clock_offset_ms, hlclib.physical_ms(row.hlc))


def set_clock_offset(conn: Connection, offset_ms: int) -> None:
    """Remember how far this device's wall clock is from the central's."""
    ensure_local(conn)
    conn.execute(update(LOCAL).where(LOCAL.c.key == 1).values(clock_offset_ms=offset_ms)
                 .execution_options(ardoise_sync_internal=True))


def clock_offset(conn: Connection) -> int:
    ensure_local(conn)
    return int(conn.execute(select(LOCAL.c.clock_offset_ms).where(LOCAL.c.key == 1))
               .scalar_one())


def current(conn: Connection) -> Stamp:
    """Instance, last counter and last HLC, without allocating."""
    ensure_local(conn)
    row = conn.execute(select(LOCAL.c.instance_id, LOCAL.c.counter, LOCAL.c.hlc)
                       .where(LOCAL.c.key == 1)).one()
    return Stamp(row.instance_id, row.counter, row.hlc)


def remember_instances(conn: Connection, instances: set[uuid.UUID]) -> None:
    insert_ignore(conn, SyncKnownInstance.__table__,
                  [{"instance": i} for i in sorted(instances)], ["instance"])


def known_instances(conn: Connection) -> set[uuid.UUID]:
    t = SyncKnownInstance.__table__
    return set(conn.execute(select(t.c.instance)).scalars())


__all__ = ["DEFAULT_CLOCK", "Clock", "Stamp", "allocate", "clock_offset", "current", "ensure_local",
           "insert_ignore", "known_instances", "local_instance", "observe", "reference_ms",
           "remember_instances", "set_clock_offset"]
