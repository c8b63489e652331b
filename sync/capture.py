"""Change capture: every insert, update and delete of a synced row gets its stamps.

Installed once per engine with `install(engine_or_sessionmaker, registry)`. It works
below the ORM, on the statements themselves (`before_execute`), so ORM flushes, bulk
`update()`/`delete()` through a session and plain Core statements are all captured, in
the transaction that makes the change:

- INSERT: the new rows get (instance, next counter, HLC); no field exceptions.
- UPDATE: the rows get a new stamp; the changed fields take it, the others keep theirs
  (written to `sync_fields`). With the latest-wins delete rule, an edit also re-stamps
  `deleted`, asserting the row is alive.
- DELETE: becomes an UPDATE setting `deleted` (a tombstone that syncs). Removing rows
  for good is `purge()`, which syncs too.

Statements the engine itself runs carry the execution option `ardoise_sync_internal`
and are left alone. With a sessionmaker, ORM queries also stop seeing tombstones
(execution option `include_deleted=True` shows them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, event, select, update
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.visitors import iterate, replacement_traverse

from sync import instance as inst
from sync import stamps
from sync.registry import DeleteRule, Registry, TableRule

INTERNAL = "ardoise_sync_internal"
NO_INSTANCE = uuid.UUID(int=0)


@dataclass
class Capture:
    """What `install` set up, so that it can be removed (tests) and inspected."""

    engine: Engine
    registry: Registry
    clock: inst.Clock
    sessions: sessionmaker[Session] | None = None
    _listeners: list[tuple[Any, str, Any]] = field(default_factory=list)

    def remove(self) -> None:
        for target, name, fn in self._listeners:
            event.remove(target, name, fn)
        self._listeners.clear()
        if getattr(self.engine, ATTR, None) is self:
            delattr(self.engine, ATTR)


ATTR = "_ardoise_sync_capture"  # kept on the engine itself: no global registry to leak


def install(target: Engine | sessionmaker[Session], registry: Registry, *,
            clock: inst.Clock = inst.DEFAULT_CLOCK, hide_tombstones: bool = True) -> Capture:
    """Capture changes of the registry's tables made through `target`'s engine."""
    if isinstance(target, sessionmaker):
        engine = target.kw["bind"]
        sessions: sessionmaker[Session] | None = target
    else:
        engine, sessions = target, None
    existing = getattr(engine, ATTR, None)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    cap = Capture(engine, registry, clock, sessions)

    def before_execute(conn: Connection, clause: Any, multiparams: Any, params: Any,
                       options: Any) -> tuple[Any, Any, Any]:
        return _rewrite(cap, conn, clause, multiparams, params, options)

    event.listen(engine, "before_execute", before_execute, retval=True)
    cap._listeners.append((engine, "before_execute", before_execute))
    if sessions is not None:
        tables = {r.table for r in registry}

        def bulk_delete(state: ORMExecuteState) -> Any:
            """ORM `delete(Model)` through a session: run the tombstone UPDATE as an ORM
            statement too, so the session's bookkeeping stays consistent."""
            mapper = state.bind_arguments.get("mapper")
            if not state.is_delete or mapper is None or mapper.local_table not in tables:
                return None
            stmt = update(mapper.entity).values(deleted=True)
            if state.statement.whereclause is not None:
                stmt = stmt.where(state.statement.whereclause)
            return state.invoke_statement(statement=stmt)

        event.listen(sessions, "do_orm_execute", bulk_delete)
        cap._listeners.append((sessions, "do_orm_execute", bulk_delete))
    if sessions is not None and hide_tombstones:
        entities = [r.entity for r in registry if r.entity is not None]

        def hide(state: ORMExecuteState) -> None:
            if not state.is_select or state.execution_options.get("include_deleted"):
                return
            state.statement = state.statement.options(*[
                with_loader_criteria(e, lambda c: c.deleted.is_(False), include_aliases=True)
                for e in entities])

        event.listen(sessions, "do_orm_execute", hide)
        cap._listeners.append((sessions, "do_orm_execute", hide))
    setattr(engine, ATTR, cap)
    return cap


def installed(engine: Engine) -> Capture | None:
    return getattr(engine, ATTR, None)


def _param_sets(multiparams: Any, params: Any) -> list[dict[str, Any]]:
    if multiparams:
        return [dict(p) for p in multiparams]
    return [dict(params or {})]


def _rewrite(cap: Capture, conn: Connection, clause: Any, multiparams: Any, params: Any,
             options: Any) -> tuple[Any, Any, Any]:
    if not isinstance(clause, (Insert, Update, Delete)) or (options or {}).get(INTERNAL):
        return clause, multiparams, params
    rule = cap.registry.get(getattr(clause.table, "name", ""))
    if rule is None or clause.table._deannotate() is not rule.table:
        return clause, multiparams, params
    table = rule.table
    if isinstance(clause, Insert):
        return _on_insert(cap, conn, rule, clause, multiparams, params)
    if isinstance(clause, Update):
        changed = _set_columns(clause, multiparams, params, rule)
        if not changed:
            return clause, multiparams, params
        stamp = _stamp_rows(cap, conn, rule, clause.whereclause, multiparams, params, changed)
        return (clause.values(sync_instance=stamp.instance, sync_counter=stamp.counter,
                              sync_hlc=stamp.hlc), multiparams, params)
    # DELETE: a tombstone instead. Bind names equal to column names are reserved in an
    # UPDATE, so the WHERE clause's are renamed (the ORM deletes by `:id`).
    where, multiparams, params = _rename_binds(clause.whereclause, table, multiparams, params)
    stamp = _stamp_rows(cap, conn, rule, where, multiparams, params, {"deleted"})
    new = update(table).where(where).values(
        deleted=True, sync_instance=stamp.instance, sync_counter=stamp.counter,
        sync_hlc=stamp.hlc)
    if clause._returning:
        new = new.returning(*clause._returning)
    return new, multiparams, params


