"""Scopes: which rows a replica holds. A school, optionally narrowed to some classes.

A hub holds its school (or some of its classes); the central holds everything ("*").
Knowledge (version vectors) is kept per scope: what is known for a scope is also known
for every scope it contains, never the other way round.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, true

from ardoise.errors import Invalid
from ardoise.i18n import N_
from sync.registry import TableRule


@dataclass(frozen=True)
class Scope:
    school_id: uuid.UUID | None = None  # None: every school (the central)
    classrooms: frozenset[uuid.UUID] | None = None  # None: every class of the school

    @property
    def key(self) -> str:
        if self.school_id is None:
            return "*"
        key = f"s:{self.school_id.hex}"
        if self.classrooms is not None:
            key += "/c:" + ",".join(sorted(c.hex for c in self.classrooms))
        return key

    @classmethod
    def parse(cls, key: str) -> Scope:
        try:
            if key == "*":
                return cls()
            school, _, classes = key.partition("/")
            if not school.startswith("s:"):
                raise ValueError(key)
            school_id = uuid.UUID(hex=school[2:])
            if not classes:
                return cls(school_id)
            if not classes.startswith("c:"):
                raise ValueError(key)
            ids = frozenset(uuid.UUID(hex=c) for c in classes[2:].split(",") if c)
            return cls(school_id, ids)
        except ValueError:
            raise Invalid(N_("Unknown sync scope %(scope)s."), scope=key[:100]) from None

    def contains(self, other: Scope) -> bool:
        if self.school_id is None:
            return True
        if other.school_id != self.school_id:
            return False
        if self.classrooms is None:
            return True
        return other.classrooms is not None and other.classrooms <= self.classrooms

    def holds(self, rule: TableRule, row: dict[str, Any]) -> bool:
        """Whether a row (column name -> value) belongs to this scope."""
        if self.school_id is None:
            return True
        if row.get(rule.school_column) != self.school_id:
            return False
        if self.classrooms is None or rule.classroom_column is None:
            return True
        room = row.get(rule.classroom_column)
        return room is None or room in self.classrooms

    def where(self, rule: TableRule) -> Any:
        """The SQL condition selecting this scope's rows of a table."""
        if self.school_id is None:
            return true()
        t = rule.table
        cond = t.c[rule.school_column] == self.school_id
        if self.classrooms is not None and rule.classroom_column is not None:
            col = t.c[rule.classroom_column]
            cond = and_(cond, or_(col.is_(None), col.in_(sorted(self.classrooms))))
        return cond


EVERYTHING = Scope()

__all__ = ["EVERYTHING", "Scope"]
