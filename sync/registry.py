"""Which tables sync, and how: the hub (or a test) fills a `Registry`.

The engine knows nothing about classrooms or submissions; each synced table is declared
with its kind (append-only log or mutable row), its update-versus-delete rule, its scope
columns and its natural keys. The engine works on any SQLAlchemy tables carrying the
sync columns of `ardoise.db.Synced`.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Column, Table

# Columns the engine maintains; every other column is user data and has a field stamp.
META_COLUMNS = frozenset({"id", "sync_instance", "sync_counter", "sync_hlc", "sync_fields"})


class Kind(enum.StrEnum):
    LOG = "log"  # rows are added, never changed: never conflict
    MUTABLE = "mutable"  # merged field by field by HLC


class DeleteRule(enum.StrEnum):
    """What wins when one side deletes a row while another edits it."""

    DELETE_WINS = "delete-wins"  # a deletion is final; concurrent edits are kept for audit
    LATEST_WINS = "latest-wins"  # the later of the edit and the deletion (by HLC) wins


@dataclass(frozen=True)
class TableRule:
    table: Table
    kind: Kind = Kind.MUTABLE
    delete_rule: DeleteRule = DeleteRule.DELETE_WINS
    school_column: str = "school_id"
    classroom_column: str | None = None
    natural_keys: tuple[tuple[str, ...], ...] = ()
    blob_column: str | None = None  # sha256 of a content-addressed file the row refers to
    entity: type | None = None  # the mapped class, when there is one (hides tombstones)

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def data_columns(self) -> list[Column]:  # type: ignore[type-arg]
        """Columns that carry user data (and a field stamp each), in table order."""
        return [c for c in self.table.columns if c.name not in META_COLUMNS]


@dataclass
class Registry:
    """The synced tables, in foreign-key order (parents before children)."""

    rules: dict[str, TableRule] = field(default_factory=dict)

    def add(self, target: Table | type, **options: object) -> TableRule:
        """Declare a synced table (or mapped class) with its TableRule options."""
        if isinstance(target, Table):
            table = target
        else:
            table = target.__table__  # type: ignore[attr-defined]
            options.setdefault("entity", target)
        missing = sorted(META_COLUMNS - {c.name for c in table.columns})
        if missing or "deleted" not in table.columns:
            raise ValueError(f"table {table.name} lacks sync columns: {missing or ['deleted']}")
        rule = TableRule(table, **options)  # type: ignore[arg-type]
        for col in (rule.school_column, rule.classroom_column, rule.blob_column):
            if col is not None and col not in table.columns:
                raise ValueError(f"table {table.name} has no column {col}")
        self.rules[table.name] = rule
        self._order: list[TableRule] | None = None
        return rule

    def get(self, name: str) -> TableRule | None:
        return self.rules.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.rules

    def __iter__(self) -> Iterator[TableRule]:
        """Rules sorted so that a table comes after the tables it references."""
        if getattr(self, "_order", None) is None:
            self._order = _fk_order(self.rules)
        return iter(self._order or [])

    @property
    def schema_version(self) -> str:
        """A short fingerprint of the synced tables and columns: both sides must agree."""
        h = hashlib.sha256()
        for rule in sorted(self.rules.values(), key=lambda r: r.name):
            h.update(rule.name.encode())
            for c in rule.table.columns:
                h.update(f"|{c.name}:{c.type.__class__.__name__}".encode())
            h.update(b"\n")
        return h.hexdigest()[:16]


def _fk_order(rules: dict[str, TableRule]) -> list[TableRule]:
    names = set(rules)
    deps = {n: {fk.column.table.name for fk in rules[n].table.foreign_keys} & names - {n}
            for n in names}
    out: list[TableRule] = []
    done: set[str] = set()

    def visit(n: str, stack: tuple[str, ...]) -> None:
        if n in done:
            return
        if n in stack:
            raise ValueError(f"foreign-key cycle between synced tables: {(*stack, n)}")
        for d in sorted(deps[n]):
            visit(d, (*stack, n))
        done.add(n)
        out.append(rules[n])

    for n in sorted(names):
        visit(n, ())
    return out


def tables_of(registry: Registry) -> Iterable[Table]:
    return (r.table for r in registry)


__all__ = ["META_COLUMNS", "DeleteRule", "Kind", "Registry", "TableRule", "tables_of"]