def _on_insert(cap: Capture, conn: Connection, rule: TableRule, clause: Insert,
               multiparams: Any, params: Any) -> tuple[Any, Any, Any]:
    if clause._multi_values or clause.select is not None:
        raise ValueError(f"insert into synced table {rule.name}: pass rows as parameters, "
                         "not as multi-row VALUES or INSERT ... SELECT")
    stamp = inst.allocate(conn, cap.clock)
    meta = {"sync_instance": stamp.instance, "sync_counter": stamp.counter,
            "sync_hlc": stamp.hlc, "sync_fields": None}
    if rule.natural_keys:
        _free_natural_keys(conn, rule, clause, _param_sets(multiparams, params))
    if clause._values:
        return clause.values(**meta), multiparams, params
    if multiparams:
        return clause, [{**p, **meta} for p in multiparams], params
    return clause, multiparams, {**(params or {}), **meta}


def _free_natural_keys(conn: Connection, rule: TableRule, clause: Insert,
                       rows: list[dict[str, Any]]) -> None:
    """A new row may take the natural key of a tombstone: the tombstone is removed (the
    receiving side does the same when the new row arrives)."""
    t = rule.table
    fixed = {getattr(k, "key", k): getattr(v, "value", v)
             for k, v in (clause._values or {}).items()}
    for row in rows:
        values = {**fixed, **row}
        for key in rule.natural_keys:
            if all(k in values for k in key):
                conn.execute(delete(t).where(t.c.deleted.is_(True),
                                             *[t.c[k] == values[k] for k in key])
                             .execution_options(**{INTERNAL: True}))


def _set_columns(clause: Update, multiparams: Any, params: Any, rule: TableRule) -> set[str]:
    """Names of the data columns an UPDATE writes (explicit values and execute params)."""
    data = {c.name for c in rule.data_columns}
    names = {getattr(k, "key", k) for k in (clause._values or {})}
    first = (multiparams[0] if multiparams else params) or {}
    names |= set(first)
    return names & data


def _stamp_rows(cap: Capture, conn: Connection, rule: TableRule, where: Any, multiparams: Any,
                params: Any, changed: set[str]) -> inst.Stamp:
    """Allocate a stamp and rewrite `sync_fields` of the rows the statement will touch."""
    stamp = inst.allocate(conn, cap.clock)
    t = rule.table
    fields = [c.name for c in rule.data_columns]
    if rule.delete_rule is DeleteRule.LATEST_WINS:
        changed = changed | {"deleted"}
    query = select(t.c.id, t.c.sync_instance, t.c.sync_hlc, t.c.sync_fields)
    if where is not None:
        query = query.where(where)
    query = query.execution_options(**{INTERNAL: True})
    wanted = {b.key for b in _bindparams(where)}
    seen: dict[uuid.UUID, str | None] = {}
    new_base = (stamp.hlc, stamp.instance)
    for p in _param_sets(multiparams, params):
        for row in conn.execute(query, {k: v for k, v in p.items() if k in wanted}):
            base = (row.sync_hlc, row.sync_instance or NO_INSTANCE)
            seen[row.id] = stamps.restamp(row.sync_fields, base, fields, changed, new_base)
    if seen:
        conn.execute(update(t).where(t.c.id == bindparam("_sid"))
                     .values(sync_fields=bindparam("_sf"))
                     .execution_options(**{INTERNAL: True}),
                     [{"_sid": k, "_sf": v} for k, v in seen.items()])
    return stamp


def _rename_binds(where: Any, table: Any, multiparams: Any, params: Any
                  ) -> tuple[Any, Any, Any]:
    clash = {b.key for b in _bindparams(where)} & set(table.columns.keys())
    if not clash:
        return where, multiparams, params

    def swap(element: Any) -> Any:
        if element.__visit_name__ == "bindparam" and element.key in clash:
            return bindparam(
                f"_w_{element.key}", value=element.value, type_=element.type,
                callable_=element.callable, required=element.required)
        return None

    where = replacement_traverse(where, {}, swap)

    def rename(p: Any) -> dict[str, Any]:
        return {(f"_w_{k}" if k in clash else k): v for k, v in dict(p or {}).items()}

    if multiparams:
        return where, [rename(p) for p in multiparams], params
    return where, multiparams, rename(params)


def _bindparams(where: Any) -> list[Any]:
    if where is None:
        return []
    return [e for e in iterate(where) if e.__visit_name__ == "bindparam"]


__all__ = ["INTERNAL", "Capture", "install", "installed"]
