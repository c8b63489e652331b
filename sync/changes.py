"""Rows the other side has not seen, and local purges and adoption of unstamped rows.

A row is "not seen" by a peer when its (instance, counter) is above the peer's vector for
that instance. Knowledge is read before rows, so whatever the rows are, nothing the
snapshot promised is missing (a row changed since then is sent in its newer state).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, false, func, or_, select, true, update

from ardoise.errors import NotFound
from ardoise.i18n import N_
from ardoise.ids import uuid7
from sync import hlc as hlclib
from sync import instance as inst
from sync import stamps
from sync.capture import INTERNAL
from sync.registry import Registry, TableRule
from sync.scope import Scope
from sync.tables import SyncLocal, SyncOutTransfer, SyncPurge
from sync.vectors import Vector

PURGE = SyncPurge.__table__
LOCAL = SyncLocal.__table__
OUT = SyncOutTransfer.__table__
BATCH = 500


@dataclass
class Batch:
    rule: TableRule | None  # None: purge records
    columns: list[str]
    rows: list[tuple[Any, ...]]


MAX_INSTANCE_TERMS = 64


def _unseen_condition(table: Any, their: Vector, instances: set[uuid.UUID]) -> Any:
    """Rows whose (instance, counter) `their` does not cover.

    With few instances (a hub), one index range per instance. With many (a central that
    heard from hundreds of hubs), ranges only for the instances `their` knows, and "any
    other instance" for the rest: the scope's own index then does the narrowing.
    """
    if len(instances) <= MAX_INSTANCE_TERMS:
        terms = [and_(table.c.sync_instance == i, table.c.sync_counter > their.get(i, 0))
                 for i in sorted(instances)]
        return or_(*terms) if terms else false()
    known = sorted(their)
    terms = [and_(table.c.sync_instance == i, table.c.sync_counter > their[i]) for i in known]
    terms.append(table.c.sync_instance.not_in(known) if known else true())
    return or_(*terms)


def unseen(conn: Connection, registry: Registry, scope: Scope, their: Vector,
           batch: int = BATCH) -> Iterator[Batch]:
    """Batches of rows in `scope` that a holder of `their` has not seen, parents first,
    then purge records. Streams: memory stays bounded whatever the number of rows."""
    instances = inst.known_instances(conn) | {inst.current(conn).instance} | set(their)
    for rule in registry:
        t = rule.table
        cols = list(t.columns)
        query = (select(*cols).where(scope.where(rule), _unseen_condition(t, their, instances))
                 .order_by(t.c.id).execution_options(yield_per=batch))
        result = conn.execute(query)
        try:
            for part in result.partitions(batch):
                yield Batch(rule, [c.name for c in cols], [tuple(r) for r in part])
        finally:  # also when the caller stops early (a server-side cursor on PostgreSQL)
            result.close()
    cols = [PURGE.c[n] for n in ("id", "table_name", "row_id", "school_id", "classroom_id",
                                 "sync_instance", "sync_counter", "sync_hlc")]
    cond = _unseen_condition(PURGE, their, instances)
    if scope.school_id is not None:
        cond = and_(cond, PURGE.c.school_id == scope.school_id)
        if scope.classrooms is not None:
            cond = and_(cond, or_(PURGE.c.classroom_id.is_(None),
                                  PURGE.c.classroom_id.in_(sorted(scope.classrooms))))
    result = conn.execute(select(*cols).where(cond).order_by(PURGE.c.sync_instance,
                                                             PURGE.c.sync_counter)
                          .execution_options(yield_per=batch))
    try:
        for part in result.partitions(batch):
            yield Batch(None, [c.name for c in cols], [tuple(r) for r in part])
    finally:
        result.close()


def adopt_unstamped(conn: Connection, registry: Registry,
                    clock: inst.Clock = inst.DEFAULT_CLOCK) -> int:
    """Stamp rows written before capture was installed (or by a raw SQL script)."""
    total = 0
    for rule in registry:
        t = rule.table
        if conn.execute(select(t.c.id).where(t.c.sync_instance.is_(None)).limit(1)).first():
            stamp = inst.allocate(conn, clock)
            total += conn.execute(
                update(t).where(t.c.sync_instance.is_(None))
                .values(sync_instance=stamp.instance, sync_counter=stamp.counter,
                        sync_hlc=stamp.hlc, sync_fields=None)
                .execution_options(**{INTERNAL: True})).rowcount
    return total


def purge(conn: Connection, registry: Registry, table_name: str, ids: list[uuid.UUID],
          clock: inst.Clock = inst.DEFAULT_CLOCK) -> int:
    """Remove rows for good, on every replica (retention rules). Children first: a row
    still referenced by another raises the database's integrity error, nothing done."""
    rule = registry.get(table_name)
    if rule is None:
        raise NotFound(N_("Table %(table)s does not sync."), table=table_name)
    if not ids:
        return 0
    t = rule.table
    stamp = inst.allocate(conn, clock)
    cols = [t.c.id, t.c[rule.school_column]]
    if rule.classroom_column:
        cols.append(t.c[rule.classroom_column])
    found = conn.execute(select(*cols).where(t.c.id.in_(ids))).all()
    done = 0
    for row in found:
        inst.insert_ignore(conn, PURGE, {
            "id": uuid7(), "table_name": table_name, "row_id": row[0], "school_id": row[1],
            "classroom_id": row[2] if rule.classroom_column else None,
            "sync_instance": stamp.instance, "sync_counter": stamp.counter,
            "sync_hlc": stamp.hlc}, ["table_name", "row_id"])
        done += conn.execute(delete(t).where(t.c.id == row[0])
                             .execution_options(**{INTERNAL: True})).rowcount
    return done




