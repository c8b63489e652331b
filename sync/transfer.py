"""Transfers: the frames one side prepares for another, and their exactly-once application.

The sender stores the frames of a transfer (`sync_out_*`) so that a resumed round sends
the very same bytes from the first unacknowledged frame. The receiver records, per
transfer, the next frame it expects (`sync_in_transfer`): a frame is applied in one
transaction together with that record, so a frame seen twice is skipped and a cut (or a
power failure) at any point loses at most the frame in flight. The last frame carries
the sender's snapshot vector, merged into the receiver's knowledge on completion.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from ardoise.db import utcnow
from ardoise.errors import Conflict, Forbidden
from ardoise.i18n import N_
from ardoise.ids import uuid7
from sync import changes, frames, vectors
from sync import hlc as hlclib
from sync import instance as inst
from sync.merge import MergeStats, apply_purges, apply_rows
from sync.registry import Registry
from sync.scope import Scope
from sync.tables import SyncAudit, SyncInTransfer, SyncOutFrame, SyncOutTransfer

OUT = SyncOutTransfer.__table__
OUT_FRAME = SyncOutFrame.__table__
IN = SyncInTransfer.__table__
AUDIT = SyncAudit.__table__
PROTOCOL = 1
KEEP_DAYS = 7
MAX_AHEAD_MS = 2 * 86_400_000  # a remote stamp more than 2 days ahead of us is refused
APPLY_ATTEMPTS = 3


class SchemaMismatch(Conflict):
    code = "schema_mismatch"


class OutOfScope(Forbidden):
    code = "out_of_scope"


@dataclass
class OutTransfer:
    id: uuid.UUID
    peer: uuid.UUID | None
    scope: str
    frames: int
    acked: int
    rows: int
    bytes: int
    status: str

    @property
    def finished(self) -> bool:
        return self.status == "done" or self.acked >= self.frames - 1


def _out(row: Any) -> OutTransfer:
    return OutTransfer(row.id, row.peer, row.scope, row.frames, row.acked, row.rows,
                       row.bytes, row.status)


def prepare(engine: Engine, registry: Registry, scope: Scope, their: vectors.Vector,
            peer: uuid.UUID | None, clock: inst.Clock = inst.DEFAULT_CLOCK,
            target: int = frames.TARGET_BYTES) -> OutTransfer:
    """Store the frames carrying every row of `scope` not covered by `their`."""
    with engine.begin() as conn:
        changes.adopt_unstamped(conn, registry, clock)
        local = inst.ensure_local(conn)
    tid = uuid7()
    with engine.begin() as conn:
        conn.execute(insert(OUT).values(id=tid, peer=peer, scope=scope.key, status="building"))
    rows = nbytes = count = 0
    with engine.connect() as read:
        snap = vectors.knowledge(read, local, scope)
        wire = vectors.to_wire(snap)
        header = {"src": local.bytes, "scope": scope.key, "schema": registry.schema_version,
                  "proto": PROTOCOL, "sv": wire}
        counted: list[int] = []

        def batches() -> Iterator[changes.Batch]:
            for b in changes.unseen(read, registry, scope, their):
                counted.append(len(b.rows))
                yield b

        for seq, data in enumerate(frames.build(tid, batches(), header, wire, target)):
            with engine.begin() as conn:
                conn.execute(insert(OUT_FRAME).values(transfer_id=tid, seq=seq, data=data))
            nbytes += len(data)
            count = seq + 1
        rows = sum(counted)
        read.rollback()
    with engine.begin() as conn:
        conn.execute(update(OUT).where(OUT.c.id == tid).values(
            status="ready", frames=count, rows=rows, bytes=nbytes,
            snapshot=vectors.dumps(snap)))
        return _out(conn.execute(select(OUT).where(OUT.c.id == tid)).one())


def pending(conn: Connection, peer: uuid.UUID | None, scope: Scope) -> OutTransfer | None:
    """The unfinished transfer to `peer` for `scope`, if any (to resume it)."""
    row = conn.execute(select(OUT).where(OUT.c.peer == peer, OUT.c.scope == scope.key,
                                         OUT.c.status == "ready")
                       .order_by(OUT.c.created_at.desc()).limit(1)).first()
    return _out(row) if row is not None else None


def get_out(conn: Connection, tid: uuid.UUID) -> OutTransfer | None:
    row = conn.execute(select(OUT).where(OUT.c.id == tid)).first()
    return _out(row) if row is not None else None


def out_frames(conn: Connection, tid: uuid.UUID, start: int, max_bytes: int | None = None
               ) -> Iterator[bytes]:
    """Stored frames from `start` on; at least one, then up to `max_bytes` in all."""
    sent = 0
    result = conn.execute(select(OUT_FRAME.c.data).where(
        OUT_FRAME.c.transfer_id == tid, OUT_FRAME.c.seq >= start).order_by(OUT_FRAME.c.seq)
        .execution_options(yield_per=8))
    try:
        for (data,) in result:
            if max_bytes is not None and sent and sent + len(data) > max_bytes:
                break
            sent += len(data)
            yield data
    finally:
        result.close()


def acknowledge(conn: Connection, tid: uuid.UUID, seq: int) -> OutTransfer | None:
    """The peer applied frames up to `seq`; when all are, it knows our snapshot."""
    row = conn.execute(select(OUT).where(OUT.c.id == tid)).first()
    if row is None:
        return None
    if seq > row.acked:
        seq = min(seq, row.frames - 1)
        values: dict[str, Any] = {"acked": seq}
        if seq >= row.frames - 1 and row.status == "ready":
            values.update(status="done", finished_at=utcnow())
            if row.peer is not None:
                vectors.merge(conn, row.peer, Scope.parse(row.scope),
                              vectors.loads(row.snapshot))
            conn.execute(delete(OUT_FRAME).where(OUT_FRAME.c.transfer_id == tid))
        conn.execute(update(OUT).where(OUT.c.id == tid).values(**values))
    return _out(conn.execute(select(OUT).where(OUT.c.id == tid)).one())


@dataclass
class Applied:
    transfer_id: uuid.UUID
    seq: int
    last: bool
    duplicate: bool
    done: bool
    sender: uuid.UUID
    scope: str
    stats: MergeStats = field(default_factory=MergeStats)


def apply_frame(engine: Engine, registry: Registry, data: bytes, *,
                sender: uuid.UUID | None = None, allowed: Scope | None = None,
                clock: inst.Clock = inst.DEFAULT_CLOCK,
                max_ahead_ms: int = MAX_AHEAD_MS) -> Applied:
    """Check and apply one frame exactly once (Invalid/Forbidden/Conflict: nothing applied).

    `sender` is the authenticated peer (frames claiming another source are refused);
    `allowed` the scope that peer may write (rows outside it are refused).
    """
    frame = frames.decode(data, registry)
    for attempt in range(APPLY_ATTEMPTS):
        try:
            return _apply(engine, registry, frame, sender, allowed, clock, max_ahead_ms)
        except (IntegrityError, OperationalError) as exc:
            # Two central processes inserting the same new row, or a lock timeout: the
            # transaction rolled back whole; try again (the frame may now be a duplicate).
            if attempt == APPLY_ATTEMPTS - 1:
                raise Conflict(N_("Frame %(seq)s could not be applied here: %(reason)s"),
                               seq=frame.seq, reason=str(exc.orig)[:300]) from None
    raise AssertionError("unreachable")


def _apply(engine: Engine, registry: Registry, frame: frames.Frame, sender: uuid.UUID | None,
           allowed: Scope | None, clock: inst.Clock, max_ahead_ms: int) -> Applied:
    with engine.begin() as conn:
        query = select(IN).where(IN.c.id == frame.transfer_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        state = conn.execute(query).first()
        if state is None:
            if frame.seq != 0 or frame.header is None:
                raise Conflict(N_("Frame %(seq)s arrived before the start of its transfer: "
                                  "send frame 0 first."), seq=frame.seq, expected=0)
            src, scope, sender_vec = _check_header(frame.header, registry, sender, allowed)
            conn.execute(insert(IN).values(id=frame.transfer_id, peer=src, scope=scope.key,
                                           next_seq=0, sender_vector=vectors.dumps(sender_vec)))
            next_seq, done = 0, False
        else:
            src, scope = state.peer, Scope.parse(state.scope)
            sender_vec = vectors.loads(state.sender_vector)
            next_seq, done = state.next_seq, state.done
            if sender is not None and src != sender:
                raise Forbidden(N_("This transfer belongs to another device."))
        if done or frame.seq < next_seq:
            return Applied(frame.transfer_id, frame.seq, frame.last, True, done, src, scope.key)
        if frame.seq > next_seq:
            raise Conflict(N_("Frame %(seq)s arrived out of order: frame %(expected)s is "
                              "expected."), seq=frame.seq, expected=next_seq)
        _check_rows(conn, frame, registry, allowed or scope, clock, max_ahead_ms)
        stats = MergeStats()
        seen_instances: set[uuid.UUID] = set()
        max_hlc = 0
        for name, rows in frame.tables:
            rule = registry.rules[name]
            for r in rows:
                seen_instances.add(r["sync_instance"])
                max_hlc = max(max_hlc, r["sync_hlc"])
            for start in range(0, len(rows), 500):
                stats.add(apply_rows(conn, rule, rows[start:start + 500], sender_vec, clock))
        if frame.purges:
            stats.purged += apply_purges(conn, registry.rules, frame.purges)
            for p in frame.purges:
                seen_instances.add(p["sync_instance"])
                max_hlc = max(max_hlc, p["sync_hlc"])
        if seen_instances:
            inst.remember_instances(conn, seen_instances)
        if max_hlc:
            inst.observe(conn, max_hlc)
        values: dict[str, Any] = {"next_seq": frame.seq + 1,
                                  "rows": IN.c.rows + frame.rows}
        if frame.last:
            final = vectors.from_wire(frame.vector)
            local = inst.ensure_local(conn)
            vectors.merge(conn, local, scope, final)
            vectors.merge(conn, src, scope, final)
            values.update(done=True, finished_at=utcnow())
        conn.execute(update(IN).where(IN.c.id == frame.transfer_id).values(**values))
    return Applied(frame.transfer_id, frame.seq, frame.last, False, frame.last, src, scope.key,
                   stats)


def _check_header(header: dict[str, Any], registry: Registry, sender: uuid.UUID | None,
                  allowed: Scope | None) -> tuple[uuid.UUID, Scope, vectors.Vector]:
    if header.get("proto") != PROTOCOL:
        raise SchemaMismatch(N_("Sync protocol %(got)s is not supported here (this side "
                                "speaks %(ours)s): update the older side."),
                             got=str(header.get("proto"))[:20], ours=PROTOCOL)
    if header.get("schema") != registry.schema_version:
        raise SchemaMismatch(N_("The data schema differs between the two sides (%(got)s, "
                                "here %(ours)s): update the older side, then sync again."),
                             got=str(header.get("schema"))[:20], ours=registry.schema_version)
    src = header.get("src")
    if not isinstance(src, bytes) or len(src) != 16:
        raise frames.FrameError(N_("The first frame of a transfer lacks its header."))
    src_id = uuid.UUID(bytes=src)
    if sender is not None and src_id != sender:
        raise Forbidden(N_("This transfer was prepared by another device."))
    scope_key = header.get("scope")
    if not isinstance(scope_key, str):
        raise frames.FrameError(N_("The first frame of a transfer lacks its header."))
    scope = Scope.parse(scope_key)
    if allowed is not None and not allowed.contains(scope):
        raise OutOfScope(N_("This device may not send data for scope %(scope)s."),
                         scope=scope_key[:100])
    return src_id, scope, vectors.from_wire(header.get("sv"))


def _check_rows(conn: Connection, frame: frames.Frame, registry: Registry, allowed: Scope,
                clock: inst.Clock, max_ahead_ms: int) -> None:
    reference = inst.reference_ms(conn, clock)
    for name, rows in frame.tables:
        rule = registry.rules[name]
        for r in rows:
            if not allowed.holds(rule, r):
                raise OutOfScope(N_("A row of %(table)s is outside what this device may "
                                    "send: nothing was applied."), table=name)
            hlclib.check_remote(r["sync_hlc"], reference, max_ahead_ms, what=name)
            if r["sync_fields"]:
                for h, _i, _n in _groups(r["sync_fields"]):
                    hlclib.check_remote(h, reference, max_ahead_ms, what=name)
    for p in frame.purges:
        if allowed.school_id is not None and p["school_id"] != allowed.school_id:
            raise OutOfScope(N_("A row of %(table)s is outside what this device may "
                                "send: nothing was applied."), table="sync_purge")
        hlclib.check_remote(p["sync_hlc"], reference, max_ahead_ms, what="sync_purge")


def _groups(text: str) -> list[Any]:
    return json.loads(text)


def forget_old(conn: Connection, days: int = KEEP_DAYS) -> int:
    """Drop transfer state older than `days` (never less than the protocol's 7)."""
    limit = utcnow() - dt.timedelta(days=max(days, KEEP_DAYS))
    n = conn.execute(delete(OUT_FRAME).where(OUT_FRAME.c.transfer_id.in_(
        select(OUT.c.id).where(OUT.c.created_at < limit)))).rowcount
    n += conn.execute(delete(OUT).where(OUT.c.created_at < limit)).rowcount
    n += conn.execute(delete(IN).where(IN.c.created_at < limit)).rowcount
    return n


def maintenance(engine: Engine, *, transfer_days: int = KEEP_DAYS, audit_days: int = 90
                ) -> int:
    """Forget transfer state and audited values past their keeping time."""
    limit = utcnow() - dt.timedelta(days=max(audit_days, 1))
    with engine.begin() as conn:
        n = forget_old(conn, transfer_days)
        n += conn.execute(delete(AUDIT).where(AUDIT.c.recorded_at < limit)).rowcount
    return n


__all__ = [
    "KEEP_DAYS",
    "PROTOCOL",
    "Applied",
    "OutOfScope",
    "OutTransfer",
    "SchemaMismatch",
    "acknowledge",
    "apply_frame",
    "forget_old",
    "get_out",
    "maintenance",
    "out_frames",
    "pending",
    "prepare",
]
