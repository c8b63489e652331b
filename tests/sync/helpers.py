"""Test replicas: small synced models on their own metadata, one database each.

The engine must work on any metadata, so these tests do not use the hub's models.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, ForeignKey, MetaData, String, Text, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from ardoise.db import NAMING, Base, Synced, make_engine
from sync import capture, instance, stamps, transfer, vectors
from sync.merge import field_stamps
from sync.registry import DeleteRule, Kind, Registry
from sync.scope import Scope
from sync.tables import ENGINE_TABLES


class TBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = Base.type_annotation_map


class TSchool(Synced, TBase):
    __tablename__ = "t_school"
    name: Mapped[str] = mapped_column(String(100))


class TNote(Synced, TBase):
    """Mutable, latest-wins between edit and delete."""

    __tablename__ = "t_note"
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("t_school.id"))
    classroom_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    title: Mapped[str] = mapped_column(String(100), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    mark: Mapped[int | None] = mapped_column(default=None)


class TCard(Synced, TBase):
    """Mutable, delete-wins, with a natural key."""

    __tablename__ = "t_card"
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("t_school.id"))
    name: Mapped[str] = mapped_column(String(100))
    colour: Mapped[str] = mapped_column(String(20), default="")


class TLog(Synced, TBase):
    """Append-only."""

    __tablename__ = "t_log"
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("t_school.id"))
    note_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("t_note.id"), default=None)
    text: Mapped[str] = mapped_column(Text, default="")


def make_registry() -> Registry:
    reg = Registry()
    reg.add(TSchool, school_column="id")
    reg.add(TNote, delete_rule=DeleteRule.LATEST_WINS, classroom_column="classroom_id")
    reg.add(TCard, natural_keys=(("school_id", "name"),))
    reg.add(TLog, kind=Kind.LOG)
    return reg


REGISTRY = make_registry()
MODELS = {"t_school": TSchool, "t_note": TNote, "t_card": TCard, "t_log": TLog}


class FakeClock(instance.Clock):
    def __init__(self, start: float = 1_760_000_000.0) -> None:
        super().__init__(self._now)
        self.t = start

    def _now(self) -> float:
        self.t += 0.001
        return self.t


@dataclass
class Replica:
    name: str
    engine: Engine
    clock: FakeClock = field(default_factory=FakeClock)
    registry: Registry = field(default_factory=lambda: REGISTRY)
    schema: str | None = None

    def __post_init__(self) -> None:
        TBase.metadata.create_all(self.engine)
        Base.metadata.create_all(self.engine, tables=ENGINE_TABLES)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.capture = capture.install(self.sessions, self.registry, clock=self.clock)
        with self.engine.begin() as conn:
            self.instance = instance.ensure_local(conn)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as s, s.begin():
            yield s

    def close(self) -> None:
        self.capture.remove()
        self.engine.dispose()

    def rows(self, table: str) -> dict[uuid.UUID, dict[str, Any]]:
        t = self.registry.rules[table].table
        with self.engine.connect() as conn:
            return {r.id: dict(r._mapping) for r in conn.execute(select(t))}

    def state(self) -> dict[str, dict[uuid.UUID, tuple[Any, ...]]]:
        """Everything that must converge: data values and field stamps of every row."""
        out = {}
        for rule in self.registry:
            rows = {}
            for rid, r in self.rows(rule.name).items():
                fs = field_stamps(rule, r)
                rows[rid] = tuple((c.name, _plain(r[c.name]), fs[c.name])
                                  for c in rule.data_columns)
            out[rule.name] = rows
        return out


def _plain(v: Any) -> Any:
    return getattr(v, "value", v)


def push(src: Replica, dst: Replica, scope: Scope | None = None, *,
         target: int = 48 * 1024) -> transfer.OutTransfer:
    """One whole transfer from src to dst, in process (what a round does over HTTP)."""
    scope = scope or Scope()
    with src.engine.connect() as conn:
        their = vectors.knowledge(conn, dst.instance, scope)
    out = transfer.prepare(src.engine, src.registry, scope, their, dst.instance, src.clock,
                           target=target)
    with src.engine.connect() as conn:
        data = list(transfer.out_frames(conn, out.id, 0))
    last = -1
    for frame in data:
        applied = transfer.apply_frame(dst.engine, dst.registry, frame, clock=dst.clock,
                                       max_ahead_ms=1 << 60)
        last = applied.seq
    with src.engine.begin() as conn:
        result = transfer.acknowledge(conn, out.id, last)
    assert result is not None
    return result


def sqlite_replica(path: Path, name: str, start: float = 1_760_000_000.0) -> Replica:
    return Replica(name, make_engine(f"sqlite:///{path / (name + '.db')}"), FakeClock(start))


PG_URL = os.environ.get("ARDOISE_TEST_POSTGRES_URL", "")


def pg_replica(name: str, start: float = 1_760_000_000.0) -> Replica:
    """A replica in its own PostgreSQL schema (dropped by `drop_pg`)."""
    schema = f"t_{name}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    return Replica(name, engine, FakeClock(start), schema=schema)


def drop_pg(replica: Replica) -> None:
    schema = replica.schema
    replica.close()
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


__all__ = ["MODELS", "REGISTRY", "FakeClock", "Replica", "TCard", "TLog", "TNote", "TSchool",
           "push", "sqlite_replica", "stamps"]
