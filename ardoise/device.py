"""What the web, the agent and the sync engine tell each other about the device.

They share only the database (DESIGN: "a request like sync now is a row the agent picks
up"), so this lives in the core where every package may import it:

- `DeviceRequest`: a request for the agent ("sync_now"), made by a web page, the button or
  the CLI, taken and finished by the agent;
- `DeviceState`: small JSON documents by key: the agent's heartbeat (`agent`), the task
  running now (`activity`) and the last result of each agent task (`task:<name>`, so
  `task:sync` is the last sync).

Neither table syncs: they describe this device only. Functions add and change rows; the
caller commits, so a web view can make a request in the same transaction as its own work.
What the rows mean (kinds, keys, the task result document) is in `ardoise.device_protocol`,
shared with the agent's plain sqlite3 access (`hardware.store`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Index, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ardoise.db import Base, utcnow
from ardoise.device_protocol import (
    ACTIVITY_KEY,
    AGENT_KEY,
    KEEP_FINISHED_REQUESTS,
    MESSAGE_MAX,
    PACKS_NOW,
    REQUEST_KINDS,
    REQUEST_SOURCES,
    SYNC_NOW,
    TaskResult,
    check_request,
    new_task_result,
    parse_state_text,
    state_text,
    task_result_from_document,
    task_state_key,
)


class DeviceRequest(Base):
    """Something asked of the agent. Pending until `taken_at`, finished at `done_at`."""

    __tablename__ = "device_request"
    __table_args__ = (Index("ix_device_request_pending", "kind", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    taken_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    done_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    ok: Mapped[bool | None] = mapped_column(default=None)
    message: Mapped[str] = mapped_column(Text, default="")


class DeviceState(Base):
    """A small JSON document under a key, replaced whole on each write."""

    __tablename__ = "device_state"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    data: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# -- requests ---------------------------------------------------------------------------

def request(session: Session, kind: str, source: str, *, now: dt.datetime | None = None
            ) -> DeviceRequest:
    """Ask the agent for `kind`. A request of the same kind still waiting is reused, so a
    teacher pressing "Sync now" five times asks for one sync."""
    check_request(kind, source)
    waiting = session.scalars(select(DeviceRequest).where(
        DeviceRequest.kind == kind, DeviceRequest.taken_at.is_(None))
        .order_by(DeviceRequest.id).limit(1)).first()
    if waiting is not None:
        return waiting
    row = DeviceRequest(kind=kind, source=source, requested_at=now or utcnow())
    session.add(row)
    session.flush()
    return row


def request_sync_now(session: Session, source: str = "web", *,
                     now: dt.datetime | None = None) -> DeviceRequest:
    """What every "Sync now" button calls: the agent starts a sync within seconds."""
    return request(session, SYNC_NOW, source, now=now)


def pending_requests(session: Session, kinds: Iterable[str] | None = None
                     ) -> list[DeviceRequest]:
    """Requests not yet taken by the agent, oldest first."""
    stmt = select(DeviceRequest).where(DeviceRequest.taken_at.is_(None))
    if kinds is not None:
        stmt = stmt.where(DeviceRequest.kind.in_(list(kinds)))
    return list(session.scalars(stmt.order_by(DeviceRequest.id)))


def take_requests(session: Session, kinds: Iterable[str], *, now: dt.datetime | None = None
                  ) -> list[DeviceRequest]:
    """Mark the waiting requests of these kinds as taken (the agent starts on them)."""
    rows = pending_requests(session, kinds)
    at = now or utcnow()
    for row in rows:
        row.taken_at = at
    session.flush()
    return rows


def finish_requests(session: Session, ids: Iterable[int], *, ok: bool, message: str = "",
                    now: dt.datetime | None = None) -> None:
    """Record how taken requests ended, and forget the oldest finished ones."""
    at = now or utcnow()
    id_list = list(ids)
    if id_list:
        for row in session.scalars(select(DeviceRequest).where(DeviceRequest.id.in_(id_list))):
            row.done_at, row.ok, row.message = at, ok, message[:MESSAGE_MAX]
    keep = select(DeviceRequest.id).where(DeviceRequest.done_at.is_not(None)).order_by(
        DeviceRequest.id.desc()).limit(KEEP_FINISHED_REQUESTS)
    session.execute(delete(DeviceRequest).where(
        DeviceRequest.done_at.is_not(None), DeviceRequest.id.not_in(keep)))
    session.flush()


# -- state documents ----------------------------------------------------------------------

def write_state(session: Session, key: str, data: dict[str, Any], *,
                now: dt.datetime | None = None) -> None:
    text = state_text(data)
    row = session.get(DeviceState, key)
    if row is None:
        session.add(DeviceState(key=key, data=text, updated_at=now or utcnow()))
    else:
        row.data, row.updated_at = text, now or utcnow()
    session.flush()


def read_state(session: Session, key: str) -> tuple[dict[str, Any], dt.datetime] | None:
    row = session.get(DeviceState, key)
    if row is None:
        return None
    data = parse_state_text(row.data)
    return None if data is None else (data, row.updated_at)


def clear_state(session: Session, key: str) -> None:
    session.execute(delete(DeviceState).where(DeviceState.key == key))
    session.flush()


def record_task_result(session: Session, task: str, *, ok: bool, message: str = "",
                       details: dict[str, Any] | None = None,
                       started_at: dt.datetime | None = None,
                       now: dt.datetime | None = None) -> TaskResult:
    """The last result of an agent task. The agent calls it after each run; a sync made
    outside the agent (CLI, USB bundle) calls it with task="sync" too."""
    at = now or utcnow()
    result, doc = new_task_result(last_task_result(session, task), task, ok=ok,
                                  message=message, details=details, started_at=started_at,
                                  at=at)
    write_state(session, task_state_key(task), doc, now=at)
    return result


def last_task_result(session: Session, task: str) -> TaskResult | None:
    found = read_state(session, task_state_key(task))
    return None if found is None else task_result_from_document(task, *found)


def last_sync(session: Session) -> TaskResult | None:
    return last_task_result(session, "sync")


__all__ = [
    "ACTIVITY_KEY",
    "AGENT_KEY",
    "KEEP_FINISHED_REQUESTS",
    "PACKS_NOW",
    "REQUEST_KINDS",
    "REQUEST_SOURCES",
    "SYNC_NOW",
    "DeviceRequest",
    "DeviceState",
    "TaskResult",
    "clear_state",
    "finish_requests",
    "last_sync",
    "last_task_result",
    "pending_requests",
    "read_state",
    "record_task_result",
    "request",
    "request_sync_now",
    "take_requests",
    "write_state",
]
