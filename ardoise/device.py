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
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Index, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ardoise.db import Base, utcnow
from ardoise.errors import Invalid
from ardoise.i18n import N_

SYNC_NOW = "sync_now"
PACKS_NOW = "packs_now"  # install queued packs (USB) and look for new versions now
REQUEST_KINDS = (SYNC_NOW, PACKS_NOW)
REQUEST_SOURCES = ("web", "button", "cli", "schedule")
AGENT_KEY = "agent"
ACTIVITY_KEY = "activity"
KEEP_FINISHED_REQUESTS = 50


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


@dataclass(frozen=True)
class TaskResult:
    """The last run of an agent task (for "sync": the last sync)."""

    task: str
    ok: bool
    at: dt.datetime
    message: str = ""
    started_at: dt.datetime | None = None
    details: dict[str, Any] | None = None
    last_ok_at: dt.datetime | None = None  # the last successful run, this one or earlier


# -- requests ---------------------------------------------------------------------------

def request(session: Session, kind: str, source: str, *, now: dt.datetime | None = None
            ) -> DeviceRequest:
    """Ask the agent for `kind`. A request of the same kind still waiting is reused, so a
    teacher pressing "Sync now" five times asks for one sync."""
    if kind not in REQUEST_KINDS:
        raise Invalid(N_("Unknown device request %(kind)s."), kind=kind)
    if source not in REQUEST_SOURCES:
        raise Invalid(N_("Unknown source %(source)s for a device request."), source=source)
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
            row.done_at, row.ok, row.message = at, ok, message[:2000]
    keep = select(DeviceRequest.id).where(DeviceRequest.done_at.is_not(None)).order_by(
        DeviceRequest.id.desc()).limit(KEEP_FINISHED_REQUESTS)
    session.execute(delete(DeviceRequest).where(
        DeviceRequest.done_at.is_not(None), DeviceRequest.id.not_in(keep)))
    session.flush()


# -- state documents ----------------------------------------------------------------------

def write_state(session: Session, key: str, data: dict[str, Any], *,
                now: dt.datetime | None = None) -> None:
    text = json.dumps(data, sort_keys=True, default=str)
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
    try:
        data = json.loads(row.data)
    except ValueError:
        return None
    return (data if isinstance(data, dict) else {}), row.updated_at


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
    previous = last_task_result(session, task)
    last_ok = at if ok else (previous.last_ok_at if previous else None)
    result = TaskResult(task=task, ok=ok, at=at, message=message[:2000],
                        started_at=started_at, details=details or {}, last_ok_at=last_ok)
    write_state(session, f"task:{task}", {
        "ok": ok, "at": at.isoformat(), "message": result.message,
        "started_at": started_at.isoformat() if started_at else None,
        "last_ok_at": last_ok.isoformat() if last_ok else None,
        "details": result.details}, now=at)
    return result


def last_task_result(session: Session, task: str) -> TaskResult | None:
    found = read_state(session, f"task:{task}")
    if found is None:
        return None
    data, updated = found
    return TaskResult(task=task, ok=bool(data.get("ok")),
                      at=_parse_time(data.get("at")) or updated,
                      message=str(data.get("message") or ""),
                      started_at=_parse_time(data.get("started_at")),
                      details=data.get("details") if isinstance(data.get("details"), dict)
                      else {},
                      last_ok_at=_parse_time(data.get("last_ok_at")))


def last_sync(session: Session) -> TaskResult | None:
    return last_task_result(session, "sync")


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


__all__ = [
    "ACTIVITY_KEY",
    "AGENT_KEY",
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
