"""What the web, the agent and the sync engine say to each other through the device
tables, whoever reads or writes them: the request kinds and sources, the state keys, and
the JSON document of a task result.

`ardoise.device` reads and writes these through SQLAlchemy (the web, the CLI, the sync
engine and pack tasks); the long-running agent does it with plain `sqlite3`
(`hardware.store`) to stay small. Both use the rules below, so they cannot disagree on
what a document means; tests/hardware/test_store.py checks they agree row for row.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from ardoise.errors import Invalid
from ardoise.i18n import N_

SYNC_NOW = "sync_now"
PACKS_NOW = "packs_now"  # install queued packs (USB) and look for new versions now
REQUEST_KINDS = (SYNC_NOW, PACKS_NOW)
REQUEST_SOURCES = ("web", "button", "cli", "schedule")
AGENT_KEY = "agent"
ACTIVITY_KEY = "activity"
KEEP_FINISHED_REQUESTS = 50
MESSAGE_MAX = 2000


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


def check_request(kind: str, source: str) -> None:
    """Refuse a request kind or source nothing knows."""
    if kind not in REQUEST_KINDS:
        raise Invalid(N_("Unknown device request %(kind)s."), kind=kind)
    if source not in REQUEST_SOURCES:
        raise Invalid(N_("Unknown source %(source)s for a device request."), source=source)


def task_state_key(task: str) -> str:
    return f"task:{task}"


def state_text(data: dict[str, Any]) -> str:
    """A state document as stored."""
    return json.dumps(data, sort_keys=True, default=str)


def parse_state_text(text: str) -> dict[str, Any] | None:
    """A stored state document, or None when it is not JSON (never a crash)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else {}


def new_task_result(previous: TaskResult | None, task: str, *, ok: bool, message: str,
                    details: dict[str, Any] | None, started_at: dt.datetime | None,
                    at: dt.datetime) -> tuple[TaskResult, dict[str, Any]]:
    """The result of a run and its document; the last success carries over a failure."""
    last_ok = at if ok else (previous.last_ok_at if previous else None)
    result = TaskResult(task=task, ok=ok, at=at, message=message[:MESSAGE_MAX],
                        started_at=started_at, details=details or {}, last_ok_at=last_ok)
    doc = {"ok": ok, "at": at.isoformat(), "message": result.message,
           "started_at": started_at.isoformat() if started_at else None,
           "last_ok_at": last_ok.isoformat() if last_ok else None,
           "details": result.details}
    return result, doc


def task_result_from_document(task: str, data: dict[str, Any],
                              updated: dt.datetime) -> TaskResult:
    details = data.get("details")
    return TaskResult(task=task, ok=bool(data.get("ok")),
                      at=parse_time(data.get("at")) or updated,
                      message=str(data.get("message") or ""),
                      started_at=parse_time(data.get("started_at")),
                      details=details if isinstance(details, dict) else {},
                      last_ok_at=parse_time(data.get("last_ok_at")))


def parse_time(value: object) -> dt.datetime | None:
    """An ISO time from a document (UTC when it carries no zone), or None."""
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
    "KEEP_FINISHED_REQUESTS",
    "MESSAGE_MAX",
    "PACKS_NOW",
    "REQUEST_KINDS",
    "REQUEST_SOURCES",
    "SYNC_NOW",
    "TaskResult",
    "check_request",
    "new_task_result",
    "parse_state_text",
    "parse_time",
    "state_text",
    "task_result_from_document",
    "task_state_key",
]
