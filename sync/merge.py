"""Merging incoming rows into local ones.

Every field is a last-writer-wins register ordered by its stamp (HLC, then instance id),
so the result does not depend on the order rows arrive in (the merge is commutative,
associative and idempotent) nor on any clock being right. The `deleted` field follows
the table's rule: with delete-wins, a tombstone absorbs any concurrent edit; with
latest-wins, it is an ordinary field that local edits re-stamp.

When the merged row equals neither side, it gets a new stamp of ours (a merge version),
so that it travels on to every replica. When a merge drops a local value that the other
side had not seen (a true concurrent edit), the value is written to `sync_audit`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from sync import instance as inst
from sync import stamps
from sync.capture import INTERNAL, NO_INSTANCE
from sync.codec import comparable
from sync.registry import DeleteRule, TableRule
from sync.tables import SyncAudit, SyncConflict, SyncPurge
from sync.vectors import Vector, covers

AUDIT = SyncAudit.__table__
CONFLICT = SyncConflict.__table__
PURGE = SyncPurge.__table__


@dataclass
class MergeStats:
    inserted: int = 0
    adopted: int = 0
    merged: int = 0
    unchanged: int = 0
    conflicts: int = 0
    audited: int = 0
    purged: int = 0

    def add(self, other: MergeStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def rows(self) -> int:
        return self.inserted + self.adopted + self.merged + self.unchanged + self.conflicts


def _base(row: dict[str, Any]) -> stamps.FieldStamp:
    return row["sync_hlc"], row["sync_instance"] or NO_INSTANCE


def field_stamps(rule: TableRule, row: dict[str, Any]) -> dict[str, stamps.FieldStamp]:
    return stamps.decode(row["sync_fields"], _base(row), [c.name for c in rule.data_columns])


def join(rule: TableRule, local: dict[str, Any], remote: dict[str, Any]
         ) -> tuple[dict[str, Any], dict[str, stamps.FieldStamp]]:
    """The merged values and field stamps of two versions of a row."""
    ls, rs = field_stamps(rule, local), field_stamps(rule, remote)
    values: dict[str, Any] = {}
    out: dict[str, stamps.FieldStamp] = {}
    for name in ls:
        if name == "deleted" and rule.delete_rule is DeleteRule.DELETE_WINS and (
                bool(local["deleted"]) != bool(remote["deleted"])):
            take_remote = bool(remote["deleted"])
        else:
            take_remote = stamps.order_key(rs[name]) > stamps.order_key(ls[name])
        src, st = (remote, rs) if take_remote else (local, ls)
        values[name] = src[name]
        out[name] = st[name]
    return values, out


def _same(rule: TableRule, values: dict[str, Any], fstamps: dict[str, stamps.FieldStamp],
          row: dict[str, Any]) -> bool:
    return fstamps == field_stamps(rule, row) and all(
        comparable(values[c.name]) == comparable(row[c.name]) for c in rule.data_columns)


def apply_rows(conn: Connection, rule: TableRule, rows: list[dict[str, Any]],
               sender_vector: Vector, clock: inst.Clock = inst.DEFAULT_CLOCK) -> MergeStats:
    """Merge a batch of incoming rows (full rows, Python values) of one table."""
    stats = MergeStats()
    if not rows:
        return stats
    t = rule.table
    ids = [r["id"] for r in rows]
    purged = set(conn.execute(select(PURGE.c.row_id).where(
        PURGE.c.table_name == rule.name, PURGE.c.row_id.in_(ids))).scalars())
    query = select(*t.columns).where(t.c.id.in_(ids))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    local = {r.id: dict(r._mapping) for r in conn.execute(query)}
    inserts: list[dict[str, Any]] = []
    for remote in rows:
        rid = remote["id"]
        if rid in purged:
            stats.purged += 1
            continue
        mine = local.get(rid)
        if mine is None:
            if rule.natural_keys and not _free_key(conn, rule, remote):
                stats.conflicts += 1
                continue
            inserts.append(remote)
            local[rid] = remote  # a duplicate later in the batch merges with it
            continue
        values, fstamps = join(rule, mine, remote)
        if _same(rule, values, fstamps, mine):
            if _same(rule, values, fstamps, remote) and (
                    (remote["sync_hlc"], (remote["sync_instance"] or NO_INSTANCE).bytes)
                    > (mine["sync_hlc"], (mine["sync_instance"] or NO_INSTANCE).bytes)):
                _write(conn, rule, rid, remote)
                local[rid] = remote
                stats.adopted += 1
            else:
                stats.unchanged += 1
            continue
        stats.audited += _audit(conn, rule, mine, remote, values, sender_vector)
        if _same(rule, values, fstamps, remote):
            _write(conn, rule, rid, remote)
            local[rid] = remote
            stats.adopted += 1
            continue
        stamp = inst.allocate(conn, clock)
        new = {**values, "id": rid, "sync_instance": stamp.instance,
               "sync_counter": stamp.counter, "sync_hlc": stamp.hlc,
               "sync_fields": stamps.encode(fstamps, (stamp.hlc, stamp.instance))}
        _write(conn, rule, rid, new)
        local[rid] = new
        stats.merged += 1
    if inserts:
        conn.execute(insert(t).execution_options(**{INTERNAL: True}), inserts)
        stats.inserted += len(inserts)
    return stats


def _write(conn: Connection, rule: TableRule, rid: uuid.UUID, row: dict[str, Any]) -> None:
    t = rule.table
    values = {c.name: row[c.name] for c in t.columns if c.name != "id"}
    conn.execute(update(t).where(t.c.id == rid).values(**values)
                 .execution_options(**{INTERNAL: True}))


def _free_key(conn: Connection, rule: TableRule, remote: dict[str, Any]) -> bool:
    """Whether the incoming row's natural keys are free (a tombstone holding one gives it
    up, as on the side that created the new row); otherwise the row is parked."""
    t = rule.table
    for key in rule.natural_keys:
        if any(remote.get(k) is None for k in key):
            continue
        other = conn.execute(select(t.c.id, t.c.deleted).where(
            t.c.id != remote["id"], *[t.c[k] == remote[k] for k in key])).first()
        if other is None:
            continue
        if other.deleted and not remote["deleted"]:
            conn.execute(delete(t).where(t.c.id == other.id)
                         .execution_options(**{INTERNAL: True}))
            continue
        conn.execute(insert(CONFLICT).values(
            table_name=rule.name, row_id=remote["id"],
            reason=f"natural key {','.join(key)} already used by {other.id}",
            payload=json.dumps({k: _jsonable(v) for k, v in remote.items()}),
            school_id=remote.get(rule.school_column)))
        return False
    return True


def _jsonable(value: Any) -> Any:
    value = comparable(value)
    return value.hex() if isinstance(value, bytes) else value


def _audit(conn: Connection, rule: TableRule, mine: dict[str, Any], remote: dict[str, Any],
           values: dict[str, Any], sender_vector: Vector) -> int:
    """Keep local values dropped by a concurrent edit (the sender had not seen ours)."""
    mine_inst = mine["sync_instance"] or NO_INSTANCE
    if covers(sender_vector, mine_inst, mine["sync_counter"]):
        return 0  # the sender saw our version: its values are later edits, not rivals
    ls, rs = field_stamps(rule, mine), field_stamps(rule, remote)
    lost = []
    for c in rule.data_columns:
        name = c.name
        if comparable(values[name]) != comparable(mine[name]):
            lost.append({"table_name": rule.name, "row_id": mine["id"], "field": name,
                         "value": json.dumps(_jsonable(mine[name])), "hlc": ls[name][0],
                         "instance": ls[name][1], "winner_hlc": rs[name][0],
                         "winner_instance": rs[name][1],
                         "school_id": mine.get(rule.school_column)})
    if lost:
        conn.execute(insert(AUDIT), lost)
    return len(lost)


def apply_purges(conn: Connection, tables: dict[str, TableRule], purges: list[dict[str, Any]]
                 ) -> int:
    """Remove purged rows here too and remember the purge (it travels on)."""
    done = 0
    for p in purges:
        rule = tables.get(p["table_name"])
        if rule is None:
            continue
        inst.insert_ignore(conn, PURGE, p, ["table_name", "row_id"])
        t = rule.table
        done += conn.execute(delete(t).where(t.c.id == p["row_id"])
                             .execution_options(**{INTERNAL: True})).rowcount
    return done


__all__ = ["MergeStats", "apply_purges", "apply_rows", "field_stamps", "join"]