def count_unseen(conn: Connection, registry: Registry, scope: Scope, their: Vector) -> int:
    """How many rows of `scope` a holder of `their` has not seen (pending data)."""
    instances = inst.known_instances(conn) | {inst.current(conn).instance} | set(their)
    total = 0
    for rule in registry:
        t = rule.table
        total += conn.execute(select(func.count()).select_from(t).where(
            scope.where(rule), _unseen_condition(t, their, instances))).scalar_one()
    return total




def restamp_future(conn: Connection, registry: Registry, reference_ms: int,
                   max_ahead_ms: int, clock: inst.Clock = inst.DEFAULT_CLOCK) -> int:
    """Give new stamps to this instance's changes stamped too far in the future.

    A hub whose clock was years ahead before it first reached the central stamped its
    changes then; the central refuses such stamps. Nobody has accepted them, so this
    instance may take them back: its clock goes back to the reference time (learnt from
    the central) and those rows get fresh stamps, keeping their values.
    """
    limit = hlclib.pack(reference_ms + max_ahead_ms)
    local = inst.current(conn).instance
    conn.execute(update(LOCAL).where(LOCAL.c.key == 1, LOCAL.c.hlc > limit)
                 .values(hlc=hlclib.pack(reference_ms))
                 .execution_options(**{INTERNAL: True}))
    stamp: inst.Stamp | None = None
    done = 0
    for rule in registry:
        t = rule.table
        fields = [c.name for c in rule.data_columns]
        rows = conn.execute(select(t.c.id, t.c.sync_instance, t.c.sync_hlc, t.c.sync_fields)
                            .where(t.c.sync_hlc > limit)).all()
        for row in rows:
            stamp = stamp or inst.allocate(conn, clock)
            base = (row.sync_hlc, row.sync_instance)
            current = stamps.decode(row.sync_fields, base, fields)
            fixed = {f: ((stamp.hlc, local) if s[1] == local and s[0] > limit else s)
                     for f, s in current.items()}
            conn.execute(update(t).where(t.c.id == row.id).values(
                sync_instance=stamp.instance, sync_counter=stamp.counter, sync_hlc=stamp.hlc,
                sync_fields=stamps.encode(fixed, (stamp.hlc, stamp.instance)))
                .execution_options(**{INTERNAL: True}))
            done += 1
    if done:  # frames already prepared carry the old stamps: prepare again
        conn.execute(update(OUT).where(OUT.c.status == "ready").values(status="abandoned"))
    return done


__all__ = ["Batch", "adopt_unstamped", "count_unseen", "purge", "restamp_future", "unseen"]
