"""Version vectors: for each instance, the highest of its counters a holder has seen.

`knowledge(conn, holder, scope)` combines every stored vector of a scope containing
`scope` (knowing a whole school means knowing each of its classes); our own instance
always counts as fully known to ourselves.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import sqlite

from ardoise.errors import Invalid
from ardoise.i18n import N_
from sync import instance as inst
from sync.scope import Scope
from sync.tables import SyncVector

Vector = dict[uuid.UUID, int]
VEC = SyncVector.__table__


def knowledge(conn: Connection, holder: uuid.UUID, scope: Scope) -> Vector:
    rows = conn.execute(select(VEC.c.scope, VEC.c.instance, VEC.c.counter)
                        .where(VEC.c.holder == holder)).all()
    out: Vector = {}
    parsed: dict[str, Scope] = {}
    for key, instance, counter in rows:
        stored = parsed.setdefault(key, Scope.parse(key))
        if stored.contains(scope) and counter > out.get(instance, -1):
            out[instance] = counter
    local = inst.current(conn)
    if holder == local.instance:
        out[local.instance] = local.counter
    return out


def merge(conn: Connection, holder: uuid.UUID, scope: Scope, vector: Mapping[uuid.UUID, int]
          ) -> None:
    """Raise the stored vector of (holder, scope) to at least `vector`, entry by entry."""
    rows = [{"holder": holder, "scope": scope.key, "instance": i, "counter": int(c)}
            for i, c in sorted(vector.items()) if c > 0]
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql  # 2 MiB: loaded only on PostgreSQL

        ins = postgresql.insert(VEC)
        stmt = ins.on_conflict_do_update(
            index_elements=["holder", "scope", "instance"],
            set_={"counter": func.greatest(VEC.c.counter, ins.excluded.counter)})
    else:
        ins = sqlite.insert(VEC)
        stmt = ins.on_conflict_do_update(
            index_elements=["holder", "scope", "instance"],
            set_={"counter": func.max(VEC.c.counter, ins.excluded.counter)})
    conn.execute(stmt, rows)


def covers(vector: Mapping[uuid.UUID, int], instance: uuid.UUID, counter: int) -> bool:
    return counter <= vector.get(instance, 0)


def dumps(vector: Mapping[uuid.UUID, int]) -> str:
    return json.dumps({i.hex: c for i, c in sorted(vector.items())}, separators=(",", ":"))


def loads(text: str) -> Vector:
    return {uuid.UUID(hex=k): int(v) for k, v in json.loads(text or "{}").items()}


def to_wire(vector: Mapping[uuid.UUID, int]) -> list[list[object]]:
    return [[i.bytes, int(c)] for i, c in sorted(vector.items())]


def from_wire(data: object) -> Vector:
    """A vector from a frame or a request, checked (it comes from outside)."""
    if not isinstance(data, list) or len(data) > 100_000:
        raise Invalid(N_("A version vector in the request is malformed."))
    out: Vector = {}
    for item in data:
        if (not isinstance(item, (list, tuple)) or len(item) != 2
                or not isinstance(item[0], bytes) or len(item[0]) != 16
                or not isinstance(item[1], int) or not 0 <= item[1] < 1 << 63):
            raise Invalid(N_("A version vector in the request is malformed."))
        out[uuid.UUID(bytes=item[0])] = item[1]
    return out


__all__ = ["Vector", "covers", "dumps", "from_wire", "knowledge", "loads", "merge", "to_wire"]
